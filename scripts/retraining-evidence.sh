#!/usr/bin/env bash
# The retraining measurements behind docs/results.md ("Retraining at 70%"): from the statistics that
# scripts/calibrated-dai-evidence.sh saved, each method pruned at SPARSITY of the MLP and retrained for STEPS
# masked InfoNCE steps on the domain calibration set, and the dense model retrained the same way as the control
# (compare's "dense+retrain" row; with DENSE=none a run of its own at sparsity 0, which prunes nothing, so its
# "magnitude+retrain" row is the dense model's retraining). Each step is skipped when its output exists.
#
# usage: scripts/retraining-evidence.sh OUT [MODEL] [DOMAINS] [SEEDS]
#   e.g. scripts/retraining-evidence.sh runs/i7 minilm "chem bio" "1"
# Environment: METHODS (default magnitude,dai-calibrated), SPARSITY (default 0.7), STEPS (default 100);
# DENSE=none leaves out the dense evaluation (--no-dense; the statistics run has it), default "all".
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out="$(mkdir -p "$1" && cd "$1" && pwd)"
model="${2:-minilm}"
domains="${3:-chem bio}"
seeds="${4:-1}"
data="$root/../shared/data"
methods="${METHODS:-magnitude,dai-calibrated}"
sparsity="${SPARSITY:-0.7}"
steps="${STEPS:-100}"
gaprune="$root/gaprune"
case "${DENSE:-all}" in
  all) no_dense=() ;;
  none) no_dense=(--no-dense) ;;
  *) echo "DENSE must be all or none, got \"$DENSE\"" >&2; exit 2 ;;
esac

for d in $domains; do
  for seed in $seeds; do
    stats="$out/$model-$d-s$seed/statistics.safetensors"
    [ -f "$stats" ] || { echo "missing $stats: run scripts/calibrated-dai-evidence.sh first" >&2; exit 1; }
    common=(--model "$model" --general "$out/samples/minilm-general-512-s$seed.json"
      --domain "$out/samples/minilm-$d-512-s$seed.json" --samples 0 --seed "$seed" --eval "$data/$d/dev"
      --statistics "$stats" --layers mlp --retrain-steps "$steps" --quiet)
    run="$out/retrain-$model-$d-s$seed-mlp-$sparsity"
    [ -f "$run/report.json" ] || "$gaprune" compare --out "$run" --force "${common[@]}" --sparsities "$sparsity" \
      --methods "$methods" ${no_dense[@]+"${no_dense[@]}"} > "$run.md"
    control="$out/retrain-$model-$d-s$seed-dense"
    [ ${#no_dense[@]} -eq 0 ] || [ -f "$control/report.json" ] || "$gaprune" compare --out "$control" --force "${common[@]}" --sparsities 0 \
      --methods magnitude ${no_dense[@]+"${no_dense[@]}"} > "$control.md"
  done
done
echo "tables: $out/retrain-*.md"
