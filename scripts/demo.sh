#!/usr/bin/env bash
# make demo: bring the local stack up, apply examples/quickstart with this
# provider (built here, used through dev_overrides), show what landed.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

scripts/stack-up.sh
set -a
# shellcheck source=/dev/null
. .stack/env
set +a
tofu=$TF_ACC_TERRAFORM_PATH

# What a platform team keeps in Vault before the first apply. Written only
# if absent (check-and-set 0), so re-running the demo never rotates them.
seed() {
	curl -sS -o /dev/null -H "X-Vault-Token: $VAULT_TOKEN" -X POST \
		"$VAULT_ADDR/v1/$IDP_VAULT_KV_MOUNT/data/$1" -d "{\"options\":{\"cas\":0},\"data\":$2}" || true
}
seed shop-github-access '{"username":"ci-bot","token":"demo-github-token"}'
seed shop-registry '{"username":"robot$shop","password":"demo-registry-password"}'

export IDP_REGISTRY_HOST=${IDP_REGISTRY_HOST:-registry.local} IDP_REGISTRY_PROJECT=${IDP_REGISTRY_PROJECT:-demo}
export IDP_WEBHOOK_BASE_URL=${IDP_WEBHOOK_BASE_URL:-https://webhook.local}

scripts/dev-provider.sh .stack/provider
export TF_CLI_CONFIG_FILE=$ROOT/.stack/provider/tofurc
mkdir -p .stack/quickstart
cp examples/quickstart/*.tf .stack/quickstart/
"$tofu" -chdir=.stack/quickstart apply -auto-approve -input=false
echo
go run ./scripts/show shop
echo
echo "Plan after apply (should say: No changes):"
"$tofu" -chdir=.stack/quickstart plan -input=false -detailed-exitcode | tail -3
