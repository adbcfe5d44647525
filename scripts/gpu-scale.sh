#!/usr/bin/env bash
# The tool at the Apriel-15B shape (50 layers, hidden 5120, GQA 32/8, vocab
# 131K, bf16, random weights) on a 2-GPU machine (device kind nvidia-h200-x2,
# `.gpu-deps` carried), in PHASES that each fit a 10-minute device call; the
# work folder (build-gpu/scale) stays on the warm machine between calls:
#   build    the GPU preset's hybridize
#   teacher  `hybridize random-teacher` (30 GB of safetensors) and a corpus of random token ids
#   score    LOO over 64 x 4096 = 256K tokens on GPU 0 and MMR probes of all 50 layers on
#            GPU 1, side by side; both stop when the call's CALL_SECONDS (575) run out, and the
#            next call's score phase resumes them from the store
#   quickscore  LOO on 4 samples only (run loo-quick): scores to plan from on a fresh machine
#   report   per-layer seconds and peak memory of both runs, from the store
#   distill  a plan's first stage (25 Mamba layers, the paper's first ratio) on GPUS GPUs
#            (2: the sharded optimizer, 4 samples a rank; 1: two micro-batches of 4), the same
#            8 x 4096 tokens a step: tokens/s, model FLOP utilisation, memory per GPU
#   clean    removes the work folder
# SHAPE, SEQ_LEN, TARGET (Mamba layers of the stage), KEEP and DEVICE change the
# model and the run; WORK and HYBRIDIZE the folder and the executable (a CPU
# rehearsal: SHAPE=a small config dir DEVICE=cpu HYBRIDIZE=build/src/hybridize ...).
#   run(command="PHASES='build teacher score' bash scripts/gpu-scale.sh", kind="nvidia-h200-x2", carry=[".gpu-deps"])
set -uo pipefail
cd "$(dirname "$0")/.."
export NCCL_NVLS_ENABLE=0 TORCH_SYMM_MEM_DISABLE_MULTICAST=1 NVSHMEM_DISABLE_NVLS=1
logs=${OUT:-/tmp}
work=${WORK:-$PWD/build-gpu/scale}
exe=${HYBRIDIZE:-$PWD/build-gpu/src/hybridize}
db=$work/scale.db
phases=" ${PHASES:-build teacher score report} "
want() { [[ "$phases" == *" $1 "* ]]; }
stamp() { echo "== $1 $(date -u +%H:%M:%S)"; }
echo "== $(date -u +%Y-%m-%dT%H:%MZ) $(nvidia-smi --query-gpu=name,memory.total --format=csv,noheader | sort | uniq -c | xargs)"
mkdir -p "$work"
df -h "$work" | tail -n 1
shape=${SHAPE:-configs/apriel-15b-shape} seq_len=${SEQ_LEN:-4096} device=${DEVICE:-cuda}
data=(--data "$work/tokens.npy" --seq-len "$seq_len")

if want build; then
  cmake --preset gpu >"$logs/configure.log" 2>&1 || { tail -n 30 "$logs/configure.log"; exit 1; }
  cmake --build --preset gpu -j "$(nproc)" --target hybridize >"$logs/build.log" 2>&1 \
    || { grep -E "error" -A3 "$logs/build.log" | head -n 60; exit 1; }
  stamp built
fi

if want teacher && [ ! -f "$work/teacher/config.json" ]; then
  start=$(date +%s)
  timeout 400 $exe random-teacher --config "$shape" --out "$work/teacher" --dtype bf16 --device "$device" || exit 1
  echo "random-teacher: $(( $(date +%s) - start )) s; $(du -sh "$work/teacher" | cut -f1)"
  # 400 samples of random ids (uint32): scores use the first 64, the stage the rest.
  python3 - "$work/tokens.npy" "$work/teacher/config.json" "$seq_len" <<'PY'
import array, json, random, sys
random.seed(0)
vocab = json.load(open(sys.argv[2]))["vocab_size"]
tokens = array.array("I", (random.randrange(vocab) for _ in range(400 * int(sys.argv[3]))))
header = "{'descr': '<u4', 'fortran_order': False, 'shape': (%d,), }" % len(tokens)
header += " " * (63 - (10 + len(header)) % 64) + "\n"
with open(sys.argv[1], "wb") as out:
    out.write(b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little") + header.encode() + tokens.tobytes())
PY
  stamp "teacher and corpus ready"
fi

if want score; then
  # Prefix reuse, batches of 4 x 4096 tokens; every batch's values are stored as it finishes.
  limit=$(( ${CALL_SECONDS:-575} - SECONDS ))
  (CUDA_VISIBLE_DEVICES=0 timeout "$limit" $exe score loo --model "$work/teacher" --db "$db" --run loo-256k \
     --device "$device" --dtype bf16 "${data[@]}" --samples 64 --batch-size 4 >>"$work/loo.log" 2>&1
   echo "loo: exit $? after $SECONDS s of this call" >>"$work/loo.log") &
  # One probe per layer: 10 steps of 1 x 4096 tokens, then 4 held-out samples.
  sleep 45  # the LOO run registers the model and data first (one writer at a time is the store's rule anyway)
  (CUDA_VISIBLE_DEVICES=1 timeout "$(( limit - 45 ))" $exe score mmr --model "$work/teacher" --db "$db" --run mmr-probes \
     --device "$device" --dtype bf16 "${data[@]}" --samples 4 --batch-size 1 --mmr-steps 10 --mmr-batch-size 1 \
     --mmr-train-samples 8 --mmr-warmup 2 >>"$work/mmr.log" 2>&1
   echo "mmr: exit $? after $SECONDS s of this call" >>"$work/mmr.log") &
  wait
  tail -n 4 "$work/loo.log"; tail -n 4 "$work/mmr.log"
  stamp "score phase over"
fi

if want quickscore; then
  timeout 300 $exe score loo --model "$work/teacher" --db "$db" --run loo-quick --device "$device" --dtype bf16 \
    "${data[@]}" --samples 4 --batch-size 4 --quiet 2>&1 | tail -n 2
  stamp "quick LOO scored"
fi

if want report; then
  python3 - "$db" <<'PY'
import sqlite3, statistics, sys
db = sqlite3.connect(sys.argv[1])
for run, in db.execute("SELECT name FROM runs ORDER BY id"):
    rows = db.execute("SELECT p.layer, p.status, p.seconds, p.peak_memory_bytes, p.samples FROM probes p "
                      "JOIN runs r ON r.id = p.run_id WHERE r.name = ? ORDER BY p.layer", (run,)).fetchall()
    done = [r for r in rows if r[1] == "done"]
    seconds = [r[2] for r in done]
    peaks = [r[3] for r in rows if r[3]]
    print(f"{run}: {len(done)}/{len(rows)} layers done, {sum(r[2] for r in rows):.1f} s stored in all"
          + (f"; per layer {min(seconds):.1f} / {statistics.median(seconds):.1f} / {max(seconds):.1f} s (min/median/max)"
             if seconds else "")
          + (f"; peak GPU memory {max(peaks) / 2**30:.1f} GiB" if peaks else ""))
    metric = {"loo-256k": "kl", "mmr-probes": "distill_loss"}.get(run)
    ranked = db.execute("SELECT p.layer, m.value FROM probes p JOIN runs r ON r.id = p.run_id JOIN probe_metrics m "
                        "ON m.probe_id = p.id WHERE r.name = ? AND m.metric = ? ORDER BY m.value", (run, metric)).fetchall()
    if ranked:
        print(f"  {metric}, lowest first: " + ", ".join(f"{layer}: {value:.4g}" for layer, value in ranked[:6])
              + " ... " + ", ".join(f"{layer}: {value:.4g}" for layer, value in ranked[-3:]))
PY
  grep -hE "^loo: exit|^mmr: exit" "$work/loo.log" "$work/mmr.log" 2>/dev/null
fi

if want distill; then
  [ -f "$db" ] || { echo "distill: no store; run the score phase first"; exit 1; }
  timeout 60 $exe plan --db "$db" --run "${RUN:-loo-256k}" --targets "${TARGET:-25}" --strategy loo --keep "${KEEP:-0,49}" \
    >"$work/plan.log" 2>&1 || { tail -n 3 "$work/plan.log"; exit 1; }
  head -n 3 "$work/plan.log"
  plan=$(python3 -c 'import sqlite3, sys; print(sqlite3.connect(sys.argv[1]).execute("SELECT max(id) FROM plans").fetchone()[0])' "$db")
  # 8 samples x 4096 tokens a step on either count; rank 0 writes the stage's checkpoint and model at the end.
  gpus=${GPUS:-2}
  if [ "$gpus" = 1 ]; then split=(--batch 4 --accumulation 2); else split=(--batch 8 --shard-optimizer); fi
  out=$work/distill
  avail=$(df --output=avail -BG "$work" | tail -n 1 | tr -dc 0-9)
  if [ "$avail" -lt 100 ]; then out=/dev/shm/scale-distill; echo "distill: ${avail} GB free on disk; the stage writes to $out"; fi
  rm -rf "$out"
  start=$(date +%s)
  limit=$(( ${CALL_SECONDS:-575} - SECONDS ))
  timeout "$limit" python3 tests/cli/launch.py --timeout "$(( limit - 5 ))" "$gpus" $exe distill --db "$db" --plan "$plan" \
    --stages 0 --out "$out" --device "$device" --dtype bf16 "${data[@]}" --train-samples 384 --eval-samples 8 \
    --steps "${STEPS:-10}" "${split[@]}" --warmup 2 --train mixers --activation-checkpointing --checkpoint-every 100000 --json \
    >"$work/distill.json" 2>"$work/distill.log"
  echo "distill: exit $?, $(( $(date +%s) - start )) s"
  grep -E "tokens/s|error|Error|out of memory" "$work/distill.log" | head -n 10
  python3 - "$work/distill.json" "$work/teacher/config.json" "$seq_len" "${TARGET:-25}" "$gpus" <<'PY'
import json, sys
# Model FLOPs per token of a stage that trains the mixers only: the teacher's
# forward, the student's forward, the gradient with respect to every layer's
# input (it flows through frozen layers too) and the trained weights' gradients;
# activation checkpointing's recomputation is not counted (it is overhead).
c = json.load(open(sys.argv[2]))
h, L, inter, V, heads, kv = (c[k] for k in ("hidden_size", "num_hidden_layers", "intermediate_size", "vocab_size",
                                            "num_attention_heads", "num_key_value_heads"))
hd, T, mamba_layers, gpus = c.get("head_dim") or h // heads, int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
attention = h * heads * hd * 2 + h * kv * hd * 2
mlp = 3 * h * inter
d_inner, d_xb, dt_rank = heads * hd, kv * hd, (h + 15) // 16
mamba = h * (2 * d_inner + 2 * d_xb + dt_rank) + dt_rank * d_inner + d_inner * h
attn_scores = 2 * T * heads * hd  # causal QK^T and AV, forward, per token per attention layer
teacher = 2 * (L * (attention + mlp) + V * h) + L * attn_scores
student_matmul = (L - mamba_layers) * attention + mamba_layers * mamba + L * mlp + V * h
student_forward = 2 * student_matmul + (L - mamba_layers) * attn_scores
flops = teacher + 2 * student_forward + 2 * mamba_layers * mamba
try:
    metrics = json.load(open(sys.argv[1]))[0]["metrics"]
except Exception as error:
    sys.exit(f"distill: no result ({error})")
rate = metrics["train_tokens_per_second"]
print(f"stage {metrics.get('tokens')} tokens; {rate:.0f} tokens/s over the steps on {gpus} GPU(s); "
      f"{flops / 1e9:.1f} GFLOP per token; MFU {100 * rate * flops / (gpus * 989e12):.1f}% of {gpus} x 989 TFLOP/s; "
      + (f"rank 0 peak memory {metrics['peak_memory_bytes'] / 2**30:.1f} GiB; " if metrics.get("peak_memory_bytes") else "")
      + f"stage wall {metrics['seconds']:.0f} s")
PY
  du -sh "$out"/plan-*/stage-0/* 2>/dev/null
fi

if want clean; then rm -rf "$work" /dev/shm/scale-distill; fi
stamp done
