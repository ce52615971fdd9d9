#!/usr/bin/env bash
# The calibration-size measurements behind docs/results.md ("Calibration set size"): for each N, N + N
# triplets chosen by k-means (as the 512 of scripts/calibrated-dai-evidence.sh), the statistics of the MLP,
# and the Fisher-based methods planned at SPARSITY of the MLP. Magnitude does not read the statistics and is
# not repeated. Each step is skipped when its output exists, so the script resumes after an interruption.
#
# usage: scripts/calibration-size-evidence.sh OUT [MODEL] [DOMAINS] [SIZES] [SEED]
#   e.g. scripts/calibration-size-evidence.sh runs/i7 minilm "chem bio" "128 256 1024 2048 4096" 1
# Environment: METHODS (default dai-calibrated,dai,fisher-domain,fisher-general), SPARSITY (default 0.7).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out="$(mkdir -p "$1" && cd "$1" && pwd)"
model="${2:-minilm}"
domains="${3:-chem bio}"
sizes="${4:-128 256 1024 2048 4096}"
seed="${5:-1}"
data="$root/../shared/data"
methods="${METHODS:-dai-calibrated,dai,fisher-domain,fisher-general}"
sparsity="${SPARSITY:-0.7}"
gaprune="$root/gaprune"
mkdir -p "$out/samples"

for d in $domains; do
  for n in $sizes; do
    for set in general "$d"; do
      f="$out/samples/minilm-$set-$n-s$seed.json"
      [ -f "$f" ] || "$gaprune" sample --model minilm --input "$data/$set/train.json" --size "$n" --seed "$seed" \
        --out "$f"
    done
    run="$out/size-$model-$d-$n-s$seed-mlp-$sparsity"
    [ -f "$run/report.json" ] || "$gaprune" compare --out "$run" --force --model "$model" \
      --general "$out/samples/minilm-general-$n-s$seed.json" --domain "$out/samples/minilm-$d-$n-s$seed.json" \
      --samples 0 --seed "$seed" --eval "$data/$d/dev" --layers mlp --sparsities "$sparsity" \
      --methods "$methods" --save-statistics --quiet > "$run.md"
  done
done
echo "tables: $out/size-*.md"
