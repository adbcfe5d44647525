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

expect_error "MIL widths that d_state does not divide" "key 'ssm_cfg.d_xb': 24 is not a multiple of d_state 16" inspect "$d" --layout MA

expect_error "bad layout" "--layout: layout 'AA' has 2 layers but the model has 3" inspect "$reference/llama" --layout AA

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

echo "$passed passed, $failures failed"
[ "$failures" -eq 0 ]
