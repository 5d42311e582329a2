package main

import (
	"embed"
	"io/fs"
)

// files holds small static files copied into the images:
//   - ssh_known_hosts, argo-nsswitch.conf: argo-workflows v3.7.3 hack/ (Apache-2.0)
//   - kaniko-nsswitch.conf: kaniko v1.23.2 files/nsswitch.conf (Apache-2.0)
//   - passwd, group: the accounts of gcr.io/distroless/static (root, nobody, nonroot)
//   - redis-, postgres-, mysql-entrypoint.sh, my.cnf: the database images' (debian_images.go)
//   - nats-config-reloader.sh: the JetStream EventBus's reloader (debian_images.go)
//
//go:embed files
var files embed.FS

func embedded(name string) []byte {
	b, err := fs.ReadFile(files, "files/"+name)
	if err != nil {
		panic(err) // a typo in the table below
	}
	return b
}

// The tag an image name carries must match the version scripts/tools.sh
// builds of its tool (Source.Version): bumping a tool's go.mod without this
// table fails loudly instead of pushing a mislabelled image.

// distrolessStatic is what gcr.io/distroless/static adds to an image: the
// base of upstream's argoexec image.
func distrolessStatic() []File {
	return []File{
		{Path: "/etc/passwd", Mode: 0o644, Src: Source{Data: embedded("passwd")}},
		{Path: "/etc/group", Mode: 0o644, Src: Source{Data: embedded("group")}},
		{Path: "/etc/ssl/certs/ca-certificates.crt", Mode: 0o644, Src: hostCACerts},
		{Path: "/usr/share/zoneinfo", Src: Source{Host: "/usr/share/zoneinfo", Optional: true}},
		{Path: "/tmp", Mode: dir | 0o1777},
		{Path: "/root", Mode: dir | 0o700},
		{Path: "/home/nonroot", Mode: dir | 0o700, UID: 65532, GID: 65532},
	}
}

var distrolessEnv = []string{
	"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
	"SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt",
}

var hostCACerts = Source{Host: "/etc/ssl/certs/ca-certificates.crt",
	Hint: "install Debian's ca-certificates"}

// Images is the list of images the local stack serves from its mirror
// registry. Name is the upstream reference that pods and controllers use;
// containerd is configured to pull those upstream hosts from the mirror,
// where the image is pushed under the same repository path and tag.
func Images() []Image {
	return []Image{
		{
			// The sandbox image (containerd's sandbox_image). Upstream: FROM
			// scratch, /pause, USER 65535:65535.
			Short:  "pause",
			Name:   "registry.k8s.io/pause:3.10",
			Files:  []File{{Path: "/pause", Mode: 0o755, Src: Source{Pause: true}}},
			Config: Config{Entrypoint: []string{"/pause"}, User: "65535:65535"},
		},
		{
			// Upstream: argo-workflows v3.7.3 Dockerfile, target argoexec:
			// distroless/static + /etc/mime.types, /etc/ssh/ssh_known_hosts,
			// /etc/nsswitch.conf, /bin/argoexec; root; ENTRYPOINT ["argoexec"].
			// No kubectl: since v3.7 argoexec runs kubectl in-process
			// (workflow/executor/resource.go runKubectl), upstream's image has
			// none either.
			Short: "argoexec",
			Name:  "quay.io/argoproj/argoexec:v3.7.3",
			Files: append(distrolessStatic(),
				File{Path: "/bin/argoexec", Mode: 0o755, Src: Source{Tool: "argo-workflows", Version: "v3.7.3", Bin: "argoexec"}},
				File{Path: "/etc/mime.types", Mode: 0o644, Src: Source{Host: "/etc/mime.types", Optional: true}},
				File{Path: "/etc/ssh/ssh_known_hosts", Mode: 0o644, Src: Source{Data: embedded("ssh_known_hosts")}},
				File{Path: "/etc/nsswitch.conf", Mode: 0o644, Src: Source{Data: embedded("argo-nsswitch.conf")}},
			),
			Config: Config{Entrypoint: []string{"argoexec"}, Env: distrolessEnv},
		},
		{
			// Upstream: argo-events v1.9.11 Dockerfile: FROM scratch, zoneinfo,
			// CA certificates, /usr/local/bin/argo (the argo CLI, used only by
			// the Argo Workflow trigger: not included), /bin/argo-events.
			// /tmp is an addition.
			Short: "argo-events",
			Name:  "quay.io/argoproj/argo-events:v1.9.11",
			Files: []File{
				{Path: "/bin/argo-events", Mode: 0o755, Src: Source{Tool: "argo-events", Version: "v1.9.11", Bin: "argo-events"}},
				{Path: "/etc/ssl/certs/ca-certificates.crt", Mode: 0o644, Src: hostCACerts},
				{Path: "/usr/share/zoneinfo", Src: Source{Host: "/usr/share/zoneinfo", Optional: true}},
				{Path: "/tmp", Mode: dir | 0o1777},
			},
			Config: Config{Entrypoint: []string{"/bin/argo-events"}},
		},
		{
			// The native NATS EventBus's server. Upstream (docker library
			// nats-streaming): FROM scratch, /nats-streaming-server,
			// ENTRYPOINT ["/nats-streaming-server"], CMD ["-m", "8222"]. The
			// argo-events controller sets the command itself.
			Short: "nats-streaming",
			Name:  "docker.io/library/nats-streaming:0.25.6",
			Files: []File{
				{Path: "/nats-streaming-server", Mode: 0o755, Src: Source{Tool: "nats-streaming", Version: "v0.25.6", Bin: "nats-streaming-server"}},
				{Path: "/tmp", Mode: dir | 0o1777},
			},
			Config: Config{
				Entrypoint:   []string{"/nats-streaming-server"},
				Cmd:          []string{"-m", "8222"},
				ExposedPorts: []string{"4222/tcp", "8222/tcp"},
			},
		},
		{
			// The native NATS EventBus's "metrics" container. Upstream
			// (prometheus-nats-exporter v0.12.0 docker/linux/Dockerfile):
			// FROM scratch, /prometheus-nats-exporter, CA certificates,
			// EXPOSE 7777, ENTRYPOINT ["/prometheus-nats-exporter"],
			// CMD ["--help"]. The argo-events controller sets the args.
			Short: "nats-exporter",
			Name:  "docker.io/natsio/prometheus-nats-exporter:0.12.0",
			Files: []File{
				{Path: "/prometheus-nats-exporter", Mode: 0o755, Src: Source{Tool: "nats-exporter", Version: "v0.12.0", Bin: "prometheus-nats-exporter"}},
				{Path: "/etc/ssl/certs/ca-certificates.crt", Mode: 0o644, Src: hostCACerts},
			},
			Config: Config{
				Entrypoint:   []string{"/prometheus-nats-exporter"},
				Cmd:          []string{"--help"},
				ExposedPorts: []string{"7777/tcp"},
			},
		},
		natsImage(), natsReloaderImage(),
		{
			// Upstream: kaniko v1.23.2 deploy/Dockerfile, target
			// kaniko-executor, minus the cloud credential helpers
			// (docker-credential-gcr/-ecr-login/-acr-env).
			Short: "kaniko",
			Name:  "gcr.io/kaniko-project/executor:v1.23.2",
			Files: []File{
				{Path: "/kaniko", Mode: dir | 0o777},
				{Path: "/kaniko/executor", Mode: 0o755, Src: Source{Tool: "kaniko", Version: "v1.23.2", Bin: "executor"}},
				{Path: "/kaniko/ssl/certs/ca-certificates.crt", Mode: 0o644, Src: hostCACerts},
				{Path: "/kaniko/.docker", Mode: dir | 0o755},
				{Path: "/etc/nsswitch.conf", Mode: 0o644, Src: Source{Data: embedded("kaniko-nsswitch.conf")}},
				{Path: "/workspace", Mode: dir | 0o755},
			},
			Config: Config{
				Entrypoint: []string{"/kaniko/executor"},
				Env: []string{
					"HOME=/root",
					"USER=root",
					"PATH=/usr/local/bin:/kaniko",
					"SSL_CERT_DIR=/kaniko/ssl/certs",
					"DOCKER_CONFIG=/kaniko/.docker/",
					"DOCKER_CREDENTIAL_GCR_CONFIG=/kaniko/.config/gcloud/docker_credential_gcr_config.json",
				},
				WorkingDir: "/workspace",
			},
		},
		redisImage(), postgresImage(), mysqlImage(),
	}
}
