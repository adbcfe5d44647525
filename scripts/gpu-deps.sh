#!/usr/bin/env bash
# Gathers, on the CPU machine, what the GPU machine's build lacks into .gpu-deps/
# (git-ignored; pass it to the device tool's `carry`): headers and Chart.js its image
# does not have, and the parity references made with this machine's HF transformers.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -d build/tests/reference ] || { echo "gpu-deps: run scripts/test.sh first (it makes build/tests/reference)" >&2; exit 1; }
# One folder a library (cmake/Dependencies.cmake looks in each), so that an
# include folder added for one never shadows another's system headers.
rm -rf .gpu-deps && mkdir -p .gpu-deps/include/{json,cli,toml,pcre2,sqlite,xxhash}
cp -r /usr/include/nlohmann .gpu-deps/include/json/
cp -r /usr/include/CLI .gpu-deps/include/cli/
cp -r /usr/include/toml++ .gpu-deps/include/toml/
cp /usr/include/pcre2.h .gpu-deps/include/pcre2/  # the GPU machine has libpcre2-8.so.0 only
cp /usr/include/sqlite3.h .gpu-deps/include/sqlite/  # libsqlite3.so.0 only
cp /usr/include/xxhash.h .gpu-deps/include/xxhash/  # used header-only
mkdir -p .gpu-deps/javascript  # Chart.js for the HTML report (reports/CMakeLists.txt finds it here)
cp /usr/share/javascript/chart.js/chart.min.js .gpu-deps/javascript/
cp -r build/tests/reference .gpu-deps/reference
du -sh .gpu-deps
