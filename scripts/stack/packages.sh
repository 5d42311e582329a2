#!/usr/bin/env bash
# Install the Debian packages the real node needs (containerd, runc, CNI
# plugins, iptables, ipset, conntrack) when missing. Idempotent; no-op once installed.
# containerd must not start as a service: it runs inside the
# stack's network namespace (scripts/stack/node.sh), so the package's own
# service is kept from starting with policy-rc.d.
set -euo pipefail

# package:file-that-proves-it-is-installed
need=(
	containerd:/usr/bin/containerd
	runc:/usr/sbin/runc
	containernetworking-plugins:/usr/lib/cni/bridge
	iptables:/usr/sbin/iptables
	ipset:/usr/sbin/ipset
	conntrack:/usr/sbin/conntrack
	iproute2:/usr/sbin/ip
	util-linux:/usr/bin/nsenter
	git:/usr/bin/git
	openssl:/usr/bin/openssl
	curl:/usr/bin/curl
)
missing=()
for n in "${need[@]}"; do
	[[ -e ${n#*:} ]] || missing+=("${n%%:*}")
done
((${#missing[@]})) || exit 0

echo "packages: installing ${missing[*]}" >&2
[[ $(id -u) == 0 ]] || { echo "packages: root needed to install ${missing[*]}" >&2; exit 1; }
export DEBIAN_FRONTEND=noninteractive
policy=/usr/sbin/policy-rc.d
created_policy=0
if [[ ! -e $policy ]]; then
	printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod 755 "$policy" && created_policy=1
fi
trap '((created_policy)) && rm -f "$policy"' EXIT
apt_install() { apt-get install -y -q --no-install-recommends "${missing[@]}"; }
if ! apt_install; then
	apt-get update -q
	apt_install
fi
