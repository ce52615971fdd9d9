#!/usr/bin/env python3
"""Pivots `gaprune compare` reports (report.json) into the tables of docs/results.md.

One table per model and layer set; rows are methods (a compare entry's label, `+retrain` kept), columns the
data sets at each sparsity. A cell is the mean ± sample standard deviation of nDCG@10 over the reports that
have it (the seeds), with the share of the dense model's mean on that data set; `[n=K]` marks a cell with
fewer reports than the others. `--seeds` adds each report's value, labelled with its seed. Standard library
only.

`--sparsity P[,P...]` keeps the columns at those percents only. A cell that several reports of one seed have
(the dense row of every run, a method evaluated twice) counts once; two different values warn. The dense
model's score is taken from any report of the same model and data set (it does not depend on the layers, the
sparsity or the statistics), so reports made with `--no-dense` get their share of dense too.

usage: scripts/results-table.py REPORT.json... [--metric ndcg@10] [--seeds] [--sparsity P[,P...]]
"""
import argparse
import json
import re
import statistics
import sys
from collections import OrderedDict, defaultdict

LABEL = re.compile(r"^(?P<method>.*?)@(?P<percent>\d+)(?P<rest>\+retrain)?$")


def split_variant(variant, requested):
    """(method, sparsity in percent or None for dense) of a report's variant label."""
    if variant == "dense":
        return "dense", None
    m = LABEL.match(variant)
    if m:
        return m.group("method") + (m.group("rest") or ""), int(m.group("percent"))
    # a compare with one sparsity labels variants without it: the report's requested sparsity is the one
    return variant, round(requested * 100)


def fmt(xs, dense, n_max, seeds):
    mean = statistics.mean(x for _, x in xs)
    cell = f"{mean:.4f}"
    if len(xs) > 1:
        cell += f" ± {statistics.stdev(x for _, x in xs):.4f}"
    if dense:
        cell += f" ({100 * mean / dense:.0f}%)"
    if len(xs) < n_max:
        cell += f" [n={len(xs)}]"
    if seeds:
        cell += "<br>" + ", ".join(f"s{s} {x:.4f}" for s, x in xs)
    return cell


def percents(value):
    """--sparsity's value: a comma-separated list of whole percents."""
    return {int(p) for p in value.split(",")}


def main(argv):
    parser = argparse.ArgumentParser(prog="scripts/results-table.py", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("paths", nargs="+", metavar="REPORT.json")
    parser.add_argument("--metric", default="ndcg@10")
    parser.add_argument("--seeds", action="store_true")
    parser.add_argument("--sparsity", type=percents, metavar="P[,P...]")
    args = parser.parse_args(argv)
    metric, seeds, only, paths = args.metric, args.seeds, args.sparsity, args.paths
    # (model, layers) -> (method, dataset, sparsity) -> seed -> (value, report); the dense model's scores are kept
    # per model and data set instead, since they do not depend on the layers, the sparsity or the statistics
    tables = OrderedDict()
    dense_cells = defaultdict(lambda: defaultdict(OrderedDict))  # model -> ("dense", dataset) -> seed -> ...

    def add(cells, cell, seed, value, path):
        # One value per seed: a cell that two reports of one seed share (dense in every run, a method in the
        # statistics run and in a re-plan) is the same computation and counts once.
        earlier = cells[cell].get(seed)
        if earlier is None:
            cells[cell][seed] = (value, path)
        elif abs(earlier[0] - value) > 1e-9:
            print(f"results-table.py: warning: {cell[0]} on {cell[1]} seed {seed} is {earlier[0]:.4f} "
                  f"in {earlier[1]} and {value:.4f} in {path}; the first is kept", file=sys.stderr)

    for p in paths:
        try:
            with open(p) as f:
                report = json.load(f)
        except (OSError, ValueError) as e:
            sys.exit(f"results-table.py: cannot read the report {p}: {e}")
        conf = report["configuration"]
        found = OrderedDict()
        for e in report["evaluations"]:
            method, percent = split_variant(e["variant"], report["sparsityRequested"])
            cell = (method, e["dataset"], percent)
            if method == "dense":
                add(dense_cells[conf["model"]], ("dense", e["dataset"]), conf["seed"], e["metrics"][metric], p)
            elif cell not in found and (only is None or percent in only):
                found[cell] = e["metrics"][metric]
        if found:
            cells = tables.setdefault((conf["model"], conf["layers"]), defaultdict(OrderedDict))
            for cell, value in found.items():
                add(cells, cell, conf["seed"], value, p)

    def values(by_seed):
        return [(seed, v) for seed, (v, _) in by_seed.items()]

    for (model, layers), by_cell in tables.items():
        cells = {cell: values(by_seed) for cell, by_seed in by_cell.items()}
        columns = sorted({(d, s) for _, d, s in cells})
        dense_rows = {d: values(dense_cells[model][("dense", d)]) for d, _ in columns
                      if ("dense", d) in dense_cells[model]}
        dense = {d: statistics.mean(x for _, x in xs) for d, xs in dense_rows.items()}
        methods = list(OrderedDict.fromkeys(m for m, _, _ in cells))
        n_max = max(len(xs) for xs in cells.values())
        print(f"\n### {model}, {layers}: {metric}\n")
        print("| method | " + " | ".join(f"{d} {s}%" for d, s in columns) + " |")
        print("|---|" + "---:|" * len(columns))
        if dense_rows:
            row = [fmt(dense_rows[d], None, n_max, seeds) if d in dense_rows else "" for d, _ in columns]
            print("| dense | " + " | ".join(row) + " |")
        for m in methods:
            row = [fmt(cells[(m, d, s)], dense.get(d), n_max, seeds) if (m, d, s) in cells else ""
                   for d, s in columns]
            print(f"| {m} | " + " | ".join(row) + " |")


if __name__ == "__main__":
    main(sys.argv[1:])
