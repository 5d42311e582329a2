#!/usr/bin/env bash
# make test: unit tests and the linters, then every test again with TF_ACC=1
# against the real local stack (with tofu, and a representative set with
# Terraform), then the fault suite. A stack that was already up stays up; one started here
# is stopped on exit.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

t0=$SECONDS
echo "== unit tests"
go vet ./...
go test ./... -count=1
# The fault points (engine/fault_on.go) exist only with -tags idpfault, the
# provider binary acctest.Tofu runs (acctest.ProviderBinary); engine is the only
# package whose files the tag changes.
go vet -tags idpfault ./internal/engine
go test -tags idpfault ./internal/engine -run 'Fault' -count=1

# Render with random models the provider accepts: every object valid for the
# API server, no name derived twice (internal/provider/fuzz_render_test.go).
# -fuzz takes one target per run; a new input is minimised for at most 5 s
# (the default, 60 s, would take the whole budget).
echo "== fuzz"
t1=$SECONDS
for target in FuzzApplication FuzzDatabase FuzzProject; do
	go test ./internal/provider -run '^$' -fuzz "^${target}\$" -fuzztime "${FUZZTIME:-20s}" -fuzzminimizetime 5s
done
echo "== fuzz: $((SECONDS - t1))s"

echo "== local stack"
if [[ ! -f .stack/env ]]; then
	trap 'scripts/stack-down.sh' EXIT
fi
scripts/stack-up.sh
set -a
# shellcheck source=/dev/null
. .stack/env
set +a

# make test's own tools (golangci-lint, goreleaser, terraform; a cold build
# of the three takes about 8 min, two at a time) build while the acceptance
# tests run, which mostly wait; stack-up built the stack's. Terraform's run
# waits for its tool (tools.sh locks each tool), the linters for theirs.
scripts/tools.sh golangci-lint goreleaser terraform >.stack/test-tools.log 2>&1 &
tools_pid=$!

echo "== docs/ matches the schema, examples/ and templates/"
scripts/docs.sh --check

# Suites write their figures ("<figure>\t<value>") here; printed at the end.
rm -rf .stack/summary

# The acceptance tests run as several `go test -json` processes at once
# (separate processes, because acctest hands the provider its settings
# through the environment): the tests on kwok, which mostly run tofu; the
# tests on the real node (TestAccE2E_*), which mostly wait for builds and
# rollouts, in two; and Terraform's representative set (acctest registers
# the provider under registry.terraform.io when the binary is not tofu):
# every resource with its import, the data source (ciAndTofuAgree), the
# ephemeral resource, import by identity and of an old chart's estate, and
# a whole estate through `terraform query`. scripts/testreport prints each
# run's failures and summaries, and the slowest tests.
provider=github.com/idpkit/terraform-provider-idp/internal/provider
mapfile -t pkgs < <(go list ./... | grep -v -e /internal/faults -e "^$provider\$")
terraform_tests=(
	TestAccProject_lifecycle TestAccApplication_ciAndTofuAgree TestAccDatabase_lifecycle
	'TestAccDatabaseCredentials_.*' TestAccIdentity TestAccImportOldChart
	TestAccEstate_terraformQuery # terraform query over the list resources (tofu has none)
)
terraform=$(scripts/tools.sh --path terraform)/terraform
# go_test_json <label> [VAR=value...] -- <go test arguments>: one run, its
# events in .stack/test-<label>.json (for scripts/testreport).
go_test_json() {
	local label=$1 env=()
	shift
	while [[ $1 != -- ]]; do
		env+=("$1")
		shift
	done
	shift
	env TF_ACC=1 IDP_TEST_GROUP="$label" "${env[@]}" go test -json -count=1 "$@" ${TESTARGS:-} >".stack/test-$label.json" 2>&1
}
rm -f .stack/test-*.json
go test -c -o /dev/null "$provider" # compiled once, before the runs race to
echo "== acceptance tests (tofu: $TF_ACC_TERRAFORM_PATH; terraform: $terraform)"
t1=$SECONDS
pids=()
go_test_json kwok -- "${pkgs[@]}" "$provider" -skip '^TestAccE2E_' -timeout 60m &
pids+=($!)
go_test_json e2e-deploy -- "$provider" -run '^TestAccE2E_(pushToDeploy|forcePushTagAndDeletion)$' -timeout 60m &
deploy_pid=$!
go_test_json e2e-data -- "$provider" -run '^TestAccE2E_' -skip '^TestAccE2E_(pushToDeploy|forcePushTagAndDeletion)$' -timeout 60m &
pids+=($!)
{
	scripts/tools.sh terraform >>.stack/test-tools.log 2>&1 &&
		go_test_json terraform TF_ACC_TERRAFORM_PATH="$terraform" -- "$provider" -timeout 30m \
			-run "^($(IFS='|' && echo "${terraform_tests[*]}"))\$"
} &
pids+=($!)
set +e
wait "${pids[@]}"
wait "$tools_pid"
tools_rc=$?
set -e
((tools_rc == 0)) || { cat .stack/test-tools.log; echo "building make test's tools failed" >&2; exit 1; }
echo "== kwok, e2e-data and terraform ended: $((SECONDS - t1))s"

echo "== lint (.golangci.yml)"
scripts/lint.sh
scripts/lint.sh --build-tags idpfault ./internal/engine/...

echo "== release config (goreleaser check .goreleaser.yml)"
"$(scripts/tools.sh --path goreleaser)/goreleaser" check
# Built as goreleaser builds it: no fault points (engine/fault.go), so not
# even the name of the variable that arms them.
echo "== release build has no fault points"
release_bin=$(mktemp)
CGO_ENABLED=0 go build -trimpath -ldflags '-s -w' -o "$release_bin" .
if grep -q IDP_FAULT "$release_bin"; then
	rm -f "$release_bin"
	echo "the release build reads IDP_FAULT: engine/fault_on.go is in it (a build tag is missing)" >&2
	exit 1
fi
rm -f "$release_bin"

# The fault suite starts once only the longest end-to-end run is left
# (pushToDeploy, then forcePush): it breaks private instances of the
# services and applies 50 projects, which beside all four runs would slow
# their timed waits. Its tests mostly wait (for pods, restarts,
# deadlines), so three run at a time, at most two of them on the real
# node (internal/faults/timing_test.go).
echo "== fault suite (beside e2e-deploy)"
t2=$SECONDS
go_test_json faults -- ./internal/faults -parallel 3 -timeout 30m &
faults_pid=$!
set +e
wait "$deploy_pid"
echo "== e2e-deploy ended: $((SECONDS - t1))s"
wait "$faults_pid"
echo "== fault suite: $((SECONDS - t2))s"
go run ./scripts/testreport kwok=.stack/test-kwok.json e2e-deploy=.stack/test-e2e-deploy.json \
	e2e-data=.stack/test-e2e-data.json terraform=.stack/test-terraform.json faults=.stack/test-faults.json
rc=$?
set -e
echo "== acceptance tests and fault suite: $((SECONDS - t1))s"
((rc == 0))
if compgen -G ".stack/summary/*.tsv" >/dev/null; then
	echo "== summary"
	awk -F'\t' '!($1 in sum) { order[++n] = $1 } { sum[$1] += $2 } END { for (i = 1; i <= n; i++) printf "  %-34s %s\n", order[i], sum[order[i]] }' .stack/summary/*.tsv
fi
echo "== make test passed in $((SECONDS - t0))s"
