#!/usr/bin/env bash
# Stop the local stack started by scripts/stack-up.sh and remove its state
# (etcd data, certificates, vault state, the real node) so the next stack-up
# starts fresh, and restore the host: network namespace, pod cgroups and
# mounts, the kubelet's sysctls (scripts/stack/node.sh node_down).
# Logs in .stack/logs are kept. Idempotent.
set -euo pipefail
# shellcheck source=stack/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/stack/lib.sh"
# shellcheck source=stack/node.sh
source "$(dirname "${BASH_SOURCE[0]}")/stack/node.sh"

if [[ ! -d $STATE ]]; then
	echo "stack-down: nothing to do (no $STATE)"
	exit 0
fi

lock_stack
pids=()
for c in "${COMPONENTS[@]}"; do
	p=$(pid_of "$c")
	[[ -n $p ]] && pids+=("$p")
done
for p in $(stray_pids); do
	[[ " ${pids[*]} " == *" $p "* ]] || pids+=("$p")
done

if ((${#pids[@]})); then
	kill -TERM "${pids[@]}" 2>/dev/null || true
	for _ in $(seq 1 50); do # up to 5s
		alive=()
		for p in "${pids[@]}"; do kill -0 "$p" 2>/dev/null && alive+=("$p"); done
		((${#alive[@]})) || break
		sleep 0.1
	done
	if ((${#alive[@]})); then
		echo "stack-down: SIGKILL ${alive[*]}" >&2
		kill -KILL "${alive[@]}" 2>/dev/null || true
		sleep 0.2
	fi
fi

node_down
left=$(stray_pids)
if [[ -n $left ]]; then
	echo "stack-down: processes still running: $left" >&2
	exit 1
fi

# Remove everything but the logs (and the lock).
find "$STATE" -mindepth 1 -maxdepth 1 ! -name logs ! -name lock -exec rm -rf {} +
echo "stack-down: stopped ${#pids[@]} process(es)"
