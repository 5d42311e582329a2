#!/usr/bin/env bash
# make lint (and the first step of make test): golangci-lint, built from the
# module pinned in tools/golangci-lint/go.mod, with .golangci.yml: DESIGN.md's
# layers and taboos (depguard, forbidigo) and the usual correctness linters.
# Extra arguments go to `golangci-lint run` (e.g. --fix, a package pattern).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
scripts/tools.sh golangci-lint >/dev/null
exec "$(scripts/tools.sh --path golangci-lint)/golangci-lint" run "${@:-./...}"
