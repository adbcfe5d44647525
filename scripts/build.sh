#!/usr/bin/env bash
# Sets up (scripts/setup.sh) and builds hybridize into build/ (CMake preset "default").
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
cmake --preset default >/dev/null
cmake --build --preset default
