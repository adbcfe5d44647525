#!/usr/bin/env bash
# Bad input through the real executable: each case must exit with status 1 and
# end with exactly one line "hybridize: error: ..." naming the problem (warnings
# may come before it). A crash (a signal) or a hang (timeout) fails the case.
# usage: bad_input.sh HYBRIDIZE REFERENCE_DIR WORK_DIR PYTHON
set -u
exe=$1 reference=$2 work=$3 python=$4
rm -rf "$work" && mkdir -p "$work"
failures=0 passed=0

expect_error() {  # expect_error NAME EXPECTED_TEXT ARGS...
  local name=$1 expected=$2; shift 2
  local stderr rc
  stderr=$(timeout 60 "$exe" "$@" 2>&1 >/dev/null); rc=$?
  if [ "$rc" -ne 1 ]; then
    echo "FAIL $name: exit status $rc (want 1): $stderr"; failures=$((failures + 1)); return
  fi
  local errors last
  errors=$(printf '%s\n' "$stderr" | grep -c '^hybridize: error: ')
  last=$(printf '%s\n' "$stderr" | tail -n 1)
  if [ "$errors" -ne 1 ] || [[ "$last" != "hybridize: error: "* ]]; then
    echo "FAIL $name: want one 'hybridize: error:' line, got: $stderr"; failures=$((failures + 1)); return
  fi
  if [[ "$last" != *"$expected"* ]]; then
    echo "FAIL $name: message lacks '$expected': $last"; failures=$((failures + 1)); return
  fi
  echo "ok   $name: $last"; passed=$((passed + 1))
}

copy() { cp -r "$reference/$1" "$work/$2"; echo "$work/$2"; }
edit_config() {  # edit_config DIR KEY JSON_VALUE
  "$python" -c 'import json,sys; p=sys.argv[1]+"/config.json"; c=json.load(open(p)); c[sys.argv[2]]=json.loads(sys.argv[3]); json.dump(c,open(p,"w"))' "$@"
}

# The healthy model inspects cleanly: the cases below fail for their defect alone.
if ! "$exe" inspect "$reference/llama" >/dev/null; then echo "FAIL healthy model does not inspect"; exit 1; fi

expect_error "no such path" "no such model directory" inspect "$work/absent"

d=$(copy mistral truncated); truncate -s 100000 "$d/model.safetensors"
expect_error "truncated file" "run past the end of the data section" inspect "$d"

d=$(copy mistral header-past-end); printf '\xff\xff\x00\x00\x00\x00\x00\x00{}' > "$d/model.safetensors"
expect_error "header length past end" "header length 65535 runs past the end of the file" inspect "$d"

d=$(copy mistral overlapping)
"$python" - "$d/model.safetensors" <<'PY'
import json, struct, sys
path = sys.argv[1]
raw = open(path, "rb").read()
n = struct.unpack("<Q", raw[:8])[0]
header = json.loads(raw[8:8 + n])
names = sorted((k for k in header if k != "__metadata__"), key=lambda k: header[k]["data_offsets"][0])
first, second = header[names[0]], header[names[1]]
size = second["data_offsets"][1] - second["data_offsets"][0]
second["data_offsets"] = [first["data_offsets"][0], first["data_offsets"][0] + size]
text = json.dumps(header).encode()
text += b" " * ((8 - len(text) % 8) % 8)
open(path, "wb").write(struct.pack("<Q", len(text)) + text + raw[8 + n:])
PY
expect_error "overlapping offsets" "overlaps tensor" inspect "$d"

d=$(copy mistral shape-mismatch); edit_config "$d" intermediate_size 96
expect_error "dtype/shape mismatch" "has shape [160, 64] but the model config needs [96, 64]" inspect "$d"

d=$(copy llama missing-tensor)
"$python" -c 'import json,sys; p=sys.argv[1]+"/model.safetensors.index.json"; i=json.load(open(p)); del i["weight_map"]["model.layers.2.mlp.down_proj.weight"]; json.dump(i,open(p,"w"))' "$d"
expect_error "missing tensor" "checkpoint has no tensor 'model.layers.2.mlp.down_proj.weight'" inspect "$d"

d=$(copy llama missing-shard); rm "$d"/model-00001-of-*.safetensors
expect_error "missing shard" "does not exist" inspect "$d"

d=$(copy llama wrong-heads); edit_config "$d" num_key_value_heads 3
expect_error "wrong head counts" "key 'num_key_value_heads': 3 does not divide num_attention_heads 4" inspect "$d"

d=$(copy llama bad-json); echo '{"model_type": "llama",' > "$d/config.json"
expect_error "malformed config.json" "config.json: not valid JSON" inspect "$d"

d=$(copy llama huge-value); edit_config "$d" model_type "\"$(head -c 100000 /dev/zero | tr '\0' x)\""
expect_error "a 100 KB config value" "config.json: key 'model_type': 'xxx" inspect "$d"
line=$("$exe" inspect "$d" 2>&1 >/dev/null | tail -n 1)
[ "${#line}" -lt 2100 ] || { echo "FAIL a 100 KB config value gave a ${#line}-byte error line"; failures=$((failures + 1)); }

d=$(copy mistral as-hybrid)
out=$("$exe" inspect "$d" --layout MA --d-state 8) || { echo "FAIL hybrid layout does not inspect"; failures=$((failures + 1)); }
[[ "$out" == *"ssm state"* && "$out" == *"mamba"* ]] || { echo "FAIL hybrid inspect lacks the SSM figures: $out"; failures=$((failures + 1)); }

printf '\x01\x00\x02\x00\x03\x00' > "$work/tokens.u16"
out=$("$exe" data inspect "$work/tokens.u16" --raw-dtype uint16 --vocab-size 4) \
  || { echo "FAIL raw token file does not inspect"; failures=$((failures + 1)); }
[[ "$out" == *"tokens       3"* ]] || { echo "FAIL data inspect miscounts: $out"; failures=$((failures + 1)); }
expect_error "token id out of vocabulary" "id 3 is outside the vocabulary [0, 3)" data inspect "$work/tokens.u16" --raw-dtype uint16 --vocab-size 3
expect_error "raw file without a width" "for raw token ids give their width" data inspect "$work/tokens.u16"
printf 'MMIDIDX\x00' > "$work/broken.idx"; : > "$work/broken.bin"
expect_error "truncated Megatron index" "broken.idx" data inspect "$work/broken.idx"

# data tokenize: chat examples with the Llama 3 reference tokenizer and its template.
chat="$reference/tokenizers/chat_llama3"
cat > "$work/chat.jsonl" <<'JSONL'
{"messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello!"}]}

{"prompt": "2+2?", "response": "4"}
JSONL
out=$("$exe" data tokenize --input "$work/chat.jsonl" --tokenizer "$chat/tokenizer.json" --output "$work/sft") \
  || { echo "FAIL data tokenize on good input"; failures=$((failures + 1)); }
[[ "$out" == *"examples        2"* && "$out" == *"chat template   llama3"* ]] || { echo "FAIL data tokenize counts: $out"; failures=$((failures + 1)); }
out=$("$exe" data inspect "$work/sft" --tokenizer "$chat/tokenizer.json") || { echo "FAIL tokenized output does not inspect"; failures=$((failures + 1)); }
[[ "$out" == *"trainable    "*" tokens"* ]] || { echo "FAIL data inspect shows no trainable count: $out"; failures=$((failures + 1)); }
if "$python" -c 'import numpy' 2>/dev/null; then  # the GPU machine's Python may lack numpy
  "$python" "$(dirname "$0")/../reference/megatron_reference.py" read "$work/sft" > "$work/sft.json" \
    || { echo "FAIL the numpy Fast-LLM reader does not read the tokenized output"; failures=$((failures + 1)); }
  grep -q '"masked_spans": \[\[\[0, ' "$work/sft.json" \
    || { echo "FAIL the numpy reader finds no loss-masking spans: $(cat "$work/sft.json")"; failures=$((failures + 1)); }
fi
printf '{"messages": []}\n{"messages": [{"role": "user", "content": "x"}, {"role": "assistant", "content": "y"}]}\n{"prompt": 3}\n' > "$work/bad.jsonl"
expect_error "malformed JSONL line" "bad.jsonl: line 1: no assistant turn to train on" \
  data tokenize --input "$work/bad.jsonl" --tokenizer "$chat/tokenizer.json" --output "$work/bad"
out=$("$exe" data tokenize --input "$work/bad.jsonl" --tokenizer "$chat/tokenizer.json" --output "$work/skipped" --on-malformed skip 2>/dev/null) \
  || { echo "FAIL --on-malformed skip"; failures=$((failures + 1)); }
[[ "$out" == *"skipped lines   2"* ]] || { echo "FAIL skipped lines miscounted: $out"; failures=$((failures + 1)); }
expect_error "unknown chat template" "unknown chat template 'vicuna'" \
  data tokenize --input "$work/chat.jsonl" --tokenizer "$chat/tokenizer.json" --chat-template vicuna --output "$work/x"
expect_error "template marker not in the vocabulary" "needs the token '<|im_start|>', which is not in this tokenizer's vocabulary" \
  data tokenize --input "$work/chat.jsonl" --tokenizer "$chat/tokenizer.json" --chat-template chatml --output "$work/x"
echo '{"bos_token": "<s>"}' > "$work/tokenizer_config.json"
expect_error "no chat template to detect" "tokenizer_config.json: key 'chat_template': missing" \
  data tokenize --input "$work/chat.jsonl" --tokenizer "$reference/tokenizers/llama3/tokenizer.json" \
  --tokenizer-config "$work/tokenizer_config.json" --output "$work/x"
expect_error "output not writable" "no-such-dir/x.bin: cannot create" \
  data tokenize --input "$work/chat.jsonl" --tokenizer "$chat/tokenizer.json" --output "$work/no-such-dir/x"
# (which token comes first past 100 depends on the reference tokenizer's training)
expect_error "token id past --vocab-size" "not below --vocab-size 100" \
  data tokenize --input "$work/chat.jsonl" --tokenizer "$chat/tokenizer.json" --vocab-size 100 --output "$work/x"
[ ! -e "$work/x.bin" ] && [ ! -e "$work/bad.bin" ] || { echo "FAIL a refused tokenize left files behind"; failures=$((failures + 1)); }

expect_error "MIL widths that d_state does not divide" "key 'ssm_cfg.d_xb': 24 is not a multiple of d_state 16" inspect "$d" --layout MA

expect_error "bad layout" "--layout: layout 'AA' has 2 layers but the model has 3" inspect "$reference/llama" --layout AA

# Files a user names that are not regular files: refused at once, never waited on.
d=$(copy mistral fifo-weights); rm "$d/model.safetensors"; mkfifo "$d/model.safetensors"
expect_error "weights as a FIFO" "model.safetensors: is a FIFO, not a regular file" inspect "$d"
expect_error "scoring weights that are a FIFO" "model.safetensors: is a FIFO, not a regular file" \
  score proxy --model "$d" --db "$work/fifo-weights.db"
d=$(copy mistral fifo-config); rm "$d/config.json"; mkfifo "$d/config.json"
expect_error "config.json as a FIFO" "config.json: is a FIFO, not a regular file" inspect "$d"
d=$(copy mistral dir-config); rm "$d/config.json"; mkdir "$d/config.json"
expect_error "config.json as a directory" "config.json: is a directory, not a regular file" inspect "$d"
mkfifo "$work/fifo.u16"
expect_error "token file as a FIFO" "fifo.u16: is a FIFO, not a regular file" data inspect "$work/fifo.u16" --raw-dtype uint16
mkfifo "$work/fifo.toml"
expect_error "run config as a FIFO" "fifo.toml: is a FIFO, not a regular file" run "$work/fifo.toml"

# Numeric options out of range fail while the command line is parsed (d_state 0 once divided by zero).
expect_error "inspect --d-state 0" "--d-state: must be at least 1, got 0" inspect "$reference/mistral" --layout MA --d-state 0
expect_error "score mmr --d-state 0" "--d-state: must be at least 1, got 0" \
  score mmr --model "$reference/llama" --db "$work/dstate.db" --d-state 0
expect_error "a negative learning rate" "--mmr-lr: must be a finite number > 0, got -1" \
  score mmr --model "$reference/llama" --db "$work/dstate.db" --mmr-lr=-1
expect_error "a non-finite learning rate" "--lr: must be a finite number > 0, got nan" \
  distill --db "$work/dstate.db" --plan 1 --out "$work/x" --lr nan
expect_error "warm-up longer than the steps" "--mmr-warmup must lie in [0, 5] (--mmr-steps), got 10" \
  score mmr --model "$reference/llama" --db "$work/dstate.db" --mmr-steps 5
expect_error "distill warm-up longer than the steps" "warm-up steps must lie in [0, 5] (the steps), got 20" \
  distill --db "$work/dstate.db" --plan 1 --out "$work/x" --steps 5
[ ! -e "$work/dstate.db" ] || { echo "FAIL a refused option created the store"; failures=$((failures + 1)); }
expect_error "an unknown option" "--no-such-flag" inspect "$reference/llama" --no-such-flag

# Scoring: bad flags, and a store that must not be damaged or mixed.
db="$work/score.db"
expect_error "unknown scorer" "score: 'lasso' is not one of loo, mmr, proxy" score lasso --model "$reference/llama" --db "$db"
expect_error "layer out of range" "--layers: layer 7 is outside the model's 3 layers" score loo --model "$reference/llama" --db "$db" --layers 1,7
expect_error "malformed layer list" "--layers: '2-x' is not a layer number or range" score loo --model "$reference/llama" --db "$db" --layers 2-x
expect_error "a layer range past any model" "--layers: '0-99999999999' goes beyond 99999, more layers than any model has" \
  score loo --model "$reference/llama" --db "$db" --layers 0-99999999999
expect_error "a layer number past 64 bits" "goes beyond 99999" score loo --model "$reference/llama" --db "$db" --layers 99999999999999999999999
expect_error "a stage range past any model" "--stages: '0-99999999999' goes beyond" \
  distill --db "$db" --plan 1 --out "$work/stages" --stages 0-99999999999
for bad in "" ":memory:" "file:x?mode=memory"; do  # results that would vanish with the process
  expect_error "a store that is not a file ('$bad')" "the results database" score proxy --model "$reference/llama" --db "$bad" --samples 4
done
[ ! -e "file:x?mode=memory" ] || { echo "FAIL a URI store created a file"; failures=$((failures + 1)); }
mkfifo "$work/fifo.db"
expect_error "a store that is a FIFO" "fifo.db: not a regular file" score proxy --model "$reference/llama" --db "$work/fifo.db" --samples 4
expect_error "unknown ablation" "--ablate: 'head'" score loo --model "$reference/llama" --db "$db" --ablate head
expect_error "unknown split" "--split: 'dev'" score loo --model "$reference/llama" --db "$db" --split dev
printf 'not a database, just text%.0s' {1..200} > "$work/text.db"
expect_error "a store that is not SQLite" "text.db" score proxy --model "$reference/llama" --db "$work/text.db" --samples 2
"$exe" score proxy --model "$reference/llama" --db "$db" --samples 4 --quiet >/dev/null \
  || { echo "FAIL proxy scoring of the llama reference"; failures=$((failures + 1)); }
expect_error "another model under the same run" "pass another --run or --db" score proxy --model "$reference/qwen2" --db "$db" --samples 4
expect_error "another data set under the same run" "used data" score proxy --model "$reference/llama" --db "$db" --samples 5
out=$("$exe" score proxy --model "$reference/llama" --db "$db" --samples 4 --quiet) \
  || { echo "FAIL the finished run does not report again"; failures=$((failures + 1)); }
[[ "$out" == *"ranked by block_influence"* ]] || { echo "FAIL proxy ranking missing: $out"; failures=$((failures + 1)); }

# Planning: a store without the needed scores names the command that makes them.
expect_error "plan without LOO scores" "run \`hybridize score loo --db ...\` first" plan --db "$db" --targets 1 --strategy loo
expect_error "plan target beyond the layers" "--targets: 3 Mamba layers of 3" plan --db "$db" --targets 3 --strategy uniform
expect_error "plan of an unknown run" "no run 'other'" plan --db "$db" --run other --targets 1
expect_error "plan --keep past any model" "--keep: '0-99999999999' goes beyond" plan --db "$db" --targets 1 --keep 0-99999999999
expect_error "plan --d-state 0" "--d-state: must be at least 1, got 0" plan --db "$db" --targets 1 --d-state 0
expect_error "plan with an unknown strategy" "--strategy: 'best'" plan --db "$db" --targets 1 --strategy best
expect_error "distill with an unknown autocast" "--autocast: 'bf16' is not one of auto, on, off" \
  distill --db "$db" --plan 1 --out "$work/stages" --autocast bf16
expect_error "distill with re-ranking probes of no steps" "--rescore-steps: must be at least 1, got 0" \
  distill --db "$db" --plan 1 --out "$work/stages" --rescore-steps 0
out=$("$exe" plan --db "$db" --targets 1,2 --strategy uniform,random --keep 0) \
  || { echo "FAIL uniform/random plans"; failures=$((failures + 1)); }
[[ "$out" == *"jobs in execution order"* && "$out" == *"strategy random"* ]] || { echo "FAIL plan output: $out"; failures=$((failures + 1)); }
expect_error "distill of a teacher the hybrid format cannot hold" "cannot express attention or MLP biases of a llama teacher" \
  distill --db "$db" --plan 1 --out "$work/stages"
[ ! -e "$work/stages" ] || { echo "FAIL distill trained before refusing the teacher"; failures=$((failures + 1)); }

# Teachers whose weights are not what was scored, or not finite.
set_weights() {  # set_weights DIR EXPRESSION: each tensor t (named name) of DIR/model.safetensors becomes EXPRESSION
  "$python" - "$1/model.safetensors" "$2" <<'PY'
import json, struct, sys, torch  # torch alone: the GPU machine's Python lacks numpy and safetensors
path, expression = sys.argv[1], sys.argv[2]
raw = bytearray(open(path, "rb").read())
size = struct.unpack("<Q", raw[:8])[0]
dtypes = {"F32": torch.float32, "BF16": torch.bfloat16, "F16": torch.float16}
for name, info in json.loads(raw[8:8 + size]).items():
    if name == "__metadata__":
        continue
    begin, end = (8 + size + offset for offset in info["data_offsets"])
    t = torch.frombuffer(raw[begin:end], dtype=dtypes[info["dtype"]]).reshape(info["shape"])
    new = eval(expression, {"torch": torch}, {"name": name, "t": t}).to(t.dtype).contiguous()
    raw[begin:end] = bytes(new.view(torch.uint8).flatten().tolist())
open(path, "wb").write(raw)
PY
}
db2="$work/mistral.db"
"$exe" score proxy --model "$reference/mistral" --db "$db2" --samples 4 --quiet >/dev/null \
  && "$exe" plan --db "$db2" --targets 1 --strategy uniform --d-state 8 >/dev/null \
  || { echo "FAIL scoring and planning the mistral reference"; failures=$((failures + 1)); }
d=$(copy mistral doubled); set_weights "$d" "t * 2"
expect_error "distill from another teacher" "doubled: not the teacher run 'default' scored" \
  distill --db "$db2" --plan 1 --out "$work/doubled-stages" --model "$d" --d-state 8
d=$(copy mistral nan); set_weights "$d" "t * float('nan') if name.endswith('o_proj.weight') else t"
expect_error "distill from a NaN teacher" "tensor 'model.layers.0.self_attn.o_proj.weight' holds NaN or infinite values" \
  distill --db "$db2" --plan 1 --out "$work/nan-stages" --model "$d" --d-state 8
expect_error "scoring a NaN teacher" "holds NaN or infinite values" score proxy --model "$d" --db "$work/nan.db" --samples 4
[ ! -e "$work/doubled-stages" ] && [ ! -e "$work/nan-stages" ] && [ ! -e "$work/nan.db" ] \
  || { echo "FAIL a refused teacher left a store or stages behind"; failures=$((failures + 1)); }
"$python" -c 'import sqlite3, sys; s = sqlite3.connect(sys.argv[1]).execute("SELECT status FROM stages").fetchall(); assert s == [("pending",)], s' "$db2" \
  || { echo "FAIL a refused teacher changed the stage's status"; failures=$((failures + 1)); }
# Finite weights whose logits overflow: the failure comes after probes are claimed, which it must give back.
d=$(copy mistral overflow); set_weights "$d" "torch.full_like(t, 3e38) if name == 'lm_head.weight' else t"
expect_error "scores that are not finite" "the model's outputs are not finite" score loo --model "$d" --db "$work/overflow.db" --samples 4
"$python" -c 'import sqlite3, sys; r = sqlite3.connect(sys.argv[1]).execute("SELECT count(*) FROM probes WHERE status = \"running\"").fetchone()[0]; assert r == 0, r' "$work/overflow.db" \
  || { echo "FAIL a failed scoring left its probes claimed"; failures=$((failures + 1)); }

# Multi-process jobs: launcher variables that contradict each other, and a peer that never comes.
job=(distill --db "$db" --plan 1 --out "$work/job")
RANK=2 WORLD_SIZE=2 MASTER_ADDR=127.0.0.1 expect_error "rank beyond the world" "RANK=2 must be below WORLD_SIZE=2" "${job[@]}"
RANK=0 expect_error "rank without a world size" "WORLD_SIZE is not set, but RANK is" "${job[@]}"
RANK=0 WORLD_SIZE=two expect_error "world size not a number" "WORLD_SIZE='two' is not an integer" "${job[@]}"
SLURM_PROCID=1 SLURM_NTASKS=2 SLURM_LOCALID=1 expect_error "Slurm job without MASTER_ADDR" "MASTER_ADDR is not set" "${job[@]}"
RANK=1 WORLD_SIZE=2 MASTER_ADDR=127.0.0.1 expect_error "run in a job of several ranks" "run runs as one process, but torchrun started 2 ranks" \
  run "$work/absent.toml"
RANK=0 WORLD_SIZE=2 MASTER_ADDR=127.0.0.1 MASTER_PORT=$("$python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])') \
  HYBRIDIZE_DIST_TIMEOUT=3 expect_error "a peer that never comes" "a peer is missing" "${job[@]}"

# random-teacher: HF transformers loads what it writes, with the shape asked for and
# the draws it promises (norms at 1, the rest N(0, 0.02)); then its bad input.
"$exe" random-teacher --config "$reference/mistral" --out "$work/random" --dtype fp32 --device cpu >/dev/null 2>&1 \
  || { echo "FAIL random-teacher does not run"; failures=$((failures + 1)); }
"$python" - "$work/random" "$reference/mistral" <<'PY' || failures=$((failures + 1))
import json, sys, torch, transformers
model = transformers.AutoModelForCausalLM.from_pretrained(sys.argv[1])
wanted = json.load(open(sys.argv[2] + "/config.json"))
for key in ("num_hidden_layers", "hidden_size", "num_key_value_heads", "vocab_size"):
    assert getattr(model.config, key) == wanted[key], (key, getattr(model.config, key), wanted[key])
for name, tensor in model.named_parameters():
    if "norm" in name:
        assert torch.all(tensor == 1), name
    elif tensor.numel() >= 1000:
        assert abs(tensor.std().item() - 0.02) < 0.002 and abs(tensor.mean().item()) < 0.002, (name, tensor.std().item())
print("ok   random-teacher: HF transformers loads it with the shape and the draws asked for")
PY
expect_error "random-teacher over an existing folder" "exists; random-teacher does not overwrite" \
  random-teacher --config "$reference/mistral" --out "$work/random" --device cpu
d=$(copy mistral random-hybrid); edit_config "$d" hybrid_block_layout '["t", "m2"]'; edit_config "$d" model_type '"apriel_hybrid_ssm"'
edit_config "$d" ssm_cfg '{"d_state": 8, "d_inner": 96, "d_xb": 24, "dt_rank": 4}'
expect_error "random-teacher of a hybrid" "a hybrid's config" random-teacher --config "$d" --out "$work/r2" --device cpu
expect_error "random-teacher without a config" "absent: no such model directory or config file" random-teacher --config "$work/absent" --out "$work/r3" --device cpu

# run: every shipped config's keys parse (each fails only at its teacher, moved away here),
# and a config's mistakes are named by key before any work.
configs=$(cd "$(dirname "$0")/../../configs" && pwd)
for name in demo demo-gpu apriel-15b; do
  sed -e 's|^path = .*|path = "absent-teacher"|' -e "s|^out = .*|out = \"out-$name\"|" -e 's|^device = .*|device = "cpu"|' \
    "$configs/$name.toml" > "$work/$name.toml"
  expect_error "the shipped $name.toml parses" "absent-teacher: no such model directory" run "$work/$name.toml"
done
printf '[model]\npath = "%s"\n[plan]\ntargets = [1]\n[eval]\ntasks = ["absent.jsonl"]\n' "$configs/demo-teacher" > "$work/tasks.toml"
expect_error "run config naming a missing benchmark file" "key 'eval.tasks': $work/absent.jsonl" run "$work/tasks.toml"
printf '[model]\npath = "m"\n[plan]\ntargets = [1]\n[eval]\ngate_max_drop = 5.0\n' > "$work/gate.toml"
expect_error "run config with a gate but no benchmark" "a quality gate ('eval.gate_max_drop', 'eval.gate_below_parent') needs 'eval.tasks'" \
  run "$work/gate.toml"
printf '[model]\npath = "m"\n[plan]\ntargets = [1]\n[distill]\nstpes = 3\n' > "$work/typo.toml"
expect_error "run config with an unknown key" \
  "unknown key 'distill.stpes'; valid keys of [distill]: accumulation, activation_checkpointing, batch, ce_weight, compare_forward_kl, loss" \
  run "$work/typo.toml"
printf '[model]\npath = "m"\n[plan]\ntargets = [1]\n[distill]\nloss = "mse"\n' > "$work/loss.toml"
expect_error "run config with an unknown loss" "key 'distill.loss': --loss: 'mse' is not one of kl, ce, kl+ce" run "$work/loss.toml"
printf '[model]\npath = "m"\n[plan]\ntargets = [1]\n[distill]\nactivation_checkpointing = 3\n' > "$work/type.toml"
expect_error "run config with a wrong type" "key 'distill.activation_checkpointing' must be true or false" run "$work/type.toml"
printf '[model]\npath = "m"\n[plan]\ntargets = [1]\n[distill]\naccumulation = 0\n' > "$work/zero.toml"
expect_error "run config with no accumulation" "key 'distill.accumulation' must be positive, got 0" run "$work/zero.toml"

printf '[model]\npath = "m"\n[plan]\ntargets = [1]\n[distill]\nsteps = 10\n' > "$work/warmup.toml"
expect_error "run config whose warm-up outlasts its steps" "key 'distill.warmup' must lie in [0, 10] ('distill.steps'), got 20" \
  run "$work/warmup.toml"
printf '[model]\npath = "m"\n[score]\nscorers = ["loo", "lasso"]\n[plan]\ntargets = [1]\n' > "$work/scorer.toml"
expect_error "run config with an unknown scorer" "key 'score.scorers': score: 'lasso' is not one of loo, mmr, proxy" run "$work/scorer.toml"
printf '[run]\nout = "run-targets"\n[model]\npath = "%s"\n[plan]\ntargets = [3]\n' "$reference/mistral" > "$work/targets.toml"
expect_error "run config whose targets leave no attention" "[plan]: --targets: 3 Mamba layers of 2" run "$work/targets.toml"
printf '[run]\nout = "run-biases"\n[model]\npath = "%s"\n[plan]\ntargets = [1]\n' "$reference/llama" > "$work/biases.toml"
expect_error "run config whose teacher cannot be distilled" "[distill]: config: the Apriel-H hybrid format (a Mistral config) cannot express" run "$work/biases.toml"
[ ! -e "$work/run-targets" ] && [ ! -e "$work/run-biases" ] \
  || { echo "FAIL a run refused for its config did work first"; failures=$((failures + 1)); }

# bench: a CPU smoke run (no timing is checked), then its bad input.
bench=(bench --model "$reference/llama" --prompt-len 6 --gen-len 3 --dtype fp32 --device cpu)
out=$("$exe" "${bench[@]}" --layouts AMA,MMI --mamba-counts 1 --batch 2) || { echo "FAIL bench does not run"; failures=$((failures + 1)); }
[[ "$out" == *"AAA (model)"* && "$out" == *"AMA"* && "$out" == *"MMI"* && "$out" == *"speedup"* ]] \
  || { echo "FAIL bench table lacks its rows: $out"; failures=$((failures + 1)); }
out=$("$exe" "${bench[@]}" --layouts MMM --batch auto --memory-budget 0.01 --json) \
  && "$python" -c 'import json,sys; r=json.load(sys.stdin); assert [x["layout"] for x in r] == ["AAA", "MMM"] and min(x["batch"] for x in r) > 0, r' <<< "$out" \
  || { echo "FAIL bench --batch auto --json: $out"; failures=$((failures + 1)); }
expect_error "bench: unknown layout letter" "--layouts: layout 'AXA' has unknown mixer letter 'X' at layer 1" "${bench[@]}" --layouts AXA
expect_error "bench: layout of the wrong length" "--layouts: layout 'AA' has 2 layers but the model has 3" "${bench[@]}" --layouts AA
expect_error "bench: zero batch" "--batch: must be 'auto' or a positive number of sequences, got '0'" "${bench[@]}" --batch 0
expect_error "bench: too many Mamba layers" "--mamba-counts: Mamba layer count 4 is outside 0..3" "${bench[@]}" --mamba-counts 4
expect_error "bench: budget below the weights" "does not fit the memory budget" "${bench[@]}" --memory-budget 0.00001
expect_error "bench: prompt past the context" "bench: prompt length 300 is more than the model's context of 256" \
  bench --model "$reference/llama" --prompt-len 300 --gen-len 3 --dtype fp32 --device cpu
expect_error "bench: zero waves" "--waves: must be at least 1, got 0" "${bench[@]}" --waves 0
expect_error "bench: memory fraction above the card" "--memory-fraction: must be in (0, 1], got 1.5" "${bench[@]}" --memory-fraction 1.5

# hybridize report: a missing database is not created, runs are named, the output must be writable.
expect_error "report of a missing database" "absent.db: no such results database" \
  report --db "$work/absent.db" --out "$work/report.html"
[ ! -e "$work/absent.db" ] || { echo "FAIL report created the missing database"; failures=$((failures + 1)); }
: > "$work/empty.db"
expect_error "report of a database without runs" "empty.db: holds no run yet" report --db "$work/empty.db" --out "$work/r.html"
"$python" - "$work/empty.db" <<'PY'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
db.execute("INSERT INTO models (path, content_hash, architecture, num_layers, parameters) VALUES ('/m', 'h', 'LlamaForCausalLM', 2, 10)")
db.execute("INSERT INTO datasets (spec, content_hash, samples, tokens) VALUES ('synthetic', 'd', 1, 1)")
for name in ("alpha", "beta"):
    db.execute("INSERT INTO runs (name, model_id, dataset_id, config, code_version, seed) VALUES (?, 1, 1, '{}', 't', 0)", (name,))
db.commit()
PY
expect_error "report of an unknown run" "no run 'gamma'; its runs: alpha, beta" \
  report --db "$work/empty.db" --run gamma --out "$work/r.html"
expect_error "report without --run of several runs" "holds 2 runs (alpha, beta); pass --run NAME" \
  report --db "$work/empty.db" --out "$work/r.html"
expect_error "report into a missing directory" "cannot create" \
  report --db "$work/empty.db" --run alpha --out "$work/no-such-dir/r.html"
mkdir -p "$work/a-directory"
expect_error "report onto a directory" "a-directory: rename failed" \
  report --db "$work/empty.db" --run alpha --out "$work/a-directory"
echo "not sqlite" > "$work/text.db"
expect_error "report of a file that is not SQLite" "text.db" report --db "$work/text.db" --out "$work/r.html"
out=$("$exe" report --db "$work/empty.db" --run alpha --out "$work/alpha.html") \
  || { echo "FAIL report of a run without results"; failures=$((failures + 1)); }
[[ "$out" == "$work/alpha.html" ]] && grep -q "hybridize score loo" "$work/alpha.html" \
  || { echo "FAIL report of a run without results lacks the commands that fill it"; failures=$((failures + 1)); }

# train: bad shapes, and a checkpoint directory of another run or with a broken pointer.
tiny=(train --layers 1 --hidden 16 --kv-heads 1 --intermediate 16 --steps 2 --warmup 0
      --train-problems 8 --validation-problems 2)
expect_error "train: heads not dividing hidden" "teacher hidden 16 is not a multiple of heads 3" \
  "${tiny[@]}" --heads 3 --batch 2 --out "$work/teacher-heads"
"$exe" "${tiny[@]}" --heads 2 --batch 2 --out "$work/teacher" --stop-after 1 >/dev/null 2>&1 \
  || { echo "FAIL tiny teacher does not train"; failures=$((failures + 1)); }
expect_error "train: resuming with other settings" "the checkpoint was trained with batch 2, not 3" \
  "${tiny[@]}" --heads 2 --batch 3 --out "$work/teacher"
echo "step-000007" > "$work/teacher.checkpoints/latest"
expect_error "train: latest names a missing checkpoint" "checkpoint step-000007 has no state.json" \
  "${tiny[@]}" --heads 2 --batch 2 --out "$work/teacher"

# eval: task files checked before any model loads, and settings that measure nothing.
printf '{"question": "2+2?", "answer": "4", "kind": "numeric"}\n{"question": "x", "kind": "numeric"}\n' > "$work/tasks.jsonl"
expect_error "eval: task line without an answer" "tasks.jsonl: line 2: missing \"answer\"" \
  eval --db "$work/eval.db" --model "$reference/llama" --tasks "$work/tasks.jsonl"
expect_error "eval: no task file" "no-such.jsonl" eval --db "$work/eval.db" --model "$reference/llama" --tasks "$work/no-such.jsonl"
printf '{"question": "2+2?", "answer": "4", "kind": "numeric"}\n' > "$work/tasks.jsonl"
expect_error "eval: samples without a temperature" "2 samples a problem need a temperature above 0" \
  eval --db "$work/eval.db" --model "$reference/llama" --tasks "$work/tasks.jsonl" --samples 2
expect_error "eval: a model and a plan" "evaluate one model, or a plan's teacher and stages, not both" \
  eval --db "$work/eval.db" --model "$reference/llama" --plan 1 --tasks "$work/tasks.jsonl"
expect_error "eval: a model without a tokenizer" "no tokenizer.json, so eval cannot write its prompts" \
  eval --db "$work/eval.db" --model "$reference/llama" --tasks "$work/tasks.jsonl" --device cpu --dtype fp32
expect_error "eval: --top-p 0" "--top-p" eval --db "$work/eval.db" --model "$reference/llama" --tasks "$work/tasks.jsonl" --top-p 0

echo "$passed passed, $failures failed"
[ "$failures" -eq 0 ]
