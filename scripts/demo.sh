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
# One thread: the demo's models are so small that a second thread only adds
# synchronisation, and on a busy 2-core machine it made the run ten times slower.
OMP_NUM_THREADS=${OMP_NUM_THREADS:-1} build/src/hybridize run configs/demo.toml
