package main

import "fmt"

// The database images the real node runs: the official images' names,
// built from Debian bookworm packages (debian.go), with an entrypoint that
// follows the official image's documented environment and mount paths
// (files/*-entrypoint.sh, POSIX sh run by busybox). Each image runs its
// entrypoint as root, which hands the data directory to the server's
// account (uid/gid 999, as upstream) and restarts itself as that account
// with Debian's gosu, as upstream's do. The tag is the Debian package's
// version; the table checks it.
//
//	redis:7.0      Debian redis-server 7.0 (redis-tools: redis-cli)
//	postgres:15    Debian postgresql-15 (postgresql-client-15: psql)
//	mysql:10.11    Debian mariadb-server-core 10.11 (mariadb-client-core:
//	               mariadb, mysql): a MySQL-protocol server under the name
//	               the provider renders for type "mysql"
//
// mongodb has no Debian package and stays on the kwok nodes.

// busyboxApplets are linked into /bin: what the entrypoints, the
// provider's password change (sh -c, cat) and a shell in the container use.
var busyboxApplets = []string{"awk", "basename", "cat", "chmod", "chown", "cp", "cut", "date", "dirname", "echo", "env",
	"find", "grep", "head", "hostname", "id", "kill", "ln", "ls", "mkdir", "mktemp", "mv", "ps", "rm", "rmdir", "sed",
	"sh", "sleep", "sort", "tail", "test", "touch", "tr", "true", "false", "uname", "wc", "xargs"}

// debianDatabase is a database image: packages (plus busybox and gosu),
// the account the server runs as, the entrypoint and extra files.
func debianDatabase(short, name, account string, deb Debian, entrypoint string, extra []File, cfg Config) Image {
	deb.Packages = append(deb.Packages, "busybox", "gosu")
	files := []File{
		{Path: "/", Src: Source{Debian: &deb}},
		{Path: "/etc/passwd", Mode: 0o644, Src: Source{Data: []byte(fmt.Sprintf(
			"root:x:0:0:root:/root:/bin/sh\n%[1]s:x:999:999::/nonexistent:/usr/sbin/nologin\n", account))}},
		{Path: "/etc/group", Mode: 0o644, Src: Source{Data: []byte(fmt.Sprintf("root:x:0:\n%s:x:999:\n", account))}},
		{Path: "/usr/local/bin/docker-entrypoint.sh", Mode: 0o755, Src: Source{Data: embedded(entrypoint)}},
		{Path: "/tmp", Mode: dir | 0o1777},
		{Path: "/root", Mode: dir | 0o700},
	}
	for _, a := range busyboxApplets {
		files = append(files, File{Path: "/bin/" + a, Src: Source{Link: "busybox"}})
	}
	cfg.Entrypoint = []string{"docker-entrypoint.sh"}
	if len(cfg.Env) == 0 {
		cfg.Env = []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}
	}
	return Image{Short: short, Name: name, Files: append(files, extra...), Config: cfg}
}

func redisImage() Image {
	// Upstream (docker-library/redis 7.0, debian): WORKDIR /data (redis's),
	// ENTRYPOINT docker-entrypoint.sh, CMD redis-server, EXPOSE 6379.
	return debianDatabase("redis", "docker.io/library/redis:7.0", "redis",
		Debian{Packages: []string{"redis-server"}, VersionPrefix: "5:7.0."},
		"redis-entrypoint.sh",
		[]File{{Path: "/data", Mode: dir | 0o755, UID: 999, GID: 999}},
		Config{Cmd: []string{"redis-server"}, WorkingDir: "/data", ExposedPorts: []string{"6379/tcp"}})
}

func postgresImage() Image {
	// Upstream (docker-library/postgres 15, bookworm): PATH ends with the
	// server's bin directory, PGDATA=/var/lib/postgresql/data (1777),
	// /var/run/postgresql (3777, the socket), STOPSIGNAL SIGINT (fast
	// shutdown), EXPOSE 5432, CMD postgres. Not taken from Debian:
	// postgresql-common (perl wrappers; the binaries are called directly),
	// locales (initdb --locale=C) and LLVM (JIT only).
	return debianDatabase("postgres", "docker.io/library/postgres:15", "postgres",
		Debian{Packages: []string{"postgresql-15", "tzdata"}, VersionPrefix: "15.",
			Exclude: []string{"postgresql-common", "postgresql-client-common", "ssl-cert", "locales", "locales-all",
				"libc-l10n", "libllvm14", "openssl", "netbase", "libz3-4"},
			Drop: []string{"usr/lib/postgresql/15/lib/llvmjit.so", "usr/lib/postgresql/15/lib/bitcode", "usr/share/locale"}},
		"postgres-entrypoint.sh",
		[]File{
			{Path: "/var/lib/postgresql", Mode: dir | 0o755, UID: 999, GID: 999},
			{Path: "/var/lib/postgresql/data", Mode: dir | 0o1777, UID: 999, GID: 999},
			{Path: "/var/run/postgresql", Mode: dir | 0o3777, UID: 999, GID: 999},
		},
		Config{Cmd: []string{"postgres"}, ExposedPorts: []string{"5432/tcp"}, StopSignal: "SIGINT",
			Env: []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:/usr/lib/postgresql/15/bin",
				"PGDATA=/var/lib/postgresql/data"}})
}

func mysqlImage() Image {
	// Upstream (docker-library/mariadb 10.11): /var/lib/mysql and
	// /run/mysqld (mysql's), ENTRYPOINT docker-entrypoint.sh, CMD mariadbd,
	// EXPOSE 3306; served as "mysql" (the provider's type).
	return debianDatabase("mysql", "docker.io/library/mysql:10.11", "mysql",
		Debian{Packages: []string{"mariadb-server-core", "mariadb-client-core"}, VersionPrefix: "1:10.11.",
			Exclude: []string{"mariadb-common", "mysql-common", "galera-4", "libdbi-perl", "libconfig-inifiles-perl",
				"gawk", "iproute2", "lsof", "procps", "psmisc", "rsync", "socat", "libcap2-bin"},
			Drop: []string{"usr/share/locale"}},
		"mysql-entrypoint.sh",
		[]File{
			{Path: "/etc/mysql/my.cnf", Mode: 0o644, Src: Source{Data: embedded("my.cnf")}},
			{Path: "/var/lib/mysql", Mode: dir | 0o755, UID: 999, GID: 999},
			{Path: "/run/mysqld", Mode: dir | 0o755, UID: 999, GID: 999},
		},
		Config{Cmd: []string{"mariadbd"}, ExposedPorts: []string{"3306/tcp"}})
}

// natsImage is the JetStream EventBus's server (argo-events runs its
// controller config's startCommand, /nats-server, with --config).
// Upstream (docker library nats 2.9, scratch): /nats-server, ENTRYPOINT
// ["/nats-server"], CMD ["--config", "nats-server.conf"], EXPOSE 4222
// 6222 8222. Built from Debian's nats-server (with JetStream); the tag is
// its version. The container runs as root, as upstream's: the data volume
// at /data/jetstream needs no chown.
func natsImage() Image {
	return Image{
		Short: "nats",
		Name:  "docker.io/library/nats:2.9.10",
		Files: []File{
			{Path: "/", Src: Source{Debian: &Debian{Packages: []string{"nats-server"}, VersionPrefix: "2.9.10-"}}},
			{Path: "/nats-server", Src: Source{Link: "usr/sbin/nats-server"}},
			{Path: "/tmp", Mode: dir | 0o1777},
		},
		Config: Config{
			Entrypoint:   []string{"/nats-server"},
			Cmd:          []string{"--config", "nats-server.conf"},
			ExposedPorts: []string{"4222/tcp", "6222/tcp", "8222/tcp"},
		},
	}
}

// natsReloaderImage is the JetStream EventBus's "reloader" container:
// files/nats-config-reloader.sh run by Debian's busybox. Upstream's
// (natsio/nats-server-config-reloader, from github.com/nats-io/nack) is
// not on the Go module proxy, so it cannot be built here; this does the
// same job (SIGHUP nats-server when its config changes) by polling. Named
// for what it is; the tag is busybox's version.
func natsReloaderImage() Image {
	files := []File{
		{Path: "/", Src: Source{Debian: &Debian{Packages: []string{"busybox"}, VersionPrefix: "1:1.35."}}},
		{Path: "/usr/local/bin/nats-config-reloader", Mode: 0o755, Src: Source{Data: embedded("nats-config-reloader.sh")}},
	}
	for _, a := range []string{"sh", "cat", "dirname", "md5sum", "sleep", "kill", "echo"} {
		files = append(files, File{Path: "/bin/" + a, Src: Source{Link: "busybox"}})
	}
	return Image{
		Short: "nats-reloader",
		Name:  "docker.io/idpkit/nats-config-reloader:1.35",
		Files: files,
		Config: Config{
			Entrypoint: []string{"/usr/local/bin/nats-config-reloader"},
			Env:        []string{"PATH=/usr/local/bin:/usr/bin:/bin"},
		},
	}
}
