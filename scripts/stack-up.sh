#!/usr/bin/env bash
# Start the local stack (README: "The local stack"): etcd, kube-apiserver,
# kube-controller-manager, kube-scheduler, kwok fake nodes, a storage
# provisioner, a Vault dev server, a bare second apiserver, and the real node
# (scripts/stack/node.sh: kubelet, containerd, kube-proxy, CoreDNS in the
# network namespace idp-node) with what CI needs on it (scripts/stack/platform.sh:
# registries, images, Argo Events, Argo Workflows, Traefik). CRDs come from
# ${IDP_CRDS_DIR:-<repo>/../shared/crds}. Writes .stack/env:
#
#   source .stack/env   # KUBECONFIG, VAULT_ADDR, VAULT_TOKEN, IDP_VAULT_KV_MOUNT,
#                       # TF_ACC_TERRAFORM_PATH, IDP_STACK_* (the real node's services)
#
# Idempotent: exits at once if the stack is already up and healthy. Needs
# root (network namespace, containerd). Debian packages are installed by
# scripts/stack/packages.sh, tools built (once) by scripts/tools.sh. Stop with
# scripts/stack-down.sh, which restores the host. On failure the relevant log
# tail is printed and everything started is stopped (set
# IDP_STACK_KEEP_ON_FAILURE=1 to leave it running for debugging).
set -euo pipefail
# shellcheck source=stack/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/stack/lib.sh"
# shellcheck source=stack/node.sh
source "$(dirname "${BASH_SOURCE[0]}")/stack/node.sh"
# shellcheck source=stack/platform.sh
source "$(dirname "${BASH_SOURCE[0]}")/stack/platform.sh"

t0=$(now_ms)
lock_stack
say() { echo "stack-up: $*"; }
elapsed() { local ms=$(($(now_ms) - t0)); printf '%d.%01ds' $((ms / 1000)) $((ms % 1000 / 100)); }

# Non-curl user agent: the apiserver pretty-prints JSON for curl, and the
# checks below grep compact JSON.
KCURL=(curl -sS --max-time 30 -A idp-stack-up --cacert "$PKI/ca.crt")
kcurl() { "${KCURL[@]}" -H "Authorization: Bearer $ADMIN_TOKEN" "$@"; }
vcurl() { curl -sS --max-time 10 -H "X-Vault-Token: $VAULT_ROOT_TOKEN" "$@"; }

# ---------------------------------------------------------------- already up?
healthy() {
	[[ -f $STATE/env && -f $STATE/admin-token ]] || return 1
	local c
	for c in "${COMPONENTS[@]}"; do [[ -n $(pid_of "$c") ]] || return 1; done
	ADMIN_TOKEN=$(<"$STATE/admin-token")
	[[ $(kcurl --max-time 3 "$APISERVER_URL/readyz" 2>/dev/null) == ok ]] || return 1
	vcurl --max-time 3 -fo /dev/null "$VAULT_URL/v1/$VAULT_KV_MOUNT/config" 2>/dev/null || return 1
}
if healthy; then
	say "already up and healthy ($(elapsed)); source $STATE/env"
	exit 0
fi
if [[ -d $PIDS ]] || [[ -n $(stray_pids) ]]; then
	say "found a partial/unhealthy stack; stopping it first"
	"$ROOT/scripts/stack-down.sh"
fi

# ---------------------------------------------------------------- tools
"$ROOT/scripts/stack/packages.sh"
"$TOOLS_SH" # all of them, biggest first
KUBE_BIN=$("$TOOLS_SH" --path kubernetes)
ETCD_BIN=$("$TOOLS_SH" --path etcd)/etcd
KWOK_BIN=$("$TOOLS_SH" --path kwok)/kwok
VAULT_BIN=$("$TOOLS_SH" --path vault)/vault
TOFU_BIN=$("$TOOLS_SH" --path tofu)/tofu
[[ -d $CRDS_DIR ]] || { echo "stack-up: CRD dir $CRDS_DIR not found (set IDP_CRDS_DIR)" >&2; exit 1; }
CRDS_DIR=$(cd "$CRDS_DIR" && pwd)

# The stack's storage provisioner is this repository's own small program.
PROVISIONER_BIN=$TOOL_CACHE/stack-provisioner/provisioner
(cd "$ROOT" && go build -o "$PROVISIONER_BIN" ./scripts/stack/provisioner && go build -o "$IMAGES_BIN" ./scripts/stack/images) ||
	{ echo "stack-up: building the provisioner or the image builder failed" >&2; exit 1; }

for p in $ETCD_PORT $ETCD_PEER_PORT $APISERVER_PORT $BARE_APISERVER_PORT $KCM_PORT $BARE_KCM_PORT $SCHEDULER_PORT $VAULT_PORT $((VAULT_PORT + 1)) \
	$TRAEFIK_WEB_PORT $TRAEFIK_WEBSECURE_PORT $TRAEFIK_PING_PORT; do
	if port_open "$p"; then
		echo "stack-up: 127.0.0.1:$p is already in use by something else" >&2
		exit 1
	fi
done

# ---------------------------------------------------------------- failure handling
STARTED=0
fail() { # fail <component> <message>
	local log=$LOGS/$1.log
	FAILING=1
	echo "stack-up: FAILED: $2" >&2
	if [[ -f $log ]]; then
		echo "---- last 40 lines of $log" >&2
		tail -n 40 "$log" >&2
		echo "----" >&2
	fi
	if ((STARTED)) && [[ -n ${IDP_STACK_KEEP_ON_FAILURE:-} ]]; then
		echo "stack-up: IDP_STACK_KEEP_ON_FAILURE set: leaving processes running; stop with scripts/stack-down.sh" >&2
	elif ((STARTED)); then
		echo "stack-up: stopping what was started (logs kept in $LOGS)" >&2
		"$ROOT/scripts/stack-down.sh" >&2 || true
	fi
	exit 1
}
# shellcheck disable=SC2154 # rc is set inside the trap
trap 'rc=$?; ((rc == 0)) || [[ -n ${FAILING:-} ]] || { fail stack-up "unexpected error (rc=$rc) at line $LINENO"; }' EXIT

# wait_for <component> <timeout-seconds> <description> <command...>
wait_for() {
	local comp=$1 timeout=$2 desc=$3 deadline pid
	shift 3
	deadline=$(($(now_ms) + timeout * 1000))
	until "$@" >/dev/null 2>&1; do
		if [[ $comp != - ]]; then
			pid=$(pid_of "$comp")
			[[ -n $pid ]] || { fail "$comp" "$comp exited while waiting for $desc"; }
		fi
		if (($(now_ms) > deadline)); then
			fail "${comp/#-/kube-apiserver}" "timed out after ${timeout}s waiting for $desc"
		fi
		sleep 0.2
	done
}

# start <component> <binary> <args...>: run detached, cwd $STATE, log + pid file.
start() {
	local comp=$1 bin=$2 pid
	shift 2
	: >"$LOGS/$comp.log"
	(
		cd "$STATE"
		# Close inherited fds (our lock, a caller's pipes) so the daemon holds none.
		for fd in "/proc/$BASHPID/fd/"*; do
			fd=${fd##*/}
			((fd > 2)) && eval "exec $fd>&-"
		done
		exec setsid "$bin" "$@" </dev/null >>"$LOGS/$comp.log" 2>&1
	) &
	pid=$!
	echo "$pid" >"$PIDS/$comp.pid"
	STARTED=1
}

# ---------------------------------------------------------------- state + pki
mkdir -p "$STATE" "$PKI" "$LOGS" "$PIDS" "$STATE/home" "$STATE/crds"
rm -rf "$STATE/etcd" "$STATE/crds"/* "$STATE/crds-argo" "$STATE/env"
(
	cd "$PKI"
	ec=(-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes)
	openssl req -x509 "${ec[@]}" -keyout ca.key -out ca.crt -days 3650 -subj /CN=idp-stack-ca \
		-addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign,digitalSignature
	openssl req -new "${ec[@]}" -keyout apiserver.key -out apiserver.csr -subj /CN=kube-apiserver
	printf '%s\n' \
		"basicConstraints=CA:FALSE" \
		"keyUsage=critical,digitalSignature,keyEncipherment" \
		"extendedKeyUsage=serverAuth" \
		"subjectAltName=IP:127.0.0.1,DNS:localhost,IP:$HOST_IP,IP:$SERVICE_IP,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local" \
		>apiserver.ext
	openssl x509 -req -in apiserver.csr -CA ca.crt -CAkey ca.key -set_serial "0x$(openssl rand -hex 16)" \
		-days 3650 -extfile apiserver.ext -out apiserver.crt
	# The apiserver's client certificate towards the kubelet (logs, exec).
	openssl req -new "${ec[@]}" -keyout kubelet-client.key -out kubelet-client.csr \
		-subj /O=system:masters/CN=kube-apiserver-kubelet-client
	printf '%s\n' "keyUsage=critical,digitalSignature,keyEncipherment" "extendedKeyUsage=clientAuth" >kubelet-client.ext
	openssl x509 -req -in kubelet-client.csr -CA ca.crt -CAkey ca.key -set_serial "0x$(openssl rand -hex 16)" \
		-days 3650 -extfile kubelet-client.ext -out kubelet-client.crt
	openssl genrsa -out sa.key 2048
	openssl rsa -in sa.key -pubout -out sa.pub
	chmod 600 ./*.key
) >"$LOGS/pki.log" 2>&1 || fail pki "generating certificates with openssl"

ADMIN_TOKEN=$(openssl rand -hex 32)
echo "$ADMIN_TOKEN" >"$STATE/admin-token"
echo "$ADMIN_TOKEN,admin,admin,system:masters" >"$PKI/tokens.csv"
chmod 600 "$STATE/admin-token" "$PKI/tokens.csv"

write_kubeconfig() { # write_kubeconfig <file> <server>
	cat >"$1" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: idp-stack
  cluster:
    server: $2
    certificate-authority-data: $(base64 -w0 <"$PKI/ca.crt")
users:
- name: admin
  user:
    token: $ADMIN_TOKEN
contexts:
- name: idp-stack
  context:
    cluster: idp-stack
    user: admin
    namespace: default
current-context: idp-stack
EOF
	chmod 600 "$1"
}
KUBECONFIG_FILE=$STATE/kubeconfig
BARE_KUBECONFIG_FILE=$STATE/kubeconfig-bare
write_kubeconfig "$KUBECONFIG_FILE" "$APISERVER_URL"
write_kubeconfig "$BARE_KUBECONFIG_FILE" "$BARE_APISERVER_URL"
# Components that read KUBECONFIG themselves (Traefik's CRD provider does,
# besides its endpoint) must not follow one left in the caller's
# environment, e.g. another checkout's stack.
export KUBECONFIG=$KUBECONFIG_FILE

# ---------------------------------------------------------------- node network
STARTED=1 # from here on a failure must undo the namespace too
node_network_up >"$LOGS/node-network.log" 2>&1 || fail node-network "creating network namespace $NODE_NETNS and veth $HOST_VETH (is a previous stack still up? scripts/stack-down.sh)"

# ---------------------------------------------------------------- processes
start etcd "$ETCD_BIN" \
	--name=idp --data-dir="$STATE/etcd" \
	--listen-client-urls="http://127.0.0.1:$ETCD_PORT" --advertise-client-urls="http://127.0.0.1:$ETCD_PORT" \
	--listen-peer-urls="http://127.0.0.1:$ETCD_PEER_PORT" --initial-advertise-peer-urls="http://127.0.0.1:$ETCD_PEER_PORT" \
	--initial-cluster="idp=http://127.0.0.1:$ETCD_PEER_PORT" \
	--unsafe-no-fsync=true --max-request-bytes=8388608 --log-level=warn

# Dev server: in memory, unsealed, fixed root token; -dev-no-kv skips the
# default secret/ mount so only the KV v2 mount created below exists.
start vault /usr/bin/env -u VAULT_ADDR -u VAULT_TOKEN -u VAULT_CACERT -u VAULT_NAMESPACE HOME="$STATE/home" \
	"$VAULT_BIN" server -dev -dev-listen-address="127.0.0.1:$VAULT_PORT" \
	-dev-root-token-id="$VAULT_ROOT_TOKEN" -dev-no-store-token -dev-no-kv -log-level=warn

# start_apiserver <component> <address> <port> <etcd-prefix> <extra flags...>
start_apiserver() {
	local comp=$1 addr=$2 port=$3 prefix=$4
	shift 4
	start "$comp" "$KUBE_BIN/kube-apiserver" \
		--etcd-servers="http://127.0.0.1:$ETCD_PORT" --etcd-prefix="$prefix" \
		--bind-address="$addr" --advertise-address="$addr" --secure-port="$port" \
		--tls-cert-file="$PKI/apiserver.crt" --tls-private-key-file="$PKI/apiserver.key" \
		--client-ca-file="$PKI/ca.crt" --token-auth-file="$PKI/tokens.csv" \
		--authorization-mode=RBAC \
		--service-account-key-file="$PKI/sa.pub" --service-account-signing-key-file="$PKI/sa.key" \
		--service-account-issuer=https://kubernetes.default.svc.cluster.local \
		--service-cluster-ip-range="$SERVICE_CIDR" \
		--allow-privileged=true --cert-dir="$PKI/$comp" --profiling=false "$@"
}
# The `kubernetes` Service points pods at $HOST_IP. PodNodeSelector and
# PodTolerationRestriction let a namespace's annotations send its pods to
# the real node (README: "Which node runs a pod").
start_apiserver kube-apiserver "$HOST_IP" "$APISERVER_PORT" /registry \
	--kubelet-preferred-address-types=InternalIP,Hostname \
	--kubelet-client-certificate="$PKI/kubelet-client.crt" --kubelet-client-key="$PKI/kubelet-client.key" \
	--enable-admission-plugins=PodNodeSelector,PodTolerationRestriction
# The bare server shares etcd under another prefix: a separate, empty cluster
# with no CRDs, like one that an app-of-apps has not bootstrapped yet.
start_apiserver kube-apiserver-bare 127.0.0.1 "$BARE_APISERVER_PORT" /registry-bare --endpoint-reconciler-type=none

etcd_healthy() { [[ $(curl -sf --max-time 2 "http://127.0.0.1:$ETCD_PORT/health") == *'"health":"true"'* ]]; }
wait_for etcd 30 "etcd health" etcd_healthy
apiserver_ready() { [[ $(kcurl --max-time 2 "$APISERVER_URL/readyz") == ok ]]; }
wait_for kube-apiserver 90 "kube-apiserver /readyz" apiserver_ready
bare_ready() { [[ $(kcurl --max-time 2 "$BARE_APISERVER_URL/readyz") == ok ]]; }
wait_for kube-apiserver-bare 90 "bare kube-apiserver /readyz" bare_ready
say "kube-apiservers ready ($(elapsed))"

# kwok posts node heartbeats about once a minute, close to the default 50s
# grace period: under load nodes would flap not-ready and the node
# controller would mark every pod unready for good (kwok does not revive
# them). Fake nodes do not die, so grant an hour.
# Deleting a namespace costs a list and a delete per namespaced kind; at
# the default 20 requests/s of the controller's client, destroying 50 projects
# took almost 6 minutes (the fault suite's scale case).
start kube-controller-manager "$KUBE_BIN/kube-controller-manager" \
	--kubeconfig="$KUBECONFIG_FILE" --authentication-kubeconfig="$KUBECONFIG_FILE" --authorization-kubeconfig="$KUBECONFIG_FILE" \
	--bind-address=127.0.0.1 --secure-port="$KCM_PORT" --cert-dir="$PKI/kcm" \
	--controllers='*,-nodeipam' --leader-elect=false --kube-api-qps=200 --kube-api-burst=400 \
	--node-monitor-grace-period=1h \
	--service-account-private-key-file="$PKI/sa.key" --root-ca-file="$PKI/ca.crt" \
	--cluster-signing-cert-file="$PKI/ca.crt" --cluster-signing-key-file="$PKI/ca.key" \
	--service-cluster-ip-range="$SERVICE_CIDR" --profiling=false

# Only what destroying namespaces needs, on the bare server.
start kube-controller-manager-bare "$KUBE_BIN/kube-controller-manager" \
	--kubeconfig="$BARE_KUBECONFIG_FILE" --authentication-kubeconfig="$BARE_KUBECONFIG_FILE" --authorization-kubeconfig="$BARE_KUBECONFIG_FILE" \
	--bind-address=127.0.0.1 --secure-port="$BARE_KCM_PORT" --cert-dir="$PKI/kcm-bare" \
	--controllers=namespace-controller,garbage-collector-controller --leader-elect=false --profiling=false

start kube-scheduler "$KUBE_BIN/kube-scheduler" \
	--kubeconfig="$KUBECONFIG_FILE" --authentication-kubeconfig="$KUBECONFIG_FILE" --authorization-kubeconfig="$KUBECONFIG_FILE" \
	--bind-address=127.0.0.1 --secure-port="$SCHEDULER_PORT" --cert-dir="$PKI/scheduler" \
	--leader-elect=false --profiling=false

# kwok's built-in stages (node-initialize, node-heartbeat, pod-ready,
# pod-complete, pod-delete from its kustomize/stage/*/fast) drive nodes that
# carry the kwok.x-k8s.io/node=fake annotation. HOME is isolated so a
# ~/.kwok/kwok.yaml cannot change its behaviour.
start kwok /usr/bin/env HOME="$STATE/home" "$KWOK_BIN" \
	--kubeconfig="$KUBECONFIG_FILE" \
	--manage-all-nodes=false --manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake \
	--cidr="$POD_CIDR" --node-ip=127.0.0.1

# A default StorageClass whose claims get hostPath volumes (databases).
start provisioner "$PROVISIONER_BIN" --kubeconfig="$KUBECONFIG_FILE" --root="$STATE/volumes"

# ---------------------------------------------------------------- the real node
node_config "$KUBECONFIG_FILE"
node_start "$KUBECONFIG_FILE"
platform_registries

# ---------------------------------------------------------------- kwok nodes
for i in $(seq 0 $((NODE_COUNT - 1))); do
	n=kwok-node-$i
	zones=(a b c)
	zone=zone-${zones[i % 3]}
	res='{"cpu":"64","memory":"256Gi","pods":"1500","ephemeral-storage":"1Ti"}'
	body=$(
		cat <<EOF
{"apiVersion":"v1","kind":"Node","metadata":{"name":"$n",
 "annotations":{"kwok.x-k8s.io/node":"fake","node.alpha.kubernetes.io/ttl":"0"},
 "labels":{"kubernetes.io/hostname":"$n","kubernetes.io/os":"linux","kubernetes.io/arch":"amd64",
  "beta.kubernetes.io/os":"linux","beta.kubernetes.io/arch":"amd64","kubernetes.io/role":"agent",
  "node-role.kubernetes.io/agent":"","type":"kwok","topology.kubernetes.io/region":"local",
  "topology.kubernetes.io/zone":"$zone"}},
 "spec":{},
 "status":{"allocatable":$res,"capacity":$res,"phase":"Running",
  "nodeInfo":{"architecture":"amd64","operatingSystem":"linux","kubeletVersion":"fake","kubeProxyVersion":"fake",
   "containerRuntimeVersion":"","kernelVersion":"","osImage":"","machineID":"","systemUUID":"","bootID":""}}}
EOF
	)
	code=$(kcurl -o "$LOGS/node-$n.json" -w '%{http_code}' -X POST -H 'Content-Type: application/json' \
		--data-binary "$body" "$APISERVER_URL/api/v1/nodes") || true
	[[ $code == 201 || $code == 409 ]] || { fail stack-up "creating node $n: HTTP $code $(cat "$LOGS/node-$n.json")"; }
	rm -f "$LOGS/node-$n.json"
done

# ---------------------------------------------------------------- CRDs
# Split every *.yaml/*.yml (recursively) into documents; server-side apply each
# CustomResourceDefinition (some are too big for client-side apply).
crd_list=$STATE/crds/list
# shellcheck disable=SC2016 # awk program
platform_crds "$STATE/crds-argo" >"$LOGS/crds-argo.log" 2>&1 || fail crds-argo "copying Argo Workflows CRDs from the module cache"
find "$CRDS_DIR" "$STATE/crds-argo" -type f \( -name '*.yaml' -o -name '*.yml' \) -print0 | sort -z |
	xargs -0 -r awk -v out="$STATE/crds" '
		function flush() {
			if (f != "") { close(f); print f, kind, name }
			f = ""; kind = ""; name = ""; inmeta = 0
		}
		function val(s) { sub(/^[^:]*:[ \t]*/, "", s); sub(/[ \t]+#.*$/, "", s); gsub(/["\047]/, "", s); return s }
		FNR == 1 { flush() }
		/^---/ { flush(); next }
		f == "" { f = sprintf("%s/%03d.yaml", out, ++n) }
		{ print > f }
		/^kind:/ { kind = val($0) }
		/^metadata:/ { inmeta = 1; next }
		inmeta && /^[^ \t#]/ { inmeta = 0 }
		inmeta && /^  name:/ && name == "" { name = val($0) }
		END { flush() }
	' | awk '$2 == "CustomResourceDefinition" && $3 != "" { print $1, $3 }' >"$crd_list"
crd_count=$(wc -l <"$crd_list")
((crd_count > 0)) || { fail stack-up "no CustomResourceDefinitions found under $CRDS_DIR"; }

apply_crd() { # apply_crd <file> <name>
	local out=$1.out code
	code=$(kcurl --max-time 120 -o "$out" -w '%{http_code}' -X PATCH \
		-H 'Content-Type: application/apply-patch+yaml' --data-binary "@$1" \
		"$APISERVER_URL/apis/apiextensions.k8s.io/v1/customresourcedefinitions/$2?fieldManager=stack-up&force=true") || true
	[[ $code == 200 || $code == 201 ]] || { echo "applying CRD $2 ($1): HTTP $code: $(head -c 2000 "$out")"; return 1; }
}
crd_pids=()
while read -r f name; do
	apply_crd "$f" "$name" >"$f.err" 2>&1 &
	crd_pids+=($!)
done <"$crd_list"
crd_failed=0
for p in "${crd_pids[@]}"; do wait "$p" || crd_failed=1; done
if ((crd_failed)); then
	cat "$STATE"/crds/*.err >"$LOGS/crds.log"
	FAILING=1
	fail crds "applying CRDs"
fi

# ---------------------------------------------------------------- vault
wait_for vault 60 "vault /v1/sys/health" curl -sf --max-time 2 "$VAULT_URL/v1/sys/health"
code=$(vcurl -o "$LOGS/vault-mount.json" -w '%{http_code}' -X POST \
	--data '{"type":"kv","options":{"version":"2"},"description":"terraform-provider-idp acceptance tests"}' \
	"$VAULT_URL/v1/sys/mounts/$VAULT_KV_MOUNT") || true
[[ $code == 204 || $code == 200 ]] || { fail vault "mounting kv-v2 at $VAULT_KV_MOUNT: HTTP $code $(cat "$LOGS/vault-mount.json")"; }
rm -f "$LOGS/vault-mount.json"
# A fresh kv-v2 mount is briefly not writable while it initialises.
wait_for vault 30 "kv-v2 mount $VAULT_KV_MOUNT" vcurl -f "$VAULT_URL/v1/$VAULT_KV_MOUNT/config"
say "vault ready ($(elapsed))"

# ---------------------------------------------------------------- readiness
crd_established() {
	local name js
	while read -r _ name; do
		# status is the last field, after the (huge) schema. No grep -q in a
		# pipeline: with pipefail an early exit turns into SIGPIPE failures.
		js=$(kcurl --max-time 5 "$APISERVER_URL/apis/apiextensions.k8s.io/v1/customresourcedefinitions/$name" | tail -c 4000) || return 1
		[[ $js == *'"status":{"conditions":['*'"type":"Established","status":"True"'* ]] || return 1
	done <"$crd_list"
}
nodes_ready() {
	local js
	js=$(kcurl --max-time 5 "$APISERVER_URL/api/v1/nodes") || return 1
	[[ $(grep -o '"type":"Ready","status":"True"' <<<"$js" | wc -l) -ge $NODE_COUNT ]] || return 1
	! grep -qE 'node\.kubernetes\.io/(not-ready|unreachable)|node\.cloudprovider\.kubernetes\.io/uninitialized' <<<"$js"
}
wait_for - 60 "$crd_count CRDs to be Established" crd_established
say "CRDs established ($(elapsed))"
KUBECTL=("$("$TOOLS_SH" --path kubernetes-node)/kubectl" --kubeconfig="$KUBECONFIG_FILE")
platform_manifests "${KUBECTL[@]}" >"$LOGS/platform-manifests.log" 2>&1 || fail platform-manifests "applying the Argo Events controller and Argo's settings"
platform_controllers "$KUBECONFIG_FILE"
wait_for kube-controller-manager 60 "default ServiceAccount in namespace default" \
	kcurl -f --max-time 5 "$APISERVER_URL/api/v1/namespaces/default/serviceaccounts/default"
wait_for kwok 60 "$NODE_COUNT kwok nodes Ready without not-ready taint" nodes_ready
real_node_ready() {
	local js
	js=$(kcurl --max-time 5 "$APISERVER_URL/api/v1/nodes/$NODE_NAME") || return 1
	[[ $js == *'"type":"Ready","status":"True"'* ]]
}
wait_for kubelet 90 "node $NODE_NAME Ready" real_node_ready
node_start_netpol "$KUBECONFIG_FILE"
say "node $NODE_NAME Ready ($(elapsed))"

# ---------------------------------------------------------------- CI platform
platform_images >"$LOGS/images.log" 2>&1 || fail images "building or pushing the stack's images"
say "images in the mirror ($(elapsed))"
argo_events_ready() {
	[[ $("${KUBECTL[@]}" -n "$ARGO_EVENTS_NS" get deploy controller-manager -o 'jsonpath={.status.readyReplicas}') == 1 ]]
}
wait_for kubelet 120 "the Argo Events controller (namespace $ARGO_EVENTS_NS) to be Ready" argo_events_ready
wait_for traefik 30 "Traefik /ping" curl -sf --max-time 2 "http://127.0.0.1:$TRAEFIK_PING_PORT/ping"
say "Argo Events, Argo Workflows and Traefik up ($(elapsed))"
say "default ServiceAccount present, $NODE_COUNT kwok nodes and $NODE_NAME Ready ($(elapsed))"
for c in "${COMPONENTS[@]}"; do
	[[ -n $(pid_of "$c") ]] || { fail "$c" "$c is not running"; }
done

cat >"$STATE/env.tmp" <<EOF
# Written by scripts/stack-up.sh; source it: . .stack/env
export KUBECONFIG='$KUBECONFIG_FILE'
export VAULT_ADDR='$VAULT_URL'
export VAULT_TOKEN='$VAULT_ROOT_TOKEN'
export IDP_VAULT_KV_MOUNT='$VAULT_KV_MOUNT'
export TF_ACC_TERRAFORM_PATH='$TOFU_BIN'
# Provider settings the stack has no real service for.
export IDP_REGISTRY_HOST='registry.local'
export IDP_REGISTRY_PROJECT='idp'
export IDP_WEBHOOK_BASE_URL='https://webhook.local'
# The second API server, without CRDs (bootstrap tests).
export IDP_BARE_KUBECONFIG='$BARE_KUBECONFIG_FILE'
# The real node: pods reach the host at IDP_STACK_HOST_IP (a test's fake
# GitHub listens there).
export IDP_STACK_HOST_IP='$HOST_IP'
# Traefik runs on the host, not as a pod in a namespace: the NetworkPolicy
# of every isolated project (enforced on the real node by kube-router)
# admits it by address, as a platform admits a host-network ingress.
export IDP_ISOLATION_ALLOWED_CIDRS='$HOST_IP/32'
# Traefik's entry point 'web' (IngressRoutes); CI images go to the builds
# registry with these credentials (tests store them in Vault).
export IDP_STACK_TRAEFIK_URL='http://127.0.0.1:$TRAEFIK_WEB_PORT'
export IDP_STACK_REGISTRY_HOST='$REGISTRY_HOST'
export IDP_STACK_REGISTRY_USER='$REGISTRY_USER'
export IDP_STACK_REGISTRY_PASSWORD='$(<"$STATE/registry-password")'
EOF
mv "$STATE/env.tmp" "$STATE/env"
trap - EXIT
say "up in $(elapsed): apiserver $APISERVER_URL, vault $VAULT_URL, $NODE_COUNT nodes, $crd_count CRDs; source $STATE/env"
