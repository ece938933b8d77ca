#!/bin/bash
# hack/up.sh up|down: `make up` and `make down` on a fresh Debian 12 machine.
# up installs what the build needs (apt-get; Go >= 1.26 through
# hack/go-toolchain.sh), builds k8s-single, then brings a cluster up: on this
# host with `k8s-single up` when systemd is PID 1, else in a systemd-nspawn
# machine with `k8s-single machine up`. down undoes whichever it was.
set -euo pipefail
cd "$(dirname "$0")/.."
export CACHE_DIR=${CACHE_DIR:-/var/cache/k8s-single}
[ "$(id -u)" = 0 ] || { echo "make $1 installs a cluster: run it as root (sudo make $1)" >&2; exit 1; }
systemd_pid1() { [ "$(cat /proc/1/comm 2>/dev/null)" = systemd ]; }
case ${1:-} in
up)
	need=(git make ca-certificates)
	missing=()
	for p in "${need[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
	if [ ${#missing[@]} -gt 0 ]; then
		echo "installing ${missing[*]}"
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
	fi
	godir=$(hack/go-toolchain.sh)
	export PATH=$godir:$PATH
	make -s build
	if systemd_pid1; then
		exec bin/k8s-single up
	fi
	echo "systemd is not PID 1 here ($(cat /proc/1/comm)): the cluster runs in a systemd-nspawn machine (k8s-single machine up)"
	exec bin/k8s-single machine up --cache-dir "$CACHE_DIR"
	;;
down)
	if [ -e /var/lib/k8s-single/machines/k8s-single/machine.json ]; then
		exec bin/k8s-single machine down --purge
	fi
	exec bin/k8s-single reset
	;;
*)
	echo "usage: $0 up|down" >&2
	exit 2
	;;
esac
