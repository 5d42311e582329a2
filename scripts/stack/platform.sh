# What runs on the real node for CI: two registries, the images built here,
# Argo Events, Argo Workflows and Traefik. Sourced by scripts/stack-up.sh
# after lib.sh and node.sh.
#
# The Argo Events controller runs as a pod (it reads its configuration from
# a fixed path, /etc/argo-events, which a pod gets from a ConfigMap); the
# workflow-controller, Traefik and the registries run as host processes
# with the admin kubeconfig, so their logs are files in .stack/logs.
# shellcheck shell=bash disable=SC2034

ARGO_EVENTS_NS=argo-events
ARGO_NS=argo
TRAEFIK_WEB_PORT=$((18080 + off))
TRAEFIK_WEBSECURE_PORT=$((18443 + off))
TRAEFIK_PING_PORT=$((18081 + off))
REGISTRY_USER=idp
MIRROR_DIR=$TOOL_CACHE/mirror # persistent: images are pushed once per content
IMAGES_BIN=$TOOL_CACHE/stack-images/images
# Upstream names, served by the mirror (scripts/stack/images/table.go).
ARGOEXEC_IMAGE=quay.io/argoproj/argoexec:v3.7.3
ARGO_EVENTS_IMAGE=quay.io/argoproj/argo-events:v1.9.11
NATS_STREAMING_IMAGE=nats-streaming:0.25.6
NATS_EXPORTER_IMAGE=natsio/prometheus-nats-exporter:0.12.0
# The JetStream EventBus (scripts/stack/images/debian_images.go).
NATS_IMAGE=nats:2.9.10
NATS_RELOADER_IMAGE=idpkit/nats-config-reloader:1.35

# module_dir <tools dir> <module>: where the Go module cache holds a tool's
# module (its manifests and CRDs are read from there, never copied).
module_dir() {
	(cd "$ROOT/tools/$1" && GOWORK=off go mod download -json "$2") | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p'
}

# platform_crds <dir>: the Argo Workflows CRDs that ../shared does not carry
# (the controller watches them all). Upstream's "minimal" variants: the full
# ones exceed what the apiserver accepts.
platform_crds() {
	local d
	d=$(module_dir argo-workflows github.com/argoproj/argo-workflows/v3) || return 1
	mkdir -p "$1"
	for f in "$d"/manifests/base/crds/minimal/argoproj.io_*.yaml; do
		case ${f##*/} in
		argoproj.io_workflows.yaml | argoproj.io_workflowtemplates.yaml) ;; # from ../shared
		*) cp "$f" "$1/" ;;
		esac
	done
}

# platform_registries: the mirror (upstream images, no auth, cached) and
# the build registry (htpasswd, fresh per stack).
platform_registries() {
	local rbin
	rbin=$("$TOOLS_SH" --path registry)/registry
	mkdir -p "$MIRROR_DIR" "$STATE/registry"
	[[ -f $STATE/registry-password ]] || openssl rand -hex 16 >"$STATE/registry-password"
	chmod 600 "$STATE/registry-password"
	"$IMAGES_BIN" htpasswd "$REGISTRY_USER" - "$STATE/registry/htpasswd" <"$STATE/registry-password"
	start registry-mirror /usr/bin/env REGISTRY_HTTP_ADDR="$MIRROR_HOST" REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY="$MIRROR_DIR" \
		OTEL_TRACES_EXPORTER=none "$rbin" serve "$ROOT/scripts/stack/registry/mirror.yml"
	start registry /usr/bin/env REGISTRY_HTTP_ADDR="$REGISTRY_HOST" REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY="$STATE/registry/data" \
		REGISTRY_AUTH_HTPASSWD_PATH="$STATE/registry/htpasswd" OTEL_TRACES_EXPORTER=none "$rbin" serve "$ROOT/scripts/stack/registry/builds.yml"
}

# platform_images: build (cached) and push the stack's images to the mirror.
platform_images() {
	"$IMAGES_BIN" --root "$ROOT" --registry "$MIRROR_HOST" --wait 30s
}

# platform_controllers: workflow-controller and Traefik (host processes).
platform_controllers() {
	local kc=$1 wbin tbin
	wbin=$("$TOOLS_SH" --path argo-workflows)
	tbin=$("$TOOLS_SH" --path traefik)/traefik
	# DEFAULT_REQUEUE_TIME: Argo reconciles a run at most this often (10 s
	# by default), and every step of a run waits for it; 2 s is what Argo
	# suggests for short steps (docs/guides/ci.md). The agent of HTTP steps
	# (the branch-head check) reports at the same rate.
	start workflow-controller /usr/bin/env LEADER_ELECTION_DISABLE=true DEFAULT_REQUEUE_TIME=2s "$wbin/workflow-controller" \
		--kubeconfig="$kc" --namespace="$ARGO_NS" --configmap=workflow-controller-configmap \
		--executor-image="$ARGOEXEC_IMAGE" --executor-image-pull-policy=IfNotPresent --loglevel=info
	# Traefik serves IngressRoutes on loopback; it reaches pods through the
	# host route into the node's namespace. A file (Traefik takes one source
	# of static configuration), so the token stays out of argv.
	cat >"$STATE/traefik.yml" <<EOF
entryPoints:
  web: {address: "127.0.0.1:$TRAEFIK_WEB_PORT"}
  websecure: {address: "127.0.0.1:$TRAEFIK_WEBSECURE_PORT"}
  traefik: {address: "127.0.0.1:$TRAEFIK_PING_PORT"}
ping: {}
providers:
  kubernetesCRD:
    endpoint: "$APISERVER_URL"
    token: "$ADMIN_TOKEN"
    certAuthFilePath: "$PKI/ca.crt"
    allowCrossNamespace: false
global: {checkNewVersion: false, sendAnonymousUsage: false}
log: {level: INFO}
EOF
	chmod 600 "$STATE/traefik.yml"
	start traefik "$tbin" --configfile="$STATE/traefik.yml"
}

# platform_manifests <kubectl...>: namespaces, the workflow-controller's
# ConfigMap and the Argo Events controller (upstream RBAC, our images).
platform_manifests() {
	local ev
	ev=$(module_dir argo-events github.com/argoproj/argo-events) || return 1
	"$@" apply --server-side --field-manager=stack-up -f - <<EOF
apiVersion: v1
kind: Namespace
metadata:
  name: $ARGO_NS
---
apiVersion: v1
kind: Namespace
metadata:
  name: $ARGO_EVENTS_NS
  annotations: $(real_node_annotations)
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: workflow-controller-configmap
  namespace: $ARGO_NS
data:
  # Loopback-only stack: no metrics or telemetry listeners.
  metricsConfig: |
    enabled: false
  telemetryConfig: |
    enabled: false
EOF
	"$@" apply --server-side --field-manager=stack-up -n "$ARGO_EVENTS_NS" \
		-f "$ev/manifests/base/argo-events-sa.yaml" \
		-f "$ev/manifests/cluster-install/rbac/argo-events-cluster-role.yaml" \
		-f "$ev/manifests/cluster-install/rbac/argo-events-binding.yaml"
	"$@" apply --server-side --field-manager=stack-up -f - <<EOF
apiVersion: v1
kind: ConfigMap
metadata:
  name: argo-events-controller-config
  namespace: $ARGO_EVENTS_NS
data:
  controller-config.yaml: |
    eventBus:
      nats:
        versions:
        - version: 0.22.1
          natsStreamingImage: $NATS_STREAMING_IMAGE
          metricsExporterImage: $NATS_EXPORTER_IMAGE
      jetstream:
        versions:
        - version: latest
          natsImage: $NATS_IMAGE
          metricsExporterImage: $NATS_EXPORTER_IMAGE
          configReloaderImage: $NATS_RELOADER_IMAGE
          startCommand: /nats-server
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: controller-manager
  namespace: $ARGO_EVENTS_NS
spec:
  replicas: 1
  selector:
    matchLabels: {app: controller-manager}
  template:
    metadata:
      labels: {app: controller-manager}
    spec:
      serviceAccountName: argo-events-sa
      securityContext: {runAsNonRoot: true, runAsUser: 9731}
      containers:
      - name: controller-manager
        image: $ARGO_EVENTS_IMAGE
        args: [controller]
        env:
        - {name: NAMESPACE, valueFrom: {fieldRef: {fieldPath: metadata.namespace}}}
        - {name: ARGO_EVENTS_IMAGE, value: "$ARGO_EVENTS_IMAGE"}
        volumeMounts:
        - {mountPath: /etc/argo-events, name: controller-config-volume}
        readinessProbe:
          httpGet: {path: /readyz, port: 8081}
          periodSeconds: 3
      volumes:
      - name: controller-config-volume
        configMap: {name: argo-events-controller-config}
EOF
}

# real_node_annotations: the namespace annotations that send a namespace's
# pods to the real node (PodNodeSelector + PodTolerationRestriction), as a
# flow-style YAML map.
real_node_annotations() {
	printf '{"scheduler.alpha.kubernetes.io/node-selector": "kubernetes.io/hostname=%s", "scheduler.alpha.kubernetes.io/defaultTolerations": %s}' \
		"$NODE_NAME" "'[{\"key\": \"$NODE_TAINT_KEY\", \"operator\": \"Exists\", \"effect\": \"NoSchedule\"}]'"
}
