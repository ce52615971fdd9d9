#!/usr/bin/env bash
# Prints the sizing tables of docs/cluster.md ("Sizing a session") from `gaprune session estimate --json`:
# Qwen3-Embedding-0.6B, -4B and -8B (the config.json files beside this script), MLP candidates, run's defaults
# (512 samples per set in batches of 16, its batches per unit, dai-calibrated), workers with 80 GB devices.
# Needs jq. Run from the repository root: docs/sizing/table.sh
set -euo pipefail
gb() { jq -r "$1 / 1e9 | . * 100 | round / 100 | tostring"; }
models=(qwen3-embedding-0.6b qwen3-embedding-4b qwen3-embedding-8b)
echo "| model | weights | model (fp32) | MLP weights | partitions = passes per batch | units | shard bytes per unit | shard bytes in all | unit sums per worker | model + sums per worker | accumulator budget |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
for m in "${models[@]}"; do
  j=$(./gaprune session estimate --model "docs/sizing/$m" --workers 1 --device-memory 80GB --json)
  printf '| %s | %s | %s GB | %s | %s | %s | %s GB | %s GB | %s GB | %s GB | %s GB |\n' "$m" \
    "$(jq -r .parameters <<<"$j")" "$(gb .model_bytes <<<"$j")" "$(jq -r .candidate_weights <<<"$j")" \
    "$(jq -r .partitions <<<"$j")" "$(jq -r .units <<<"$j")" "$(gb .shard_bytes_per_unit <<<"$j")" \
    "$(gb .shard_bytes_total <<<"$j")" "$(gb .worker_accumulator_bytes <<<"$j")" \
    "$(gb .worker_memory_bytes <<<"$j")" "$(gb .accumulator_memory <<<"$j")"
done
echo
echo "| model | workers | units of the busiest worker | its batch passes | it sends | busiest node, 1 merger | busiest node, 1 merger per worker | accumulators per merger, 1 / 1 per worker | idle workers |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|"
for m in "${models[@]}"; do
  for n in 1 8 32; do
    one=$(./gaprune session estimate --model "docs/sizing/$m" --workers "$n" --device-memory 80GB --mergers 1 --json)
    many=$(./gaprune session estimate --model "docs/sizing/$m" --workers "$n" --device-memory 80GB --mergers "$n" --json)
    idle=$(jq -r '[.units, .workers] | if .[1] > .[0] then .[1] - .[0] else 0 end' <<<"$one")
    printf '| %s | %s | %s | %s | %s GB | %s GB | %s GB | %s GB / %s GB | %s |\n' "$m" "$n" \
      "$(jq -r .units_busiest_worker <<<"$one")" "$(jq -r .batch_passes_busiest_worker <<<"$one")" \
      "$(gb .shard_bytes_busiest_worker <<<"$one")" "$(gb .shard_bytes_busiest_node <<<"$one")" \
      "$(gb .shard_bytes_busiest_node <<<"$many")" "$(gb .merger_accumulator_bytes <<<"$one")" \
      "$(gb .merger_accumulator_bytes <<<"$many")" "$idle"
  done
done
