#!/usr/bin/env bash
# Installs everything hybridize needs to build and test on a fresh Debian machine:
# the Debian packages, and a project-local virtualenv (.venv) holding the
# torch==2.11.0 wheel (whose LibTorch we link) and HF transformers (used only by
# tests/reference to make parity references). Idempotent: a second run only checks.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
venv="$root/.venv"

# libjs-chart.js: Chart.js, compiled into HTML reports; chromium: the report's browser test;
# clang-format: the format check (scripts/check-format.sh).
debian_packages=(cmake ninja-build g++ ccache libboost-graph-dev libsqlite3-dev
                 libcli11-dev catch2 nlohmann-json3-dev libtomlplusplus-dev
                 libpcre2-dev libicu-dev libxxhash-dev libjs-chart.js chromium clang-format)
python_packages=(torch==2.11.0 transformers==4.57.1 safetensors numpy einops==0.8.1)

missing=()
for p in "${debian_packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup: installing Debian packages: ${missing[*]}"
  sudo_cmd=""; [ "$(id -u)" = 0 ] || sudo_cmd=sudo
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq "${missing[@]}" >/dev/null
fi

stamp="$venv/.hybridize-setup"
want="${python_packages[*]}"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  echo "setup: preparing $venv (${python_packages[*]})"
  [ -x "$venv/bin/python" ] || python3 -m venv "$venv"
  "$venv/bin/python" -m pip install -q --disable-pip-version-check "${python_packages[@]}"
  echo "$want" > "$stamp"
fi
# The pure-PyTorch scan and conv references of mamba-ssm and causal-conv1d (two
# files from their PyPI source archives, nothing built): the Apriel-H parity reference.
"$venv/bin/python" "$root/tests/reference/fetch_scan_references.py" "$venv/reference-sources" >/dev/null
echo "setup: ok (torch $("$venv/bin/python" -c 'import torch; print(torch.__version__)'))"
