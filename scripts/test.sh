#!/usr/bin/env bash
# make test: unit tests and the linters, then every test again with TF_ACC=1
# against the real local stack. A stack that was already up stays up; one started here
# is stopped on exit.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

t0=$SECONDS
echo "== unit tests"
go vet ./...
go test ./... -count=1

echo "== lint (.golangci.yml)"
scripts/lint.sh

echo "== local stack"
if [[ ! -f .stack/env ]]; then
	trap 'scripts/stack-down.sh' EXIT
fi
scripts/stack-up.sh
set -a
# shellcheck source=/dev/null
. .stack/env
set +a

echo "== docs/ matches the schema, examples/ and templates/"
scripts/docs.sh --check

echo "== acceptance tests (tofu: $TF_ACC_TERRAFORM_PATH)"
TF_ACC=1 go test ./... -count=1 -timeout 60m ${TESTARGS:-}
echo "== make test passed in $((SECONDS - t0))s"
