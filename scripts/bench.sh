#!/usr/bin/env bash
# make bench: how refresh and apply scale with the estate, on the local stack
# (kwok nodes). For each size N (BENCH_SIZES, default "10 25 50"; BENCH_LARGE=1
# adds 200, 8,000 objects, about half an hour more): N projects,
# each with 2 applications (one pinned with git.hash, one not) and 2
# databases (mysql, redis). From an empty estate it measures
#   apply        tofu apply (-parallelism=BENCH_PARALLELISM, default tofu's 10)
#   plan -r=f    tofu plan -refresh=false: tofu's own cost, no cluster
#   plan         tofu plan, refresh included; must show no changes
#   refresh      plan minus plan -r=f
#   plan/-r=f    a no-change plan against tofu's own plan -refresh=false
#   apply floor  the state's objects written again by one process (one
#                server-side apply each, 10 in flight) into fresh namespaces,
#                until its Deployments and StatefulSets have rolled out: the
#                cluster's own share of an apply (scripts/bench/applyfloor.go)
#   floor        one GET per object of the state, 10 in flight, one process
#   RSS          peak VmHWM of the provider processes during apply / plan
# then destroys. Plans and floor are the median/best of 3. With BENCH_PROFILE=1
# the provider writes CPU profiles (IDP_CPU_PROFILE) of the last plan to
# .stack/bench/p<N>/cpu.*; the API server's requests during one plan are
# printed below the table. With BENCH_REQUESTS=1 one project is first
# applied from empty and planned with the provider's trace log, and its own
# API requests per object are printed below the table too (engine/trace.go).
# Not part of make test.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
sizes=${BENCH_SIZES:-10 25 50}
[[ -z ${BENCH_LARGE:-} ]] || sizes="$sizes 200"
prefix=${BENCH_PREFIX:-bench} # project names: <prefix>00, <prefix>01, …
parallelism=${BENCH_PARALLELISM:-10} # tofu's default
# IDP_STACK_ENV: the env file of a stack another checkout runs (a git
# worktree has no stack of its own); the stack is then used as it is.
if [[ -n ${IDP_STACK_ENV:-} ]]; then
	env_file=$IDP_STACK_ENV
else
	scripts/stack-up.sh >/dev/null
	env_file=.stack/env
fi
set -a
# shellcheck source=/dev/null
. "$env_file"
set +a
tofu=$TF_ACC_TERRAFORM_PATH
base=$ROOT/.stack/bench
mkdir -p "$base"
scripts/dev-provider.sh "$base/provider"
go build -o "$base/bench" ./scripts/bench
# No GitHub here: hooks are neither synced nor checked (the Vault tokens are made up).
export TF_CLI_CONFIG_FILE=$base/provider/tofurc GITHUB_TOKEN= IDP_GITHUB_SYNC_HOOKS=false TF_IN_AUTOMATION=1

vault_put() { # path json
	curl -sSf -o /dev/null -H "X-Vault-Token: $VAULT_TOKEN" -X POST "$VAULT_ADDR/v1/$IDP_VAULT_KV_MOUNT/data/$1" -d "{\"data\":$2}"
}

estate() { # dir n
	cat >"$1/main.tf" <<TF
terraform {
  required_providers {
    idp = { source = "idpkit/idp" }
  }
}
locals { projects = toset([for i in range($2) : format("${prefix}%02d", i)]) }
resource "idp_project" "p" {
  for_each    = local.projects
  name        = each.key
  delete_data = true
}
resource "idp_application" "pinned" {
  for_each = idp_project.p
  project  = each.value.name
  name     = "web"
  git      = { owner = "myorg", repo = "web", branch = "main", hash = "0123456789abcdef0123456789abcdef01234567" }
  port     = 8080
  domains  = ["web-\${each.key}.example.com"]
}
resource "idp_application" "ci" {
  for_each = idp_project.p
  project  = each.value.name
  name     = "api"
  git      = { owner = "myorg", repo = "api", branch = "main" }
  port     = 8080
  domains  = ["api-\${each.key}.example.com"]
}
resource "idp_database" "mysql" {
  for_each    = idp_project.p
  project     = each.value.name
  name        = "db"
  type        = "mysql"
  version     = "10.11"
  size        = "1Gi"
  delete_data = true
}
resource "idp_database" "redis" {
  for_each    = idp_project.p
  project     = each.value.name
  name        = "cache"
  type        = "redis"
  version     = "7.0"
  size        = "1Gi"
  delete_data = true
}
TF
}

# timed <outfile-for-rss> cmd...: runs cmd, prints its seconds; the peak
# provider RSS (MiB) goes to the file.
timed() {
	local rssfile=$1
	shift
	local start
	start=$(date +%s%N)
	"$@" >"$dir/last.log" 2>&1 &
	local pid=$!
	"$base/bench" rss "$pid" >"$rssfile" &
	local mon=$!
	local rc=0
	wait "$pid" || rc=$?
	wait "$mon" || true
	if [[ $rc -eq 2 ]]; then
		echo "changes planned where none should be ($*):" >&2
		grep -E '^\s+[~+-] |^  # ' "$dir/last.log" | head -60 >&2
		exit 1
	elif [[ $rc -ne 0 ]]; then
		echo "failed ($rc): $*" >&2
		tail -40 "$dir/last.log" >&2
		exit 1
	fi
	awk -v s="$start" -v e="$(date +%s%N)" 'BEGIN { printf "%.2f", (e - s) / 1e9 }'
	return 0
}

median3() { printf '%s\n' "$@" | sort -n | sed -n 2p; }

# An estate left by a failed step is destroyed on the way out.
cleanup() {
	if [[ -n ${dir:-} && -f $dir/main.tf ]]; then
		"$tofu" -chdir="$dir" destroy -auto-approve -input=false >"$dir/destroy.log" 2>&1 || echo "destroy failed: $dir/destroy.log" >&2
	fi
}
trap cleanup EXIT

rows=()
notes=()
if [[ -n ${BENCH_REQUESTS:-} ]]; then
	dir=$base/requests
	rm -rf "$dir" && mkdir -p "$dir"
	vault_put "${prefix}00-github-access" '{"username":"ci","token":"t"}'
	vault_put "${prefix}00-registry" '{"username":"ci","password":"p"}'
	estate "$dir" 1
	"$tofu" -chdir="$dir" init -input=false >/dev/null 2>&1 || true
	echo "== requests of one project" >&2
	TF_LOG_PROVIDER=TRACE TF_LOG_PATH=$dir/apply.trace timed "$dir/rss-apply" "$tofu" -chdir="$dir" apply -auto-approve -input=false >/dev/null
	"$tofu" -chdir="$dir" show -json >"$dir/state.json"
	read -r objects _ < <("$base/bench" floor "$dir/state.json")
	TF_LOG_PROVIDER=TRACE TF_LOG_PATH=$dir/plan.trace timed "$dir/rss-plan" "$tofu" -chdir="$dir" plan -input=false -detailed-exitcode >/dev/null
	notes+=("The provider's API requests, one project's apply from empty: $("$base/bench" requests "$dir/apply.trace" "$objects")")
	notes+=("The provider's API requests, one project's no-change plan: $("$base/bench" requests "$dir/plan.trace" "$objects")")
	"$tofu" -chdir="$dir" destroy -auto-approve -input=false >"$dir/destroy.log" 2>&1 || {
		tail -20 "$dir/destroy.log" >&2
		exit 1
	}
	rm "$dir/main.tf"
fi
for n in $sizes; do
	dir=$base/p$n
	rm -rf "$dir" && mkdir -p "$dir"
	for i in $(seq 0 $((n - 1))); do
		p=$(printf '%s%02d' "$prefix" "$i")
		vault_put "$p-github-access" '{"username":"ci","token":"t"}'
		vault_put "$p-registry" '{"username":"ci","password":"p"}'
	done
	estate "$dir" "$n"
	"$tofu" -chdir="$dir" init -input=false >/dev/null 2>&1 || true # dev_overrides: nothing to install
	echo "== $n projects: apply" >&2
	apply=$(timed "$dir/rss-apply" "$tofu" -chdir="$dir" apply -auto-approve -input=false -parallelism="$parallelism")
	cp "$dir/last.log" "$dir/apply.log"
	"$tofu" -chdir="$dir" show -json >"$dir/state.json"
	read -r objects floor < <("$base/bench" floor "$dir/state.json")
	resources=$(grep -o '"address":"idp_[a-z]*\.[a-z]*\[' "$dir/state.json" | wc -l)
	echo "== $n projects: plans" >&2
	norefresh=() full=()
	for i in 1 2 3; do
		norefresh+=("$(timed "$dir/rss-plan" "$tofu" -chdir="$dir" plan -refresh=false -input=false -detailed-exitcode)")
		if [[ $i == 3 ]]; then
			"$base/bench" metrics >"$dir/metrics-before"
			[[ -z ${BENCH_PROFILE:-} ]] || export IDP_CPU_PROFILE=$dir/cpu
		fi
		full+=("$(timed "$dir/rss-plan" "$tofu" -chdir="$dir" plan -input=false -detailed-exitcode)")
		unset IDP_CPU_PROFILE
		[[ $i == 3 ]] && "$base/bench" metrics >"$dir/metrics-after"
	done
	nr=$(median3 "${norefresh[@]}")
	pl=$(median3 "${full[@]}")
	refresh=$(awk -v a="$pl" -v b="$nr" 'BEGIN { printf "%.2f", a - b }')
	ratio=$(awk -v r="$refresh" -v f="$floor" 'BEGIN { printf "%.1f", r / f }')
	pratio=$(awk -v a="$pl" -v b="$nr" 'BEGIN { printf "%.2f", a / b }')

	notes+=("API server during one plan at $n projects (verb count seconds): $("$base/bench" metrics-diff "$dir/metrics-before" "$dir/metrics-after" | paste -sd';' | sed 's/;/; /g')")
	echo "== $n projects: apply floor" >&2
	afloor=$("$base/bench" apply-floor "$dir/state.json" floor-)
	afloor=${afloor#* }
	aratio=$(awk -v a="$apply" -v f="$afloor" 'BEGIN { printf "%.2f", a / f }')
	echo "== $n projects: destroy" >&2
	row="| $n | $resources | $objects | $apply | $afloor | ${aratio}× | $nr | $pl | ${pratio}× | $refresh | $floor | ${ratio}× | $(cat "$dir/rss-apply") | $(cat "$dir/rss-plan") |"
	echo "$row" >&2 # a later size's failure keeps this one
	rows+=("$row")
	"$tofu" -chdir="$dir" destroy -auto-approve -input=false -parallelism="$parallelism" >"$dir/destroy.log" 2>&1 || {
		tail -20 "$dir/destroy.log" >&2
		exit 1
	}
	rm "$dir/main.tf"
done

echo
echo "load: $(uptime | sed 's/.*load average/load average/'), $(nproc) cores; apply and destroy with tofu -parallelism=$parallelism, plans with tofu's default (10)"
echo
echo "| projects | resources | objects | apply s | apply floor s | apply/floor | plan -refresh=false s | plan s | plan/-r=f | refresh s | GET floor s | refresh/floor | RSS apply MiB | RSS plan MiB |"
echo "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
printf '%s\n' "${rows[@]}"
echo
printf -- '- %s\n' "${notes[@]}"
