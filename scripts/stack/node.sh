# The real node: kubelet + containerd + runc + CNI + kube-proxy + CoreDNS in
# their own network namespace, joined to the host by a veth pair. Sourced by
# scripts/stack-up.sh and scripts/stack-down.sh after lib.sh.
#
# Why a namespace: every address the node and its pods use (10.200.0.0/30,
# the pod range, iptables rules, the cni0 bridge) lives inside it, so nothing
# leaves the machine and teardown is deleting the namespace. What a network
# namespace does not cover (cgroups, mounts, the kubelet's sysctls, pod
# namespaces under /run/netns) node_down undoes one by one.
# shellcheck shell=bash disable=SC2034

NODE_NETNS=idp-node
NODE_NAME=idp-node
NODE_DIR=$STATE/node
# Sockets and shim state: short paths (unix sockets are limited to 108 bytes).
NODE_RUN=/run/idp-node
NODE_CGROUP=idp-node # cgroup parent of every pod, under each v1 hierarchy
NODE_SOCK=$NODE_RUN/containerd.sock
NODE_POD_CIDR=10.88.0.0/24
NODE_DNS=$NODE_IP # CoreDNS listens on the node's address, inside the namespace
# The node takes this taint; a namespace whose pods tolerate it and select
# the node (see README: "Which node runs a pod") runs for real.
NODE_TAINT_KEY=idp.dev/real-node
# The kubelet changes these host sysctls; node_down restores them.
NODE_SYSCTLS=(kernel/panic kernel/panic_on_oops vm/overcommit_memory vm/panic_on_oom kernel/keys/root_maxkeys kernel/keys/root_maxbytes)

# nsenter, not `ip netns exec`: that also unshares the mount namespace and
# remounts /sys, hiding the cgroup hierarchies and the kubelet's volume
# mounts from containerd.
in_node() { nsenter --net="/run/netns/$NODE_NETNS" -- "$@"; }

# node_network_up: namespace, veth pair, routes. Needed before the
# apiserver starts (it listens on HOST_IP, the host end of the pair).
node_network_up() {
	ip netns add "$NODE_NETNS"
	ip link add "$HOST_VETH" type veth peer name eth0 netns "$NODE_NETNS"
	ip addr add "$HOST_IP/30" dev "$HOST_VETH"
	ip link set "$HOST_VETH" up
	in_node ip addr add "$NODE_IP/30" dev eth0
	in_node ip link set eth0 up
	in_node ip link set lo up
	# No default route inside: pods reach the host and each other, nothing else.
	ip route add "$NODE_POD_CIDR" via "$NODE_IP" dev "$HOST_VETH"
	# Per-namespace settings: forwarding for pods; bridged pod-to-pod traffic
	# through iptables so Service DNAT replies are un-NATed.
	in_node sysctl -qw net.ipv4.ip_forward=1 net.bridge.bridge-nf-call-iptables=1
}

node_sysctls_save() {
	local s
	[[ -f $NODE_DIR/sysctls ]] && return 0
	for s in "${NODE_SYSCTLS[@]}"; do
		[[ -f /proc/sys/$s ]] && echo "$s $(</proc/sys/"$s")"
	done >"$NODE_DIR/sysctls"
}

# node_config: containerd, CNI, kubelet, kube-proxy and CoreDNS settings.
node_config() { # node_config <kubeconfig for the node>
	local kc=$1 c
	mkdir -p "$NODE_DIR"/{containerd,cni/net.d,cni/ipam,kubelet,certs.d} "$NODE_RUN"
	for c in /sys/fs/cgroup/*/; do
		[[ -d $c && ! -L ${c%/} ]] && mkdir -p "$c$NODE_CGROUP"
	done
	cat >"$NODE_DIR/containerd/config.toml" <<EOF
version = 2
root = "$NODE_DIR/containerd/root"
state = "$NODE_RUN/containerd"
disabled_plugins = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.zfs", "io.containerd.tracing.processor.v1.otlp", "io.containerd.internal.v1.tracing"]
[grpc]
  address = "$NODE_SOCK"
[ttrpc]
  address = "$NODE_RUN/containerd.sock.ttrpc"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "$PAUSE_IMAGE"
  # The bounding set lacks CAP_SYS_RESOURCE: runc could not raise oom_score_adj.
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$NODE_DIR/cni/net.d"
  [plugins."io.containerd.grpc.v1.cri".registry]
    config_path = "$NODE_DIR/certs.d"
EOF
	# Every image comes from the stack's registries: upstream hosts are
	# served by the mirror, and `server` replaces the upstream, so a missing
	# image fails instead of reaching out.
	local h
	for h in docker.io quay.io gcr.io registry.k8s.io ghcr.io "$MIRROR_HOST" "$REGISTRY_HOST"; do
		local srv=http://$MIRROR_HOST
		[[ $h == "$REGISTRY_HOST" ]] && srv=http://$REGISTRY_HOST
		mkdir -p "$NODE_DIR/certs.d/$h"
		printf 'server = "%s"\n\n[host."%s"]\n  capabilities = ["pull", "resolve"]\n' "$srv" "$srv" >"$NODE_DIR/certs.d/$h/hosts.toml"
	done
	cat >"$NODE_DIR/cni/net.d/10-idp.conflist" <<EOF
{"cniVersion": "0.4.0", "name": "idp", "plugins": [
  {"type": "bridge", "bridge": "cni0", "isGateway": true, "ipMasq": true, "hairpinMode": true,
   "ipam": {"type": "host-local", "dataDir": "$NODE_DIR/cni/ipam",
            "ranges": [[{"subnet": "$NODE_POD_CIDR"}]], "routes": [{"dst": "0.0.0.0/0"}]}},
  {"type": "portmap", "capabilities": {"portMappings": true}}
]}
EOF
	# Pods with dnsPolicy Default get this instead of the host's resolver.
	echo "nameserver $NODE_DNS" >"$NODE_DIR/resolv.conf"
	cat >"$NODE_DIR/kubelet.yaml" <<EOF
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: $NODE_IP
healthzBindAddress: 127.0.0.1
readOnlyPort: 0
containerRuntimeEndpoint: unix://$NODE_SOCK
cgroupDriver: cgroupfs
cgroupRoot: /$NODE_CGROUP
failCgroupV1: false
failSwapOn: false
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: true}
  x509: {clientCAFile: $PKI/ca.crt}
authorization: {mode: Webhook}
clusterDNS: [$NODE_DNS]
clusterDomain: cluster.local
resolvConf: $NODE_DIR/resolv.conf
registerWithTaints:
- {key: $NODE_TAINT_KEY, value: "true", effect: NoSchedule}
serializeImagePulls: false
evictionHard: {memory.available: "100Mi", nodefs.available: "1%", imagefs.available: "1%"}
imageGCHighThresholdPercent: 100
maxPods: 110
EOF
	cat >"$NODE_DIR/kube-proxy.yaml" <<EOF
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
clientConnection: {kubeconfig: $kc}
hostnameOverride: $NODE_NAME
mode: iptables
clusterCIDR: $NODE_POD_CIDR
bindAddress: $NODE_IP
healthzBindAddress: 127.0.0.1:10256
metricsBindAddress: 127.0.0.1:10249
# Leave the host's conntrack sysctls alone.
conntrack: {maxPerCore: 0, tcpEstablishedTimeout: 0s, tcpCloseWaitTimeout: 0s}
iptables: {localhostNodePorts: false}
EOF
	cat >"$NODE_DIR/Corefile" <<EOF
cluster.local:53 in-addr.arpa:53 {
    bind $NODE_DNS
    errors
    kubernetes cluster.local in-addr.arpa {
        kubeconfig $kc
        pods insecure
        fallthrough in-addr.arpa
    }
    cache 5
}
# Names outside the cluster: answered here, never forwarded off the machine.
.:53 {
    bind $NODE_DNS
    template ANY ANY {
        rcode NXDOMAIN
    }
}
EOF
}

# node_start: the node's daemons, inside the namespace.
node_start() { # node_start <kubeconfig for the node>
	local kc=$1 kbin
	kbin=$("$TOOLS_SH" --path kubernetes-node)
	node_sysctls_save
	start containerd nsenter --net="/run/netns/$NODE_NETNS" -- /usr/bin/containerd --config "$NODE_DIR/containerd/config.toml"
	start kubelet nsenter --net="/run/netns/$NODE_NETNS" -- "$kbin/kubelet" \
		--config="$NODE_DIR/kubelet.yaml" --kubeconfig="$kc" --root-dir="$NODE_DIR/kubelet" \
		--hostname-override="$NODE_NAME" --node-ip="$NODE_IP" \
		--node-labels="type=real,$NODE_TAINT_KEY=true" --cert-dir="$NODE_DIR/kubelet/pki" -v=1
	start kube-proxy nsenter --net="/run/netns/$NODE_NETNS" -- "$kbin/kube-proxy" --config="$NODE_DIR/kube-proxy.yaml" -v=1
	start coredns nsenter --net="/run/netns/$NODE_NETNS" -- "$("$TOOLS_SH" --path coredns)/coredns" -conf "$NODE_DIR/Corefile"
}

# node_start_netpol: the bridge CNI enforces no NetworkPolicy, so without
# this every isolation test would pass regardless. kube-router runs only its
# firewall (iptables + ipset, what k3s embeds); routes, the CNI and Services
# stay with the bridge plugin and kube-proxy. It admits the node's own
# traffic to local pods (kubelet probes); the host (10.200.0.1, where
# Traefik runs) is an outside address, admitted only by an ipBlock. It
# reads its Node object once, at start, and exits without one: start it
# once the kubelet has registered the node.
node_start_netpol() { # node_start_netpol <kubeconfig for the node>
	start kube-router nsenter --net="/run/netns/$NODE_NETNS" -- "$("$TOOLS_SH" --path kube-router)/kube-router" \
		--kubeconfig="$1" --hostname-override="$NODE_NAME" \
		--run-firewall=true --run-router=false --run-service-proxy=false --enable-cni=false --enable-pod-egress=false \
		--service-cluster-ip-range="$SERVICE_CIDR" --health-port=0 --metrics-port=0 -v=1
}

# node_down: undo everything node_network_up/node_config/node_start did.
# The daemons themselves are stopped with the other stack processes first.
node_down() {
	local p c m s v
	# Pods: every process in our cgroups, and the shims in our namespace.
	for _ in 1 2 3; do
		for c in /sys/fs/cgroup/*/"$NODE_CGROUP"; do
			[[ -d $c ]] || continue
			find "$c" -name cgroup.procs -exec cat {} + 2>/dev/null
		done | sort -u | xargs -r kill -KILL 2>/dev/null || true
		if ip netns list 2>/dev/null | grep -qw "$NODE_NETNS"; then
			ip netns pids "$NODE_NETNS" 2>/dev/null | xargs -r kill -KILL 2>/dev/null || true
		fi
		sleep 0.3
	done
	# Mounts under our directories (volumes, rootfs, shm), innermost first.
	for m in $(awk -v a="$NODE_DIR/" -v b="$NODE_RUN/" 'index($2, a) == 1 || index($2, b) == 1 { print $2 }' /proc/mounts | sort -r); do
		umount -l "$m" 2>/dev/null || true
	done
	# Pod network namespaces the CNI made (their processes are gone).
	for m in /run/netns/cni-*; do
		[[ -e $m ]] || continue
		umount -l "$m" 2>/dev/null || true
		rm -f "$m"
	done
	ip netns delete "$NODE_NETNS" 2>/dev/null || true
	ip link delete "$HOST_VETH" 2>/dev/null || true
	for c in /sys/fs/cgroup/*/"$NODE_CGROUP"; do
		[[ -d $c ]] || continue
		find "$c" -depth -type d -exec rmdir {} + 2>/dev/null || true
	done
	if [[ -f $NODE_DIR/sysctls ]]; then
		while read -r s v; do
			[[ -n $s ]] && echo "$v" >"/proc/sys/$s" 2>/dev/null || true
		done <"$NODE_DIR/sysctls"
	fi
	rm -rf "$NODE_RUN"
}
