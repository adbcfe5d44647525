#!/usr/bin/env bash
# Sets up, builds and runs every test (CTest preset "default"). CI runs this.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/build.sh
ctest --preset default
