#!/usr/bin/env bash
# Builds and runs the whole test suite, GPU tests included, on the GPU machine.
# Run through the device tool with `.gpu-deps` carried (scripts/gpu-deps.sh):
#   run(command="bash scripts/gpu-check.sh", carry=[".gpu-deps"])
# The full CTest log goes to $OUT/ctest.log when $OUT is set; the summary and the
# figures to record (bench/RESULTS.md) are printed.
set -uo pipefail
cd "$(dirname "$0")/.."
logs=${OUT:-/tmp}
echo "== $(date -u +%Y-%m-%dT%H:%MZ) $(nvidia-smi --query-gpu=name,driver_version --format=csv,noheader | head -1)"
python3 -c 'import torch; print("torch", torch.__version__)'
cmake --preset gpu --fresh >"$logs/configure.log" 2>&1 || { tail -n 30 "$logs/configure.log"; exit 1; }
cmake --build --preset gpu -j "$(nproc)" >"$logs/build.log" 2>&1 || { grep -E "error" -A3 "$logs/build.log" | head -n 60; exit 1; }
ctest --preset gpu -V >"$logs/ctest.log" 2>&1
rc=$?
grep -E "gpu parity|tests passed|tests failed|\*\*\*Failed|FAILED" "$logs/ctest.log"
exit $rc
