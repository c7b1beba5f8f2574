#!/usr/bin/env bash
# CI: the runtime-only install (`pip install mlpack-edge`, no extras: no torch, no onnxsim, no onnx-ir)
# in a fresh virtualenv runs every command it documents; what it does not support exits 2 naming the
# extra. Then the `remote` extra (asyncssh) alone, for --target against a local SSH server.
# Needs PyPI only. About a minute once pip's cache is warm.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
work=$(mktemp -d "${TMPDIR:-/tmp}/mlpack-runtime-only.XXXXXX")
trap 'rm -rf "$work"' EXIT
"$PYTHON" -m pip wheel --no-deps -q -w "$work/wheel" .
"$PYTHON" -m venv "$work/venv"
"$work/venv/bin/pip" install -q "$work"/wheel/*.whl
cp tests/exporter_graphs.py tests/remote/ssh_server.py .ci/runtime_only_matrix.py "$work/"
# Run from the scratch folder, never the checkout: the installed wheel is what is tested.
cd "$work"
"$work/venv/bin/python" runtime_only_matrix.py before-remote
"$work/venv/bin/pip" install -q "asyncssh>=2.14"  # what the `remote` extra adds, on the host only
"$work/venv/bin/python" runtime_only_matrix.py remote
