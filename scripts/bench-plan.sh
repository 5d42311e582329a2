#!/usr/bin/env bash
# Prints how long `tofu plan` takes (refresh included) for one project with
# N applications on the local stack: the number that kubernetes_manifest-style
# per-resource discovery makes grow into minutes. Usage: bench-plan.sh [N]
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
n=${1:-20}
scripts/stack-up.sh >/dev/null
set -a
# shellcheck source=/dev/null
. .stack/env
set +a
tofu=$TF_ACC_TERRAFORM_PATH
dir=.stack/bench
rm -rf "$dir" && mkdir -p "$dir"
scripts/dev-provider.sh "$dir/provider"
export TF_CLI_CONFIG_FILE=$ROOT/$dir/provider/tofurc GITHUB_TOKEN=
curl -sS -o /dev/null -H "X-Vault-Token: $VAULT_TOKEN" -X POST "$VAULT_ADDR/v1/$IDP_VAULT_KV_MOUNT/data/bench-github-access" \
	-d '{"data":{"username":"ci","token":"t"}}'
curl -sS -o /dev/null -H "X-Vault-Token: $VAULT_TOKEN" -X POST "$VAULT_ADDR/v1/$IDP_VAULT_KV_MOUNT/data/bench-registry" \
	-d '{"data":{"username":"ci","password":"p"}}'
cat >"$dir/main.tf" <<TF
terraform {
  required_providers {
    idp = { source = "idpkit/idp" }
  }
}
resource "idp_project" "bench" {
  name = "bench"
}
resource "idp_application" "app" {
  count   = $n
  project = idp_project.bench.name
  name    = "app\${count.index}"
  git     = { owner = "myorg", repo = "app\${count.index}", branch = "main" }
  port    = 8080
  domains = ["app\${count.index}.example.com"]
}
TF
t() { local s=$SECONDS; "$@" >/dev/null; echo $((SECONDS - s)); }
echo "apply, 1 project + $n applications: $(t "$tofu" -chdir="$dir" apply -auto-approve -input=false)s"
for i in 1 2 3; do
	start=$(date +%s%N)
	"$tofu" -chdir="$dir" plan -input=false -detailed-exitcode >/dev/null
	echo "plan $i (refresh of $((n + 1)) resources, $((n * 6 + 8)) objects): $((($(date +%s%N) - start) / 1000000)) ms"
done
"$tofu" -chdir="$dir" destroy -auto-approve -input=false >/dev/null
