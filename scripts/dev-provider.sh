#!/usr/bin/env bash
# Build this provider into <dir>/bin and write <dir>/tofurc, a CLI config
# whose dev_overrides make tofu use that build for idpkit/idp:
#   TF_CLI_CONFIG_FILE=<dir>/tofurc tofu plan
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
dir=${1:?usage: dev-provider.sh <dir>}
mkdir -p "$dir/bin"
dir=$(cd "$dir" && pwd)
(cd "$ROOT" && go build -o "$dir/bin/terraform-provider-idp" .)
cat >"$dir/tofurc" <<RC
provider_installation {
  dev_overrides {
    "registry.opentofu.org/idpkit/idp"  = "$dir/bin"
    "registry.terraform.io/idpkit/idp" = "$dir/bin"
  }
  direct {}
}
RC
