#!/usr/bin/env bash
# make test: unit tests and the linters, then every test again with TF_ACC=1
# against the real local stack (with tofu), then a representative set with
# Terraform. A stack that was already up stays up; one started here
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

# Terraform as well (acctest registers the provider under
# registry.terraform.io when the binary is not tofu): every resource with its
# import, the data source (ciAndTofuAgree), the ephemeral resource, import by
# identity and of an old chart's estate, and a whole estate through
# `terraform query`. About 5 min on 2 cores.
terraform_tests=(
	TestAccProject_lifecycle TestAccApplication_ciAndTofuAgree TestAccDatabase_lifecycle
	'TestAccDatabaseCredentials_.*' TestAccIdentity TestAccImportOldChart
	TestAccEstate_terraformQuery # terraform query over the list resources (tofu has none)
)
scripts/tools.sh terraform
terraform=$(scripts/tools.sh --path terraform)/terraform
echo "== acceptance tests, a representative set (terraform: $terraform)"
t1=$SECONDS
TF_ACC=1 TF_ACC_TERRAFORM_PATH=$terraform go test ./internal/provider -count=1 -timeout 30m \
	-run "^($(IFS='|' && echo "${terraform_tests[*]}"))\$"
echo "== terraform run: $((SECONDS - t1))s"
echo "== make test passed in $((SECONDS - t0))s"
