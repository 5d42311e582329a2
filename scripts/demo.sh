#!/usr/bin/env bash
# make demo: bring the local stack up, then (scripts/demo) apply
# examples/quickstart with this provider (built here, used through
# dev_overrides) on the stack's real node, push two commits to the
# application's repository on a local fake GitHub and follow each through
# CI to what Traefik serves. Extra arguments go to scripts/demo (-hold keeps
# the fake GitHub up at the end until Ctrl-C).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

if [[ ! -f .stack/env ]]; then
	cache=${IDP_CACHE_DIR:-$HOME/.cache/terraform-provider-idp}
	cat <<EOF
make demo: starting the local stack. The first run builds about 15 tools from
their Go modules (30-45 minutes on 2 cores; a line per tool below) and caches
them in $cache for later runs; build logs: $cache/logs.
EOF
fi
scripts/stack-up.sh
set -a
# shellcheck source=/dev/null
. .stack/env
set +a

scripts/dev-provider.sh .stack/provider
export TF_CLI_CONFIG_FILE=$ROOT/.stack/provider/tofurc
exec go run ./scripts/demo "$@"
