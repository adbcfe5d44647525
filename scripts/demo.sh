#!/usr/bin/env bash
# The built-in demo. For now it sets up, builds, makes small HF checkpoints with
# transformers (the parity references) and inspects one; the full pipeline
# (score -> plan -> distil -> bench -> report) takes its place as it lands.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/build.sh
out=build/demo
.venv/bin/python tests/reference/make_parity_models.py "$out/models" >/dev/null
build/src/hybridize inspect "$out/models/llama"
