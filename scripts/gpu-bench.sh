#!/usr/bin/env bash
# On the GPU machine (device tool, `.gpu-deps` carried): builds the GPU preset
# and runs, at the Apriel-15B shape with random weights, the sections named in
# SECTIONS (default: all, which may not fit one 10-minute device call):
#   tests       the [cuda] tests
#   kernels     scan_bench: scan forward and backward against the reference
#   scoring     LOO, proxy and MMR on the llama reference; loo_bench prefix reuse
#   decoding    CUDA graphs against eager decoding and against HF transformers,
#               each decode step against its bandwidth floor and the cost model
#   throughput  generation under the paper's protocol (PROMPT_LEN, GEN_LEN, WAVES,
#               MAMBA_COUNTS change it), its JSON kept; a plan with the stored rates
#   training    train_bench: tokens/s and MFU of a 1B hybrid's distillation step
#               beside the transformer of its shape
#   demo        `hybridize run configs/demo-gpu.toml` (the demo on the GPU), timed
# Logs go to $OUT (or /tmp); figures for bench/RESULTS.md are printed.
set -uo pipefail
cd "$(dirname "$0")/.."
logs=${OUT:-/tmp}
echo "== $(date -u +%Y-%m-%dT%H:%MZ) $(nvidia-smi --query-gpu=name,memory.total --format=csv,noheader | head -1)"
cmake --preset gpu --fresh >"$logs/configure.log" 2>&1 || { tail -n 30 "$logs/configure.log"; exit 1; }
cmake --build --preset gpu -j "$(nproc)" --target hybridize hybridize_tests loo_bench scan_bench train_bench >"$logs/build.log" 2>&1 \
  || { grep -E "error" -A3 "$logs/build.log" | head -n 60; exit 1; }
echo "== built $(date -u +%H:%M:%S)"
sections=" ${SECTIONS:-tests kernels scoring decoding throughput training demo} "
want() { [[ "$sections" == *" $1 "* ]]; }
ref=build-gpu/tests/reference
mkdir -p "$ref" && cp -r .gpu-deps/reference/. "$ref/"
# Blocking launches make a kernel fault surface in the test that caused it;
# failures are printed without LibTorch's C++ stack frames (the full log is kept).
if want tests; then
CUDA_LAUNCH_BLOCKING=1 HYBRIDIZE_REFERENCE_DIR=$PWD/$ref timeout 300 build-gpu/tests/hybridize_tests "[cuda]" \
  --reporter compact >"$logs/cuda-tests.log" 2>&1
grep -vE '^ *(frame #|\(0x|[a-z_./-]*(libtorch|libc|hybridize_tests|python3)|ScalarType|lib/)' "$logs/cuda-tests.log" | tail -n 60
fi
if want kernels; then
echo "== scan kernels, forward and backward $(date -u +%H:%M:%S)"
timeout 240 build-gpu/bench/scan_bench 2>&1
fi
exe=build-gpu/src/hybridize
db=$logs/gpu-scores.db
if want scoring; then
for scorer in loo proxy mmr; do
  timeout 120 $exe score $scorer --model $ref/llama --db "$db" --device cuda --dtype bf16 --samples 64 \
    --mmr-steps 20 --d-state 8 --quiet 2>&1 | tail -n 6
done
echo "== loo prefix reuse, 15B shape $(date -u +%H:%M:%S)"
timeout 240 build-gpu/bench/loo_bench configs/apriel-15b-shape/config.json --batch 1 --tokens 4096 2>&1
fi
if want decoding; then
# Generation at the 15B shape (random bf16 weights), about 4 minutes in all.
# 1. CUDA graphs against eager decoding, each layout measured both ways in one
#    process, and the same teacher run through HF transformers' generate (static
#    cache, SDPA) at the same batch and lengths: one wave, as HF generates one batch.
echo "== generation: CUDA graphs and eager decoding; HF transformers $(date -u +%H:%M:%S)"
compare=$logs/bench-compare.txt
timeout 170 $exe bench --model configs/apriel-15b-shape --random-init --device cuda --dtype bf16 \
  --prompt-len 512 --gen-len 256 --batch 64 --waves 1 --mamba-counts 30,40 --also-eager 2>&1 | tee "$compare"
timeout 150 python3 bench/hf_generate.py --config configs/apriel-15b-shape --batch 64 --prompt-len 512 --gen-len 256 \
  >"$logs/hf-generate.txt" 2>&1
grep -E "^hf_generate:" "$logs/hf-generate.txt" || tail -n 20 "$logs/hf-generate.txt"
# The teacher's row of the first table: mamba batch requests prefill% prefill-tok/s decode total ...
ours_decode=$(awk '$1 == "0" { print $6; exit }' "$compare")
ours_total=$(awk '$1 == "0" { print $7; exit }' "$compare")
hf_decode=$(sed -n 's/^hf_generate:.* decode_tok_s=\([0-9.]*\).*/\1/p' "$logs/hf-generate.txt")
hf_total=$(sed -n 's/^hf_generate:.* total_tok_s=\([0-9.]*\).*/\1/p' "$logs/hf-generate.txt")
if [[ -n "$ours_total" && -n "$hf_total" ]]; then
  awk -v od="$ours_decode" -v hd="$hf_decode" -v ot="$ours_total" -v ht="$hf_total" 'BEGIN {
    printf "ours over HF transformers (teacher, batch 64, 512 + 256): decode %.2fx (%s / %s tok/s), total %.2fx (%s / %s tok/s)\n",
           od / hd, od, hd, ot / ht, ot, ht }'
fi
fi
if want throughput; then
# 2. The Apriel-H1 report's protocol (bench's defaults): 0.9 of the card, the
#    batch that memory allows, WAVES waves of PROMPT_LEN + GEN_LEN requests (EOS
#    ignored), generated tokens over wall time. The JSON lands in $logs, named
#    by date, GPU and lengths, for bench/results/; the device's measured rates
#    go into the store, and `plan` then predicts with them. 1024 + 4096 at three
#    layouts takes longer than one 10-minute device call: MAMBA_COUNTS and
#    WAVES=1 (equal lengths make every wave alike) split it.
gpu=$(nvidia-smi --query-gpu=name --format=csv,noheader | head -1 | tr -cs 'A-Za-z0-9' '-' | sed 's/-$//')
lengths="p${PROMPT_LEN:-1024}-g${GEN_LEN:-4096}"
json=$logs/bench-$(date -u +%Y-%m-%d)-$gpu-$lengths-mamba${MAMBA_COUNTS:-30,40}.json
json=${json//,/-}
echo "== generation throughput under the protocol, 15B shape, $lengths $(date -u +%H:%M:%S)"
timeout 560 $exe bench --model configs/apriel-15b-shape --random-init --device cuda --dtype bf16 \
  --prompt-len "${PROMPT_LEN:-1024}" --gen-len "${GEN_LEN:-4096}" --waves "${WAVES:-2}" \
  --mamba-counts "${MAMBA_COUNTS:-30,40}" --db "$db" --json >"$json" 2>"$logs/bench-protocol.log"
tail -n 3 "$logs/bench-protocol.log"
python3 - "$json" <<'SUMMARY'
import json, sys
rows = json.load(open(sys.argv[1]))
print(f"{'mamba':>5} {'batch':>6} {'requests':>8} {'step ms':>8} {'x floor':>8} {'prefill':>8} {'total tok/s':>12} {'speedup':>8}")
for r in rows:
    print(f"{r['mamba_layers']:>5} {r['batch']:>6} {r['requests']:>8} {1e3 * r['step_seconds']:>8.2f} "
          f"{r['step_seconds'] / r['floor_seconds']:>7.2f}x {100 * r['prefill_share']:>7.1f}% "
          f"{r['total_tokens_per_second']:>12.1f} {r['speedup']:>7.2f}x")
SUMMARY
echo "== plan with the stored rates"
timeout 60 $exe score proxy --model $ref/llama --db "$db" --device cuda \
  --dtype bf16 --samples 64 --quiet >/dev/null 2>&1  # a plan needs scores; a no-op after the scoring section
timeout 60 $exe plan --db "$db" --targets 1,2 --strategy proxy 2>&1 | grep -E "throughput predicted|error"
fi
if want training; then
echo "== training tokens/s and MFU, 1B shape, 2 x 4096 tokens $(date -u +%H:%M:%S)"
timeout 240 build-gpu/bench/train_bench --batch 2 --seq-len 4096 --steps 2 2>&1
fi
if want demo; then
echo "== the demo on the GPU $(date -u +%H:%M:%S)"
rm -rf build/demo-gpu
start=$(date +%s)
timeout 300 build-gpu/src/hybridize run configs/demo-gpu.toml >"$logs/demo-gpu.log" 2>&1
echo "demo-gpu: exit $?, $(( $(date +%s) - start )) s; $(tail -n 1 "$logs/demo-gpu.log")"
cp build/demo-gpu/report.html "$logs/demo-gpu-report.html" 2>/dev/null
fi
echo "== done $(date -u +%H:%M:%S)"
