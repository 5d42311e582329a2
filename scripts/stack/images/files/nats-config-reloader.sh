#!/bin/sh
# The JetStream EventBus's "reloader" container (argo-events v1.9.11 passes
# "-pid <file> -config <file>"): when a file in the config's directory (the
# ConfigMap and the auth Secret, projected together) changes, send
# nats-server SIGHUP, as upstream's nats-server-config-reloader does. It
# polls instead of using inotify: kubelet swaps projected files through a
# symlink, and a poll every few seconds is enough for a config that changes
# when the EventBus's replicas do.
pid_file=/var/run/nats/nats.pid
dirs=
while [ $# -gt 0 ]; do
	case $1 in
	-pid) pid_file=$2; shift 2 ;;
	-config) dirs="$dirs $(dirname "$2")"; shift 2 ;;
	*) shift ;;
	esac
done
[ -n "$dirs" ] || dirs=/etc/nats-config
sum() { for d in $dirs; do cat "$d"/* 2>/dev/null; done | md5sum; }
last=$(sum)
echo "watching$dirs; nats-server pid in $pid_file"
while sleep "${RELOAD_INTERVAL:-5}"; do
	now=$(sum)
	[ "$now" = "$last" ] && continue
	if pid=$(cat "$pid_file" 2>/dev/null) && kill -HUP "$pid"; then
		echo "config changed: sent SIGHUP to nats-server (pid $pid)"
		last=$now
	fi
done
