# Shared settings and helpers for scripts/stack-up.sh and scripts/stack-down.sh.
# shellcheck shell=bash

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
KCM_PORT=$((16257 + off))
SCHEDULER_PORT=$((16259 + off))
VAULT_PORT=$((18200 + off)) # vault -dev also takes VAULT_PORT+1 for its cluster listener
VAULT_ROOT_TOKEN=idp-dev-root
VAULT_KV_MOUNT=idp
NODE_COUNT=3
SERVICE_CIDR=10.96.0.0/16
SERVICE_IP=10.96.0.1
POD_CIDR=10.244.0.1/16

APISERVER_URL=https://127.0.0.1:$APISERVER_PORT
VAULT_URL=http://127.0.0.1:$VAULT_PORT

# Started in this order; stopped all at once.
COMPONENTS=(etcd vault kube-apiserver kube-controller-manager kube-scheduler kwok)

now_ms() { date +%s%3N; }

# pid_of <component>: the recorded pid if that process still runs, else nothing.
pid_of() {
	local f=$PIDS/$1.pid pid
	[[ -f $f ]] || return 0
	pid=$(<"$f")
	[[ $pid =~ ^[0-9]+$ ]] || return 0
	# Guard against pid reuse: the process must have been started in $STATE.
	[[ $(readlink "/proc/$pid/cwd" 2>/dev/null) == "$STATE" ]] || return 0
	echo "$pid"
}

# Processes started from the tool cache with $STATE as working directory, even
# if their pid file is gone.
stray_pids() {
	local cache p
	cache=$(dirname "$("$TOOLS_SH" --path etcd)")
	for p in $(pgrep -f "^$cache/" 2>/dev/null || true); do
		[[ $(readlink "/proc/$p/cwd" 2>/dev/null) == "$STATE" ]] && echo "$p"
	done
	return 0
}

port_open() { (: <"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
