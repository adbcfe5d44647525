#!/usr/bin/env bash
# Data-parallel distillation on 2 GPUs (device kind nvidia-h100-x2, `.gpu-deps` carried):
#   run(command="bash scripts/gpu-dist-bench.sh", kind="nvidia-h100-x2", carry=[".gpu-deps"])
# Builds the GPU preset, makes a ~110M-parameter teacher (hybridize train, one
# step: the weights only need a shape) and a random token corpus, plans one
# stage, and distils it on 1 GPU and on 2 GPUs (NCCL, launched like torchrun by
# tests/cli/launch.py) with the same global batch, plain and with ZeRO-1
# sharded moments. Prints tokens/s of each, the scaling ratio, and the largest
# weight difference between the 1- and 2-GPU students; then the wall time of
# `score mmr` (all 8 layers' probes) on 1 and on 2 GPUs and the speed-up.
# Idempotent: every run starts from a fresh work folder under $OUT (or /tmp).
set -uo pipefail
cd "$(dirname "$0")/.."
# The device machine's rule: NVLink multicast stays off, also for launched ranks.
export NCCL_NVLS_ENABLE=0 TORCH_SYMM_MEM_DISABLE_MULTICAST=1 NVSHMEM_DISABLE_NVLS=1
logs=${OUT:-/tmp}
echo "== $(date -u +%Y-%m-%dT%H:%MZ) $(nvidia-smi --query-gpu=name --format=csv,noheader | sort | uniq -c | xargs)"
[ "$(nvidia-smi -L | wc -l)" -ge 2 ] || { echo "needs 2 GPUs"; exit 1; }
cmake --preset gpu >"$logs/configure.log" 2>&1 || { tail -n 30 "$logs/configure.log"; exit 1; }
grep "NCCL process groups" "$logs/configure.log"
cmake --build --preset gpu -j "$(nproc)" --target hybridize >"$logs/build.log" 2>&1 \
  || { grep -E "error" -A3 "$logs/build.log" | head -n 60; exit 1; }
echo "== built $(date -u +%H:%M:%S)"
exe=$PWD/build-gpu/src/hybridize
work=$logs/dist-bench
rm -rf "$work" && mkdir -p "$work"
timeout 300 $exe train --out "$work/teacher" --layers 8 --hidden 1024 --heads 16 --kv-heads 4 --intermediate 4096 \
  --steps 1 --warmup 0 --batch 2 --train-problems 16 --validation-problems 2 >"$work/train.log" 2>&1 \
  || { tail -n 5 "$work/train.log"; exit 1; }
# Random token ids as a .npy corpus (no numpy needed).
python3 - "$work" <<'PY'
import array, json, random, sys
work = sys.argv[1]
vocab = json.load(open(f"{work}/teacher/config.json"))["vocab_size"]
random.seed(0)
tokens = array.array("H", (random.randrange(vocab) for _ in range(1100 * 1024)))
header = "{'descr': '<u2', 'fortran_order': False, 'shape': (%d,), }" % len(tokens)
header += " " * (63 - (10 + len(header)) % 64) + "\n"
with open(f"{work}/tokens.npy", "wb") as out:
    out.write(b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little") + header.encode() + tokens.tobytes())
PY
data=(--data "$work/tokens.npy" --seq-len 1024)
timeout 300 $exe score proxy --model "$work/teacher" --db "$work/planned.db" --device cuda --samples 16 "${data[@]}" \
  --quiet >/dev/null || exit 1
timeout 60 $exe plan --db "$work/planned.db" --targets 4 --strategy uniform | head -n 4
steps=${STEPS:-40} batch=${BATCH:-16}
distill() {  # distill NAME RANKS EXTRA...
  local name=$1 ranks=$2; shift 2
  cp "$work/planned.db" "$work/$name.db"
  local command=($exe distill --db "$work/$name.db" --plan 1 --out "$work/$name" --device cuda --dtype bf16 "${data[@]}"
                 --train-samples 1024 --eval-samples 16 --steps "$steps" --batch "$batch" --train all
                 --checkpoint-every 100000 --json --quiet "$@")
  if [ "$ranks" -gt 1 ]; then command=(python3 tests/cli/launch.py --timeout 500 "$ranks" "${command[@]}"); fi
  timeout 550 "${command[@]}" >"$work/$name.json" 2>"$work/$name.log" || { tail -n 20 "$work/$name.log"; return 1; }
  python3 -c 'import json, sys; m = json.load(open(sys.argv[1]))[0]["metrics"]; t, s = m["tokens"], m["seconds"]
print("%22s: %d tokens in %.1f s = %.0f tokens/s, final loss %.5f" % (sys.argv[2], t, s, t / s, m["curve"][-1]))' \
    "$work/$name.json" "$name"
}
echo "== distil one stage: $steps steps of $batch x 1024 tokens (global batch), students fp32, teacher bf16"
distill one-gpu 1 && distill two-gpus 2 && distill two-gpus-zero1 2 --shard-optimizer || exit 1
python3 - "$work" <<'PY'
import json, struct, sys
import torch
work = sys.argv[1]
def rate(name):
    m = json.load(open(f"{work}/{name}.json"))[0]["metrics"]
    return m["tokens"] / m["seconds"]
def tensors(name):  # fp32 tensors of a safetensors file, read with torch alone
    blob = bytearray(open(f"{work}/{name}/plan-1/stage-0/model/model.safetensors", "rb").read())
    size = struct.unpack("<Q", blob[:8])[0]
    header = json.loads(blob[8:8 + size])
    header.pop("__metadata__", None)
    return {key: torch.frombuffer(blob, dtype=torch.float32, offset=8 + size + info["data_offsets"][0],
                                  count=(info["data_offsets"][1] - info["data_offsets"][0]) // 4)
            for key, info in header.items() if info["dtype"] == "F32"}
one = rate("one-gpu")
for name in ("two-gpus", "two-gpus-zero1"):
    print(f"scaling {name} / one-gpu: {rate(name) / one:.2f}x (ideal 2.00x)")
a, b = tensors("one-gpu"), tensors("two-gpus")
worst = max((a[k] - b[k]).abs().max().item() for k in a)
print(f"max |weight difference| 1 GPU vs 2 GPUs: {worst:.3g}")
PY
echo "== score mmr, 8 probes of ${MMR_STEPS:=30} steps, on 1 and on 2 GPUs"
mmr() {  # mmr RANKS: prints the wall seconds
  local command=($exe score mmr --model "$work/teacher" --db "$work/mmr-$1.db" --device cuda --dtype bf16 "${data[@]}"
                 --samples 16 --mmr-steps "$MMR_STEPS" --mmr-train-samples 64 --quiet)
  if [ "$1" -gt 1 ]; then command=(python3 tests/cli/launch.py --timeout 500 "$1" "${command[@]}"); fi
  local start=$(date +%s.%N)
  timeout 550 "${command[@]}" >"$work/mmr-$1.out" 2>"$work/mmr-$1.log" || { tail -n 20 "$work/mmr-$1.log" >&2; return 1; }
  python3 -c "import sys; print(f'{float(sys.argv[1]) - float(sys.argv[2]):.1f}')" "$(date +%s.%N)" "$start"
}
one=$(mmr 1) && two=$(mmr 2) || exit 1
echo "score mmr: 1 GPU ${one} s, 2 GPUs ${two} s, speed-up $(python3 -c "import sys; print(f'{float(sys.argv[1]) / float(sys.argv[2]):.2f}')" "$one" "$two")x (ideal 2.00x)"
cmp <(tail -n +2 "$work/mmr-1.out" | awk '{print $1, $2, $3}') <(tail -n +2 "$work/mmr-2.out" | awk '{print $1, $2, $3}') \
  && echo "score mmr: the same ranking and distill_loss on 1 and 2 GPUs" \
  || echo "score mmr: the printed rankings differ (see $work/mmr-*.out; GPU kernels need not be bit-deterministic)"
echo "== done $(date -u +%H:%M:%S)"
