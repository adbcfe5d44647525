#!/usr/bin/env bash
# The built-in demo: sets up, builds the hybridize binary, and runs the whole
# pipeline (score -> plan -> distil -> bench -> report) on the shipped demo
# teacher (configs/demo-teacher, trained on the synthetic reasoning task by
# `hybridize train`), ending with the path of the HTML report. A second run
# reuses everything already in build/demo/results.db.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
cmake --preset default >/dev/null
cmake --build --preset default --target hybridize
build/src/hybridize run configs/demo.toml
