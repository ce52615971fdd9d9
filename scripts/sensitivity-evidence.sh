#!/usr/bin/env bash
# The hyperparameter sweep behind docs/results.md ("Sensitivity"): dai-calibrated around its default (q = 1,
# λ = 1, a = 0, κ = 0.01), one knob at a time, planned at SPARSITY of the MLP from the statistics that
# scripts/calibrated-dai-evidence.sh saved. Each run is skipped when its output exists.
#
# usage: scripts/sensitivity-evidence.sh OUT [MODEL] [DOMAINS] [SEEDS]
#   e.g. scripts/sensitivity-evidence.sh runs/i7 minilm "chem bio" "1"
# Environment: VARIANTS (comma-separated compare entries) overrides the sweep, and its runs get folders of their
# own (suffix TAG, default a checksum of VARIANTS), so that they never stand in for the full sweep's; SPARSITY
# (default 0.7); DENSE=none leaves out the dense evaluation (--no-dense; the statistics run has it), default
# "all".
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out="$(mkdir -p "$1" && cd "$1" && pwd)"
model="${2:-minilm}"
domains="${3:-chem bio}"
seeds="${4:-1}"
data="$root/../shared/data"
variants="${VARIANTS:-dai-calibrated:q=0.5,dai-calibrated:q=0.75,dai-calibrated:q=1.25,dai-calibrated:lambda=0,\
dai-calibrated:lambda=0.5,dai-calibrated:lambda=2,dai-calibrated:lambda=-0.5,dai-calibrated:a=0.25,\
dai-calibrated:a=0.5,dai-calibrated:rank1=1,dai-calibrated:floor=0.001,dai-calibrated:floor=0.1}"
sparsity="${SPARSITY:-0.7}"
suffix=""
if [ -n "${VARIANTS:-}" ]; then
  suffix="-${TAG:-$(printf %s "$VARIANTS" | cksum | cut -d' ' -f1)}"
fi
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
    run="$out/sensitivity-$model-$d-s$seed-mlp-$sparsity$suffix"
    [ -f "$run/report.json" ] || "$gaprune" compare --out "$run" --force --model "$model" \
      --general "$out/samples/minilm-general-512-s$seed.json" --domain "$out/samples/minilm-$d-512-s$seed.json" \
      --samples 0 --seed "$seed" --eval "$data/$d/dev" --statistics "$stats" --layers mlp \
      --sparsities "$sparsity" --methods "$variants" ${no_dense[@]+"${no_dense[@]}"} --quiet > "$run.md"
  done
done
echo "tables: $out/sensitivity-*.md"
