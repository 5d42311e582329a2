# Shared settings and helpers for scripts/stack-up.sh and scripts/stack-down.sh.
# shellcheck shell=bash disable=SC2034 # settings used by the sourcing scripts

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)
STATE=$ROOT/.stack
PKI=$STATE/pki
LOGS=$STATE/logs
PIDS=$STATE/pids
TOOLS_SH=$ROOT/scripts/tools.sh
CRDS_DIR=${IDP_CRDS_DIR:-$ROOT/../shared/crds}

# Everything listens on loopback only. IDP_STACK_PORT_OFFSET shifts every port
# (for a second stack on the same host, e.g. another checkout).
off=${IDP_STACK_PORT_OFFSET:-0}
ETCD_PORT=$((23790 + off))
ETCD_PEER_PORT=$((23800 + off))
APISERVER_PORT=$((16443 + off))
BARE_APISERVER_PORT=$((16444 + off)) # a second API server without CRDs (bootstrap tests)
KCM_PORT=$((16257 + off))
BARE_KCM_PORT=$((16258 + off))
SCHEDULER_PORT=$((16259 + off))
VAULT_PORT=$((18200 + off)) # vault -dev also takes VAULT_PORT+1 for its cluster listener
VAULT_ROOT_TOKEN=idp-dev-root
VAULT_KV_MOUNT=idp
NODE_COUNT=3
SERVICE_CIDR=10.96.0.0/16
SERVICE_IP=10.96.0.1
POD_CIDR=10.244.0.1/16

# The real node's network (scripts/stack/node.sh): the host end of its veth
# pair is where pods and the node reach host services (the apiserver, the
# registries, a test's fake GitHub); one real node per host.
HOST_VETH=idp-host
HOST_IP=10.200.0.1
NODE_IP=10.200.0.2
MIRROR_HOST=$HOST_IP:5001   # upstream images (docker.io, quay.io, ...), no auth
REGISTRY_HOST=$HOST_IP:5000 # what CI builds push and apps pull, htpasswd auth
PAUSE_IMAGE=registry.k8s.io/pause:3.10

# The main apiserver listens on the host end of the veth pair so the node
# and pods reach it; the bare one stays on loopback.
APISERVER_URL=https://$HOST_IP:$APISERVER_PORT
BARE_APISERVER_URL=https://127.0.0.1:$BARE_APISERVER_PORT
VAULT_URL=http://127.0.0.1:$VAULT_PORT

# Started in this order; stopped all at once.
COMPONENTS=(etcd vault kube-apiserver kube-apiserver-bare kube-controller-manager kube-controller-manager-bare
	kube-scheduler kwok provisioner containerd kubelet kube-proxy kube-router coredns registry-mirror registry
	workflow-controller traefik)

now_ms() { date +%s%3N; }

TOOL_CACHE=${IDP_CACHE_DIR:-$HOME/.cache/terraform-provider-idp} # as in tools.sh
TOOL_CACHE=$(cd "$TOOL_CACHE" 2>/dev/null && pwd -P || echo "$TOOL_CACHE")

# ours <pid>: the process runs a binary from the tool cache with $STATE as its
# working directory (every stack process does; guards against pid reuse).
ours() {
	[[ $(readlink "/proc/$1/cwd" 2>/dev/null) == "$STATE" ]] &&
		[[ $(readlink "/proc/$1/exe" 2>/dev/null) == @("$TOOL_CACHE"/*|/usr/bin/containerd) ]]
}

# pid_of <component>: the recorded pid if that process still runs, else nothing.
pid_of() {
	local f=$PIDS/$1.pid pid
	[[ -f $f ]] || return 0
	pid=$(<"$f")
	[[ $pid =~ ^[0-9]+$ ]] && ours "$pid" && echo "$pid"
	return 0
}

# All stack processes, even those whose pid file is gone (no procps needed).
stray_pids() {
	local c p
	# shellcheck disable=SC2044 # /proc/<pid>/cwd has no spaces
	for c in $(find /proc/[0-9]*/cwd -maxdepth 0 -lname "$STATE" 2>/dev/null); do
		p=${c#/proc/}
		p=${p%/cwd}
		ours "$p" && echo "$p"
	done
	return 0
}

# lock_stack: serialise stack-up/stack-down runs on this checkout (fd 9; the
# nested stack-down run by stack-up inherits the lock).
lock_stack() {
	[[ -z ${IDP_STACK_LOCKED:-} ]] || return 0
	mkdir -p "$STATE"
	exec 9>"$STATE/lock"
	if ! flock -w 600 9; then
		echo "$(basename "$0"): another stack-up/stack-down holds $STATE/lock" >&2
		exit 1
	fi
	export IDP_STACK_LOCKED=1
}

port_open() { (: <"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
