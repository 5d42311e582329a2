#!/usr/bin/env bash
# Build the local-stack tools (kubernetes, etcd, tofu, kwok, vault) and the
# tools make test adds (golangci-lint, terraform, goreleaser) from the Go modules pinned in
# tools/<tool>/go.mod and cache them outside the work tree.
#
#   scripts/tools.sh [tool...]     build what is missing (default: all stack tools)
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
ALL_TOOLS=(vault kubernetes kubernetes-node argo-events tofu traefik argo-workflows kaniko coredns registry kube-router kwok etcd nats-streaming nats-exporter)
# Built only when named (scripts/test.sh), not by stack-up.
OTHER_TOOLS=(golangci-lint terraform goreleaser)

die() { echo "tools.sh: $*" >&2; exit 1; }

# tool_table <tool>: "<module dir under tools/> <main module>", then one
# "<package> <binary>" line per command to build.
tool_table() {
	case $1 in
	kubernetes)
		echo kubernetes k8s.io/kubernetes
		echo k8s.io/kubernetes/cmd/kube-apiserver kube-apiserver
		echo k8s.io/kubernetes/cmd/kube-controller-manager kube-controller-manager
		echo k8s.io/kubernetes/cmd/kube-scheduler kube-scheduler
		;;
	kubernetes-node) # the real node: same version as the control plane
		echo kubernetes-node k8s.io/kubernetes
		echo k8s.io/kubernetes/cmd/kubelet kubelet
		echo k8s.io/kubernetes/cmd/kube-proxy kube-proxy
		echo k8s.io/kubernetes/cmd/kubectl kubectl
		;;
	etcd) echo etcd go.etcd.io/etcd/server/v3 && echo . etcd ;;
	tofu) echo tofu github.com/opentofu/opentofu && echo github.com/opentofu/opentofu/cmd/tofu tofu ;;
	# make test's second acceptance run (and terraform query).
	terraform) echo terraform github.com/hashicorp/terraform && echo github.com/hashicorp/terraform terraform ;;
	kwok) echo kwok sigs.k8s.io/kwok && echo sigs.k8s.io/kwok/cmd/kwok kwok ;;
	vault) echo vault github.com/hashicorp/vault && echo github.com/hashicorp/vault vault ;;
	coredns) echo coredns github.com/coredns/coredns && echo github.com/coredns/coredns coredns ;;
	argo-events) echo argo-events github.com/argoproj/argo-events && echo github.com/argoproj/argo-events/cmd argo-events ;;
	argo-workflows)
		echo argo-workflows github.com/argoproj/argo-workflows/v3
		echo github.com/argoproj/argo-workflows/v3/cmd/workflow-controller workflow-controller
		echo github.com/argoproj/argo-workflows/v3/cmd/argoexec argoexec
		;;
	traefik) echo traefik github.com/traefik/traefik/v3 && echo github.com/traefik/traefik/v3/cmd/traefik traefik ;;
	registry) echo registry github.com/distribution/distribution/v3 && echo github.com/distribution/distribution/v3/cmd/registry registry ;;
	kaniko) echo kaniko github.com/GoogleContainerTools/kaniko && echo github.com/GoogleContainerTools/kaniko/cmd/executor executor ;;
	nats-streaming) echo nats-streaming github.com/nats-io/nats-streaming-server && echo github.com/nats-io/nats-streaming-server nats-streaming-server ;;
	nats-exporter) echo nats-exporter github.com/nats-io/prometheus-nats-exporter && echo github.com/nats-io/prometheus-nats-exporter prometheus-nats-exporter ;;
	# The real node's NetworkPolicy enforcer (only its firewall runs).
	kube-router) echo kube-router github.com/cloudnativelabs/kube-router/v2 && echo github.com/cloudnativelabs/kube-router/v2/cmd/kube-router kube-router ;;
	# The linter make test runs (.golangci.yml).
	golangci-lint) echo golangci-lint github.com/golangci/golangci-lint/v2 && echo github.com/golangci/golangci-lint/v2/cmd/golangci-lint golangci-lint ;;
	# make test's release check (goreleaser check on .goreleaser.yml).
	goreleaser) echo goreleaser github.com/goreleaser/goreleaser/v2 && echo github.com/goreleaser/goreleaser/v2 goreleaser ;;
	*) die "unknown tool '$1' (known: ${ALL_TOOLS[*]} ${OTHER_TOOLS[*]})" ;;
	esac
}
# tool_typical <tool>: about how many seconds a cold build takes on 2 cores
# with another build beside it (progress messages only). From a fresh
# machine's cold build (2026-12-06: vault 29 min, kubernetes 20, traefik 16,
# argo-workflows 14; 70 min for all, two at a time), and for vault and
# traefik the CPU time of their trimmed builds (32 CPU-minutes for both).
# kubernetes-node reuses kubernetes' compiled packages.
tool_typical() {
	case $1 in
	kubernetes | vault) echo 1200 ;;
	argo-workflows) echo 840 ;;
	traefik | argo-events | tofu) echo 700 ;;
	terraform | goreleaser) echo 300 ;;
	coredns | kwok | kubernetes-node | kaniko | registry | kube-router) echo 250 ;;
	golangci-lint) echo 150 ;; # 95 s alone with an empty Go build cache
	*) echo 90 ;;
	esac
}
tool_moddir() { tool_table "$1" | awk 'NR == 1 { print $1 }'; }
tool_module() { tool_table "$1" | awk 'NR == 1 { print $2 }'; }
tool_bins() { tool_table "$1" | awk 'NR > 1 { print $2 }'; }

# Version of the tool's main module as required in tools/<tool>/go.mod.
tool_version() {
	local mod gomod v
	mod=$(tool_module "$1")
	gomod=$TOOLS_DIR/$(tool_moddir "$1")/go.mod
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

# tool_variant <tool>: how our build differs from upstream's default (see
# tool_tags and tool_patched), part of the cache directory's name so a
# change of it rebuilds.
tool_variant() {
	case $1 in
	vault) echo -minimal ;;
	traefik) echo -nodns ;;
	esac
}

tool_dir() { echo "$CACHE/$1-$(tool_version "$1")$(tool_variant "$1")"; }

# tool_tags <tool>: build tags. Vault's own "minimal" build is the same
# server without the plugins and storage backends the stack never loads
# (dev/inmem for the stack, raft for the fault suite's private Vault): 128 MB
# of Go source to compile instead of 308.
tool_tags() {
	case $1 in
	vault) echo minimal ;;
	esac
}

is_built() {
	local dir=$1 tool=$2 b
	for b in $(tool_bins "$tool"); do
		[[ -x $dir/$b && -s $dir/$b ]] || return 1
	done
}

tool_ldflags() {
	local v=$2
	case $1 in
	kubernetes | kubernetes-node)
		# What hack/lib/version.sh stamps; otherwise the apiserver reports v0.0.0-master.
		local minor=${v#v1.}
		minor=${minor%%.*}
		local x
		for x in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
			printf ' -X %s.gitVersion=%s -X %s.gitMajor=1 -X %s.gitMinor=%s -X %s.gitTreeState=clean' \
				"$x" "$v" "$x" "$x" "$minor" "$x"
		done
		;;
	terraform) echo " -X github.com/hashicorp/terraform/version.dev=no" ;; # else it says 1.x.y-dev
	goreleaser) echo " -X main.version=$v" ;;
	esac
}

# tool_patched <tool> <dir>: for a module whose zip lacks a file, set up a
# build directory in dir (our go.mod, replacing the module by a patched copy
# of its source) and print it; print nothing to build in tools/<dir>.
tool_patched() {
	case $1 in
	argo-workflows)
		# Upstream's signal_linux.go is a symlink to signal_darwin.go, and
		# module zips drop symlinks (go build -overlay may not touch the
		# module cache): build from a copy with the file restored.
		local src mod
		mod=$(tool_module "$1")
		src=$(cd "$TOOLS_DIR/argo-workflows" && GOWORK=off go mod download -json "$mod" |
			sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p') || return 1
		[[ -n $src ]] || return 1
		cp -r "$src" "$2/src" && chmod -R u+w "$2/src" || return 1
		cp "$2/src/workflow/executor/osspecific/signal_darwin.go" "$2/src/workflow/executor/osspecific/signal_linux.go"
		cp "$TOOLS_DIR/argo-workflows/go.mod" "$TOOLS_DIR/argo-workflows/go.sum" "$2/"
		(cd "$2" && GOWORK=off go mod edit -replace "$mod=./src") || return 1
		echo "$2"
		;;
	traefik)
		# lego's DNS-01 providers (about 150 DNS services' SDKs, a third of
		# traefik's source) behind one function; the stack's ACME uses
		# HTTP-01 and TLS-ALPN-01: build with a lego whose registry of DNS
		# providers refuses every name.
		local lego mod=github.com/go-acme/lego/v4
		lego=$(cd "$TOOLS_DIR/traefik" && GOWORK=off go list -m -f '{{.Dir}}' "$mod") || return 1
		[[ -n $lego ]] || return 1
		cp -r "$lego" "$2/lego" && chmod -R u+w "$2/lego" || return 1
		cat >"$2/lego/providers/dns/zz_gen_dns_providers.go" <<-'GO' || return 1
			// Package dns: this build of traefik has no DNS-01 providers (scripts/tools.sh).
			package dns

			import (
				"fmt"

				"github.com/go-acme/lego/v4/challenge"
			)

			// NewDNSChallengeProviderByName refuses every provider.
			func NewDNSChallengeProviderByName(name string) (challenge.Provider, error) {
				return nil, fmt.Errorf("DNS-01 provider %q: this traefik is built without DNS-01 providers", name)
			}
		GO
		gofmt -w "$2/lego/providers/dns/zz_gen_dns_providers.go" || return 1
		cp "$TOOLS_DIR/traefik/go.mod" "$TOOLS_DIR/traefik/go.sum" "$2/"
		(cd "$2" && GOWORK=off go mod edit -replace "$mod=./lego") || return 1
		echo "$2"
		;;
	terraform)
		# The remote-state backends azure, consul, cos, gcs, kubernetes,
		# oci, oss, pg and s3 (and internal/legacy, which only they use)
		# are nested modules that upstream's go.mod replaces by directories
		# its module zip leaves out, and the proxy serves none of them:
		# build without those backends. local, http, inmem, remote and
		# cloud stay; the acceptance tests use local.
		local src mod s init
		mod=$(tool_module "$1")
		src=$(cd "$TOOLS_DIR/terraform" && GOWORK=off go mod download -json "$mod" |
			sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p') || return 1
		[[ -n $src ]] || return 1
		cp -r "$src" "$2/src" && chmod -R u+w "$2/src" || return 1
		init=$2/src/internal/backend/init/init.go
		for s in azure consul cos gcs kubernetes oci oss pg s3; do
			sed -i "\#\"$mod/internal/backend/remote-state/$s\"#d" "$init"
			(cd "$2/src" && GOWORK=off go mod edit -droprequire="$mod/internal/backend/remote-state/$s" \
				-dropreplace="$mod/internal/backend/remote-state/$s") || return 1
		done
		sed -i -E '/^\s*"(azurerm|consul|cos|gcs|kubernetes|oci|oss|pg|s3)":\s+func\(\)/d' "$init"
		(cd "$2/src" && GOWORK=off go mod edit -droprequire="$mod/internal/legacy" -dropreplace="$mod/internal/legacy") || return 1
		cp "$TOOLS_DIR/terraform/go.mod" "$TOOLS_DIR/terraform/go.sum" "$2/"
		(cd "$2" && GOWORK=off go mod edit -replace "$mod=./src") || return 1
		echo "$2"
		;;
	esac
}

# build_one <tool>: build if missing; prints one summary line.
build_one() {
	local tool=$1 version dir tmp start log rc
	version=$(tool_version "$tool")
	dir=$(tool_dir "$tool")
	start=$SECONDS
	mkdir -p "$CACHE/logs"
	exec {lockfd}>"$CACHE/.$tool.lock"
	flock "$lockfd"
	if is_built "$dir" "$tool"; then
		echo "$tool $version: $dir (cached, $((SECONDS - start))s)"
		return 0
	fi
	rm -rf "$dir" "$CACHE/.tmp-$tool-"* "$CACHE/.build-$tool."*
	tmp=$(mktemp -d "$CACHE/.tmp-$tool-$version.XXXXXX")
	log=$CACHE/logs/$tool-$version.log
	echo "$tool $version: building, usually about $((($(tool_typical "$tool") + 59) / 60)) min (log: $log)" >&2
	rc=0
	(
		build=$(mktemp -d "$CACHE/.build-$tool.XXXXXX")
		trap 'rm -rf "$build"' EXIT
		dir=$(tool_patched "$tool" "$build") || exit 1
		cd "${dir:-$TOOLS_DIR/$(tool_moddir "$tool")}"
		flags=(-trimpath -buildvcs=false "-tags=$(tool_tags "$tool")" "-ldflags=-s -w$(tool_ldflags "$tool" "$version")")
		tool_table "$tool" | awk 'NR > 1' | while read -r pkg bin; do
			echo "== go build $pkg -> $bin"
			GOWORK=off GOFLAGS=-mod=readonly CGO_ENABLED=0 go build "${flags[@]}" -o "$tmp/$bin" "$pkg" || exit 1
		done
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
	sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'
	exit 0
fi

command -v go >/dev/null || die "go not found in PATH"
tools=("$@")
((${#tools[@]})) || tools=("${ALL_TOOLS[@]}")
for t in "${tools[@]}"; do tool_version "$t" >/dev/null; done
mkdir -p "$CACHE"

total=$SECONDS
missing=() expect=0
for t in "${tools[@]}"; do
	is_built "$(tool_dir "$t")" "$t" && continue
	missing+=("$t")
	expect=$((expect + $(tool_typical "$t")))
done
if ((${#missing[@]})); then
	echo "tools: building ${#missing[@]} of ${#tools[@]} (${missing[*]}), $JOBS at a time: about $(((expect / JOBS + 59) / 60)) min on 2 cores"
fi
failed=0
running=0
done_count=0
finished() { # one build ended: count it, and say how far the batch is
	done_count=$((done_count + 1))
	((${#missing[@]} == 0)) || echo "tools: $done_count/${#tools[@]} ready ($((SECONDS - total))s)"
}
for t in "${tools[@]}"; do
	if ((JOBS <= 1)); then
		(build_one "$t") || failed=1
		finished
		continue
	fi
	while ((running >= JOBS)); do
		wait -n || failed=1
		running=$((running - 1))
		finished
	done
	(build_one "$t") &
	running=$((running + 1))
done
while ((running > 0)); do
	wait -n || failed=1
	running=$((running - 1))
	finished
done
((failed == 0)) || die "some tools failed to build"
if ((SECONDS - total > 1)); then echo "tools: done in $((SECONDS - total))s"; fi
