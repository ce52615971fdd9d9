#!/usr/bin/env python3
"""Merges `gaprune compare` reports (report.json) into one markdown table of nDCG@10.

Rows are variants, columns datasets; with reports of several seeds each cell is mean ± sample standard
deviation (n seeds) and the share of the dense model's score. Standard library only.

usage: scripts/summarize-compare.py REPORT.json... [--metric ndcg@10]
"""
import json
import statistics
import sys
from collections import OrderedDict, defaultdict


def main(argv):
    metric = "ndcg@10"
    paths = []
    it = iter(argv)
    for a in it:
        if a == "--metric":
            metric = next(it)
        else:
            paths.append(a)
    if not paths:
        sys.exit(__doc__)
    values = defaultdict(list)          # (variant, dataset) -> [score per report]
    variants, datasets = OrderedDict(), OrderedDict()
    for p in paths:
        with open(p) as f:
            report = json.load(f)
        for e in report["evaluations"]:
            variants[e["variant"]] = None
            datasets[e["dataset"]] = None
            values[(e["variant"], e["dataset"])].append(e["metrics"][metric])
    print("| variant | " + " | ".join(f"{d} {metric}" for d in datasets) + " |")
    print("|---|" + "---:|" * len(datasets))
    for v in variants:
        cells = []
        for d in datasets:
            xs = values.get((v, d))
            if not xs:
                cells.append("")
                continue
            dense = values.get(("dense", d))
            share = f" ({100 * statistics.mean(xs) / statistics.mean(dense):.1f}%)" if dense and v != "dense" else ""
            if len(xs) > 1:
                cells.append(f"{statistics.mean(xs):.4f} ± {statistics.stdev(xs):.4f} (n={len(xs)}){share}")
            else:
                cells.append(f"{xs[0]:.4f}{share}")
        print(f"| {v} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main(sys.argv[1:])
