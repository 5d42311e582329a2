#!/usr/bin/env bash
# Build the local-stack tools (kubernetes, etcd, tofu, kwok, vault) from the Go
# modules pinned in tools/<tool>/go.mod and cache them outside the work tree.
#
#   scripts/tools.sh [tool...]     build what is missing (default: all tools)
#   scripts/tools.sh --path <tool> print the tool's bin dir (does not build)
#
# Cache: ${IDP_CACHE_DIR:-$HOME/.cache/terraform-provider-idp}/<tool>-<version>/
# where <version> is the version of the tool's main module in its go.mod, so
# bumping go.mod rebuilds. Builds go to a temp dir that is renamed into place
# only when complete, so an interrupted build is never taken for a cached one.
#
# IDP_TOOLS_JOBS (default 2): how many tools to build at the same time.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
TOOLS_DIR=$ROOT/tools
CACHE=${IDP_CACHE_DIR:-$HOME/.cache/terraform-provider-idp}
JOBS=${IDP_TOOLS_JOBS:-2}
# Biggest first so the long builds overlap.
ALL_TOOLS=(vault kubernetes tofu kwok etcd)

die() { echo "tools.sh: $*" >&2; exit 1; }

tool_module() {
	case $1 in
	kubernetes) echo k8s.io/kubernetes ;;
	etcd) echo go.etcd.io/etcd/server/v3 ;;
	tofu) echo github.com/opentofu/opentofu ;;
	kwok) echo sigs.k8s.io/kwok ;;
	vault) echo github.com/hashicorp/vault ;;
	*) die "unknown tool '$1' (known: ${ALL_TOOLS[*]})" ;;
	esac
}

tool_pkgs() {
	case $1 in
	kubernetes) echo k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager k8s.io/kubernetes/cmd/kube-scheduler ;;
	etcd) echo . ;;
	tofu) echo github.com/opentofu/opentofu/cmd/tofu ;;
	kwok) echo sigs.k8s.io/kwok/cmd/kwok ;;
	vault) echo github.com/hashicorp/vault ;;
	esac
}

tool_bins() {
	case $1 in
	kubernetes) echo kube-apiserver kube-controller-manager kube-scheduler ;;
	*) echo "$1" ;;
	esac
}

# Version of the tool's main module as required in tools/<tool>/go.mod.
tool_version() {
	local mod gomod v
	mod=$(tool_module "$1")
	gomod=$TOOLS_DIR/$1/go.mod
	[[ -f $gomod ]] || die "$gomod not found"
	v=$(awk -v m="$mod" '
		/^require[ \t]*\(/ { inreq = 1; next }
		inreq && /^\)/ { inreq = 0; next }
		/^require[ \t]/ && $2 == m { print $3; exit }
		inreq && $1 == m { print $2; exit }
	' "$gomod")
	[[ -n $v ]] || die "cannot find 'require $mod' in $gomod"
	echo "$v"
}

tool_dir() { echo "$CACHE/$1-$(tool_version "$1")"; }

is_built() {
	local dir=$1 tool=$2 b
	for b in $(tool_bins "$tool"); do
		[[ -x $dir/$b && -s $dir/$b ]] || return 1
	done
}

tool_ldflags() {
	local v=$2
	case $1 in
	kubernetes)
		# What hack/lib/version.sh stamps; otherwise the apiserver reports v0.0.0-master.
		local minor=${v#v1.}
		minor=${minor%%.*}
		local x
		for x in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
			printf ' -X %s.gitVersion=%s -X %s.gitMajor=1 -X %s.gitMinor=%s -X %s.gitTreeState=clean' \
				"$x" "$v" "$x" "$x" "$minor" "$x"
		done
		;;
	esac
}

# build_one <tool>: build if missing; prints one summary line.
build_one() {
	local tool=$1 version dir tmp start log rc
	version=$(tool_version "$tool")
	dir=$CACHE/$tool-$version
	start=$SECONDS
	mkdir -p "$CACHE/logs"
	exec {lockfd}>"$CACHE/.$tool.lock"
	flock "$lockfd"
	if is_built "$dir" "$tool"; then
		echo "$tool $version: $dir (cached, $((SECONDS - start))s)"
		return 0
	fi
	rm -rf "$dir" "$CACHE/.tmp-$tool-"*
	tmp=$(mktemp -d "$CACHE/.tmp-$tool-$version.XXXXXX")
	log=$CACHE/logs/$tool-$version.log
	echo "$tool $version: building (log: $log)" >&2
	rc=0
	(
		cd "$TOOLS_DIR/$tool"
		# shellcheck disable=SC2046
		GOWORK=off GOFLAGS=-mod=readonly CGO_ENABLED=0 \
			go build -trimpath -buildvcs=false \
			-ldflags="-s -w$(tool_ldflags "$tool" "$version")" \
			-o "$tmp/" $(tool_pkgs "$tool")
	) >"$log" 2>&1 || rc=$?
	if ((rc != 0)) || ! is_built "$tmp" "$tool"; then
		rm -rf "$tmp"
		echo "tools.sh: building $tool $version failed (rc=$rc); last lines of $log:" >&2
		tail -n 40 "$log" >&2
		return 1
	fi
	chmod 755 "$tmp"
	mv -T "$tmp" "$dir"
	echo "$tool $version: $dir (built in $((SECONDS - start))s)"
}

if [[ ${1:-} == --path ]]; then
	[[ $# -eq 2 ]] || die "usage: $0 --path <tool>"
	tool_dir "$2"
	exit 0
fi
if [[ ${1:-} == -h || ${1:-} == --help ]]; then
	sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'
	exit 0
fi

command -v go >/dev/null || die "go not found in PATH"
tools=("$@")
((${#tools[@]})) || tools=("${ALL_TOOLS[@]}")
for t in "${tools[@]}"; do tool_version "$t" >/dev/null; done
mkdir -p "$CACHE"

total=$SECONDS
failed=0
running=0
for t in "${tools[@]}"; do
	if ((JOBS <= 1)); then
		(build_one "$t") || failed=1
		continue
	fi
	while ((running >= JOBS)); do
		wait -n || failed=1
		running=$((running - 1))
	done
	(build_one "$t") &
	running=$((running + 1))
done
while ((running > 0)); do
	wait -n || failed=1
	running=$((running - 1))
done
((failed == 0)) || die "some tools failed to build"
if ((SECONDS - total > 1)); then echo "tools: done in $((SECONDS - total))s"; fi
