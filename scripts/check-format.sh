#!/usr/bin/env bash
# Checks that every tracked C++ and CUDA source is formatted as .clang-format
# says (Debian's clang-format); lists the files that are not and how to fix them.
set -euo pipefail
cd "$(dirname "$0")/.."
# Exit 77 (CTest: skipped) where clang-format is missing, as on the GPU machine; scripts/setup.sh installs it.
command -v clang-format >/dev/null || { echo "check-format: clang-format is not installed (scripts/setup.sh installs it)"; exit 77; }
unformatted=()
while IFS= read -r file; do
  clang-format --dry-run -Werror "$file" >/dev/null 2>&1 || unformatted+=("$file")
done < <(git ls-files '*.cpp' '*.h' '*.cu' '*.cuh')
if [ ${#unformatted[@]} -gt 0 ]; then
  printf 'check-format: not formatted as .clang-format says:\n'
  printf '  %s\n' "${unformatted[@]}"
  printf 'fix with: clang-format -i %s\n' "${unformatted[*]}"
  exit 1
fi
echo "check-format: $(git ls-files '*.cpp' '*.h' '*.cu' '*.cuh' | wc -l) files formatted"
