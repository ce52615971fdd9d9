#!/usr/bin/env bash
# The measurements behind docs/results.md ("Calibrated DAI"): k-means calibration samples per seed, the
# statistics of all linear layers saved once per model, domain and seed, then every method planned from the
# saved statistics at 50/60/70% of the MLP and 50% of all linear layers. Needs ../shared/data beside the
# checkout. Each step is skipped when its output exists, so the script resumes after an interruption.
#
# usage: scripts/calibrated-dai-evidence.sh OUT [MODELS] [DOMAINS] [SEEDS]
#   e.g. scripts/calibrated-dai-evidence.sh runs/i7 "minilm bge-small" "chem bio" "1 2 3"
# Environment:
#   METHODS        comma-separated compare entries: the methods compared (default: all seven)
#   TARGETS        space-separated LAYERS:SPARSITIES, default "mlp:0.5,0.6,0.7 linear:0.5": what is planned;
#                  set and empty, the statistics run only
#   STATS_METHODS  the methods the statistics run evaluates on the way, at 50% of all linear layers (default
#                  magnitude); METHODS there saves the separate "linear:0.5" target
#   DENSE          where the dense model is evaluated: "stats" (default; in the statistics run only, since it is the
#                  same in every run of one model and data set), "all" (every run) or "none"
#   TAG            appended to the compare folders' names, so that other METHODS at a target already run get
#                  folders of their own
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out="$(mkdir -p "$1" && cd "$1" && pwd)"
models="${2:-minilm bge-small}"
domains="${3:-chem bio}"
seeds="${4:-1 2 3}"
data="$root/../shared/data"
methods="${METHODS:-dai,dai-reference,dai-calibrated,magnitude,fisher-domain,fisher-general,random}"
targets="${TARGETS-mlp:0.5,0.6,0.7 linear:0.5}"
stats_methods="${STATS_METHODS:-magnitude}"
dense="${DENSE:-stats}"
case "$dense" in
  stats) stats_dense=() replan_dense=(--no-dense) ;;
  all) stats_dense=() replan_dense=() ;;
  none) stats_dense=(--no-dense) replan_dense=(--no-dense) ;;
  *) echo "DENSE must be stats, all or none, got \"$dense\"" >&2; exit 2 ;;
esac
tag="${TAG:+-$TAG}"
gaprune="$root/gaprune"
mkdir -p "$out/samples"

# Calibration sets: 512 triplets per set chosen by k-means on all-MiniLM-L6-v2's query embeddings (the same
# sample serves both models, so that the models are compared on the same data).
for seed in $seeds; do
  for set in general $domains; do
    f="$out/samples/minilm-$set-512-s$seed.json"
    [ -f "$f" ] || "$gaprune" sample --model minilm --input "$data/$set/train.json" --size 512 --seed "$seed" --out "$f"
  done
done

for model in $models; do
  for d in $domains; do
    for seed in $seeds; do
      common=(--model "$model" --general "$out/samples/minilm-general-512-s$seed.json"
        --domain "$out/samples/minilm-$d-512-s$seed.json" --samples 0 --seed "$seed" --eval "$data/$d/dev" --quiet)
      stats="$out/$model-$d-s$seed"
      # Statistics of all linear layers (a superset of the MLP's), saved for re-planning.
      [ -f "$stats/statistics.safetensors" ] || "$gaprune" compare --out "$stats" --force "${common[@]}" \
        --layers linear --sparsity 0.5 --methods "$stats_methods" --save-statistics ${stats_dense[@]+"${stats_dense[@]}"} \
        > "$stats.md"
      for target in $targets; do
        layers="${target%%:*}" sparsities="${target#*:}"
        # One folder per layer set and sparsity list, so a later TARGETS adds runs instead of skipping them.
        run="$out/compare-$model-$d-s$seed-$layers-${sparsities//,/-}$tag"
        [ -f "$run/report.json" ] || "$gaprune" compare --out "$run" --force "${common[@]}" \
          --statistics "$stats/statistics.safetensors" --layers "$layers" --sparsities "$sparsities" \
          --methods "$methods" ${replan_dense[@]+"${replan_dense[@]}"} > "$run.md"
      done
    done
  done
done
echo "tables: $out/compare-*.md"
