#!/usr/bin/env bash
# Regenerate docs/ with tfplugindocs from the provider schema (read with
# Terraform through dev_overrides: no registry, no download; OpenTofu's
# schema output has no list resources), examples/ and
# templates/, and check docs/ as the registry does (tfplugindocs validate).
# With --check, also fail if that changed docs/ (CI: clean clone).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

scripts/tools.sh terraform >/dev/null
terraform="$(scripts/tools.sh --path terraform)/terraform"
scripts/dev-provider.sh "$work"
mkdir -p "$work/cfg"
cat >"$work/cfg/main.tf" <<'TF'
terraform {
  required_providers {
    idp = { source = "idpkit/idp" }
  }
}
TF
TF_CLI_CONFIG_FILE="$work/tofurc" "$terraform" -chdir="$work/cfg" providers schema -json |
	# tfplugindocs looks the provider up by its short name.
	sed 's|"registry.terraform.io/idpkit/idp"|"idp"|' >"$work/schema.json"

go tool tfplugindocs generate --provider-name idp --providers-schema "$work/schema.json" >/dev/null
# What the registry requires of docs/: its layout, frontmatter keys, a page
# for every resource, data source and ephemeral resource and none for others.
if ! out=$(go tool tfplugindocs validate --provider-name idp --providers-schema "$work/schema.json" 2>&1); then
	grep -v '\[DEBUG\]' <<<"$out" >&2
	exit 1
fi
if [[ ${1:-} == --check ]]; then
	if [[ -n $(git status --porcelain -- docs) ]]; then
		git status --short -- docs >&2
		echo "docs/ is out of date with the schema, examples/ or templates/: run make docs and commit" >&2
		exit 1
	fi
	echo "docs/ is up to date"
fi
