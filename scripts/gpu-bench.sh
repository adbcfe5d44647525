#!/usr/bin/env bash
# On the GPU machine (device tool, `.gpu-deps` carried): builds the GPU preset,
# runs the CUDA tests, scores the llama reference on CUDA in bf16 (LOO, proxy,
# MMR), and runs the benchmarks at the Apriel-15B shape with random weights:
# LOO prefix reuse against recomputation, and generation throughput of the
# teacher and hybrids; then training throughput and MFU of a 1B hybrid's
# distillation step beside the transformer of its shape. Logs go to $OUT (or
# /tmp); figures for bench/RESULTS.md are printed.
set -uo pipefail
cd "$(dirname "$0")/.."
logs=${OUT:-/tmp}
echo "== $(date -u +%Y-%m-%dT%H:%MZ) $(nvidia-smi --query-gpu=name,memory.total --format=csv,noheader | head -1)"
cmake --preset gpu --fresh >"$logs/configure.log" 2>&1 || { tail -n 30 "$logs/configure.log"; exit 1; }
cmake --build --preset gpu -j "$(nproc)" --target hybridize hybridize_tests loo_bench train_bench >"$logs/build.log" 2>&1 \
  || { grep -E "error" -A3 "$logs/build.log" | head -n 60; exit 1; }
echo "== built $(date -u +%H:%M:%S)"
ref=build-gpu/tests/reference
mkdir -p "$ref" && cp -r .gpu-deps/reference/. "$ref/"
HYBRIDIZE_REFERENCE_DIR=$PWD/$ref timeout 120 build-gpu/tests/hybridize_tests "[cuda]" 2>&1 | tail -n 3
exe=build-gpu/src/hybridize
db=$logs/gpu-scores.db
for scorer in loo proxy mmr; do
  timeout 120 $exe score $scorer --model $ref/llama --db "$db" --device cuda --dtype bf16 --samples 64 \
    --mmr-steps 20 --d-state 8 --quiet 2>&1 | tail -n 6
done
echo "== loo prefix reuse, 15B shape $(date -u +%H:%M:%S)"
timeout 240 build-gpu/bench/loo_bench configs/apriel-15b-shape/config.json --batch 1 --tokens 4096 2>&1
echo "== generation throughput, 15B shape $(date -u +%H:%M:%S)"
timeout 400 $exe bench --model configs/apriel-15b-shape --random-init --device cuda --dtype bf16 \
  --prompt-len "${PROMPT_LEN:-1024}" --gen-len "${GEN_LEN:-256}" --batch auto --memory-budget 70 \
  --mamba-counts 25,30,34,37,40 2>&1
echo "== training tokens/s and MFU, 1B shape, 2 x 4096 tokens $(date -u +%H:%M:%S)"
timeout 240 build-gpu/bench/train_bench --batch 2 --seq-len 4096 --steps 2 2>&1
echo "== done $(date -u +%H:%M:%S)"
