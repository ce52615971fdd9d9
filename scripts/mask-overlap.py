#!/usr/bin/env python3
"""Overlap of the pruned sets of several masks files (U8 safetensors, 0 = pruned) written by compare.

For each pair (a, b): the share of a's pruned weights that b prunes too. Needs numpy.

usage: scripts/mask-overlap.py MASKS_DIR NAME[,NAME...]   (NAME = file name without .safetensors)
"""
import itertools
import json
import struct
import sys

import numpy as np


def load(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    return {k: np.frombuffer(data[v["data_offsets"][0]:v["data_offsets"][1]], dtype=np.uint8) == 0
            for k, v in header.items() if k != "__metadata__"}


def main(argv):
    if len(argv) != 2:
        sys.exit(__doc__)
    names = argv[1].split(",")
    masks = {m: load(f"{argv[0]}/{m}.safetensors") for m in names}
    for a, b in itertools.combinations(names, 2):
        both = sum(int(np.count_nonzero(masks[a][k] & masks[b][k])) for k in masks[a])
        pruned = sum(int(np.count_nonzero(masks[a][k])) for k in masks[a])
        print(f"{a:32s} vs {b:32s}: {100 * both / pruned:6.2f}% of the pruned weights shared")


if __name__ == "__main__":
    main(sys.argv[1:])
