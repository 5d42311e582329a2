#!/usr/bin/env bash
# Regenerate docs/ with tfplugindocs from the provider schema (read with
# tofu through dev_overrides: no registry, no download), examples/ and
# templates/. With --check, fail instead if docs/ is out of date.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

scripts/tools.sh tofu >/dev/null
tofu="$(scripts/tools.sh --path tofu)/tofu"
scripts/dev-provider.sh "$work"
mkdir -p "$work/cfg"
cat >"$work/cfg/main.tf" <<'TF'
terraform {
  required_providers {
    idp = { source = "idpkit/idp" }
  }
}
TF
TF_CLI_CONFIG_FILE="$work/tofurc" "$tofu" -chdir="$work/cfg" providers schema -json >"$work/schema.json"

out=docs
if [[ ${1:-} == --check ]]; then
	out="$work/docs"
fi
go tool tfplugindocs generate --provider-name idp --providers-schema "$work/schema.json" --rendered-website-dir "$out" >/dev/null
if [[ ${1:-} == --check ]]; then
	if ! diff -ru docs "$out"; then
		echo "docs/ is out of date: run make docs" >&2
		exit 1
	fi
	echo "docs/ is up to date"
fi
