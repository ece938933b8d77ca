#!/bin/bash
# test/machine/run.sh: `k8s-single machine` end to end on this host (root):
#   make-up    the README's `make up` (a machine, since systemd is not PID 1
#              here), the host's kubectl (the Node Ready, the pods running),
#              the dashboard over TLS, `make down`
#   up         a fresh machine from the cached rootfs, its `up` followed to a
#              verified cluster
#   kubectl    the host's kubectl with the written kubeconfig (0600, server on
#              the host's loopback): the Node Ready, the pods running, /readyz
#   dashboard  (when the bundle holds its image) HTTPS through the forwarded
#              port with the cluster CA, the certificate checked
#   status     running, with the cluster's own status inside
#   shell      a command inside the machine; the host dir bound with --bind-ro
#   second     a second machine beside the first, each reached through its own
#              kubeconfig, then removed
#   refused    a second up of a running machine
#   restart    down (no purge), then up: the same cluster boots again
#   reboot     the machine reboots itself (systemctl reboot inside): it boots
#              again on its own, the same cluster healthy through the same port
#   purge-up   reset --purge and up inside: a new CA, and the Node registers
#   purge      down --purge: the machine's dir and kubeconfig gone
#   host clean nothing left on the host (processes, cgroups, mounts, links,
#              iptables rules, nspawn state)
# Environment: CACHE_DIR (/var/cache/k8s-single) for the binaries, the image
# bundle and the machine rootfs; NAME (ci-<pid>) the machine's name.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
CACHE_DIR=${CACHE_DIR:-/var/cache/k8s-single}
NAME=${NAME:-ci-$$}
SHARED=/tmp/machine-bind-$NAME # bound into the machine with --bind-ro
TIER=machine
. "$REPO/test/smoke/lib.sh"
K8S=$REPO/bin/k8s-single
MDIR=/var/lib/k8s-single/machines/$NAME
T_ALL=$EPOCHREALTIME
[ "$(id -u)" = 0 ] || die "run as root (systemd-nspawn, cgroups, debootstrap)"

host_state() { smoke_host_state /var/lib/k8s-single/machines 'k8s-single-*'; }
BASELINE=$(host_state)
FAILED=()
cleanup() {
	local rc=$? left
	set +e
	if [ -d "$MDIR" ]; then
		say "cleanup: k8s-single machine down --name $NAME --purge"
		"$K8S" machine down --name "$NAME" --purge
	fi
	rm -rf "$SHARED"
	left=$(diff <(echo "$BASELINE") <(host_state) | grep '^[<>]')
	[ -d "$MDIR" ] && left+=$'\n'"> $MDIR"
	left=$(sed '/^$/d' <<<"$left")
	if [ -n "$left" ]; then
		say "host clean: NO; left on the host ('>' new, '<' gone):"
		sed 's/^/    /' <<<"$left"
		[ "$rc" = 0 ] && rc=3
	else
		say "host clean: yes (no machine process, cgroup, mount, link, iptables rule or nspawn state left)"
	fi
	say "total $(since "$T_ALL")s"
	exit "$rc"
}
trap cleanup EXIT
trap 'say "interrupted"; exit 130' INT TERM HUP

# check NAME CMD...: runs a check, records a failure.
check() {
	local name=$1 t=$EPOCHREALTIME
	shift
	echo
	echo "==> $name"
	if "$@"; then
		echo "<== $name: PASS in $(since "$t")s"
	else
		echo "<== $name: FAIL in $(since "$t")s"
		FAILED+=("$name")
	fi
}

make -s -C "$REPO" build
BIN_DIR=$("$K8S" build --cache-dir "$CACHE_DIR" --print-dir 2>/dev/null)
KUBECTL=$BIN_DIR/kubectl
KC=$HOME/.kube/k8s-single-$NAME.conf

c_up() {
	local t=$EPOCHREALTIME
	mkdir -p "$SHARED" && echo "from the host $$" >"$SHARED/hello"
	"$K8S" machine up --name "$NAME" --cache-dir "$CACHE_DIR" --binaries-dir "$BIN_DIR" --images "$CACHE_DIR/images" \
		--bind-ro "$SHARED:/mnt/host" | tee "/tmp/machine-up-$NAME.log" || return 1
	say "machine up took $(since "$t")s"
	grep -q "^Machine $NAME runs a verified single-node cluster" "/tmp/machine-up-$NAME.log" || { echo "no summary of a verified cluster"; return 1; }
}

c_kubectl() {
	[ "$(stat -c %a "$KC")" = 600 ] || { echo "$KC has mode $(stat -c %a "$KC"), want 600"; return 1; }
	grep -Eq 'server: https://127\.0\.0\.1:[0-9]+$' "$KC" || { echo "$KC's server is not on the host's loopback: $(grep server: "$KC")"; return 1; }
	"$KUBECTL" --kubeconfig "$KC" get --raw /readyz || return 1
	echo
	"$KUBECTL" --kubeconfig "$KC" get nodes -o wide || return 1
	[ "$("$KUBECTL" --kubeconfig "$KC" get node "$NAME" -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}')" = True ] ||
		{ echo "node $NAME is not Ready"; return 1; }
	"$KUBECTL" --kubeconfig "$KC" get pods -A || return 1
	# After a boot the kubelet starts the pods again: give them a minute.
	local i
	for i in $(seq 1 30); do
		pods_running >/dev/null && return 0
		sleep 2
	done
	echo "pods not running: $(pods_running; true)"
	return 1
}

# pods_running: every pod is Running or Completed (a finished verify's are
# Terminating); prints the others.
pods_running() {
	local bad
	bad=$("$KUBECTL" --kubeconfig "$KC" get pods -A --no-headers | awk '$4 != "Running" && $4 != "Completed" && $4 != "Terminating"')
	[ -z "$bad" ] || { echo "$bad"; return 1; }
}

c_dashboard() { dashboard_ok "$NAME" "/tmp/machine-up-$NAME.log"; }

# dashboard_ok MACHINE UPLOG: the dashboard URL machine up printed answers
# 200 over TLS with the cluster CA through the forwarded port, or UPLOG's
# notice says why there is none.
dashboard_ok() {
	local url node port code
	url=$(sed -n 's/^  dashboard *\(https:[^ ]*\).*/\1/p' "$2")
	if [ -z "$url" ]; then
		grep -q "notice: the dashboard's image" "$2" || { echo "no dashboard and no notice saying why"; return 1; }
		echo "SKIP: no dashboard image in the bundle (the notice says so)"
		return 0
	fi
	port=${url#https://127.0.0.1:}
	port=${port%/}
	node=$("$K8S" machine status --name "$1" -o json | jq -r '.[0].nodeAddress')
	# The UI's certificate names the node's address: connect through the
	# forwarded port, check the certificate against the node's name.
	code=$(curl -sS -o /dev/null -w '%{http_code}' --cacert "/var/lib/k8s-single/machines/$1/rootfs/etc/kubernetes/pki/ca.crt" \
		--connect-to "$node:30443:127.0.0.1:$port" "https://$node:30443/") || return 1
	echo "GET $url (certificate checked for $node) -> $code"
	[ "$code" = 200 ]
}

c_status() {
	"$K8S" machine status || return 1
	"$K8S" machine status --name "$NAME" | tee /tmp/machine-status-$NAME.out || return 1
	grep -q "^$NAME  *running  " /tmp/machine-status-$NAME.out || { echo "machine $NAME is not running"; return 1; }
}

c_shell() {
	local out
	out=$("$K8S" machine shell --name "$NAME" -- kubectl get node "$NAME" -o 'jsonpath={.metadata.name}') || return 1
	[ "$out" = "$NAME" ] || { echo "kubectl inside printed '$out'"; return 1; }
	echo "kubectl inside the machine sees node $out"
	bound
}

# bound: the host dir given with --bind-ro is in the machine, read-only.
bound() {
	local out
	out=$("$K8S" machine shell --name "$NAME" -- cat /mnt/host/hello) || return 1
	[ "$out" = "$(cat "$SHARED/hello")" ] || { echo "/mnt/host/hello inside reads '$out'"; return 1; }
	if "$K8S" machine shell --name "$NAME" -- touch /mnt/host/written 2>/dev/null; then
		echo "the --bind-ro dir is writable inside"
		return 1
	fi
	echo "the host dir bound with --bind-ro reads the same inside and is read-only"
}

# second: another machine runs beside the first, on its own address and
# ports; each host kubeconfig reaches its own cluster; then it goes.
c_second() {
	local two=$NAME-b kc2=$HOME/.kube/k8s-single-$NAME-b.conf n1 n2
	"$K8S" machine up --name "$two" --cache-dir "$CACHE_DIR" --binaries-dir "$BIN_DIR" --images "$CACHE_DIR/images" >"/tmp/machine-up-$two.log" 2>&1 ||
		{ tail -n 30 "/tmp/machine-up-$two.log"; "$K8S" machine down --name "$two" --purge; return 1; }
	"$K8S" machine status
	n1=$("$KUBECTL" --kubeconfig "$KC" get nodes -o jsonpath='{.items[*].metadata.name}')
	n2=$("$KUBECTL" --kubeconfig "$kc2" get nodes -o jsonpath='{.items[*].metadata.name}')
	"$K8S" machine down --name "$two" --purge || return 1
	[ "$n1" = "$NAME" ] && [ "$n2" = "$two" ] || { echo "the kubeconfigs reach nodes '$n1' and '$n2', want $NAME and $two"; return 1; }
	echo "two machines at once: $NAME and $two, each reached through its own kubeconfig"
}

c_refused() {
	local out
	if out=$("$K8S" machine up --name "$NAME" --cache-dir "$CACHE_DIR" --binaries-dir "$BIN_DIR" --images "$CACHE_DIR/images" 2>&1); then
		echo "a second up of a running machine succeeded: $out"
		return 1
	fi
	grep -q "runs already" <<<"$out" || { echo "refused without saying why: $out"; return 1; }
	echo "refused: $out"
}

c_restart() {
	local uid
	uid=$("$KUBECTL" --kubeconfig "$KC" get node "$NAME" -o jsonpath='{.metadata.uid}') || return 1
	"$K8S" machine down --name "$NAME" || return 1
	pgrep -f "machine=k8s-single-$NAME" && { echo "systemd-nspawn still runs"; return 1; }
	[ -d "$MDIR/rootfs" ] || { echo "down without --purge removed the disk"; return 1; }
	c_up || return 1
	[ "$("$KUBECTL" --kubeconfig "$KC" get node "$NAME" -o jsonpath='{.metadata.uid}')" = "$uid" ] ||
		{ echo "the node is not the same after the restart"; return 1; }
	echo "the same cluster came back (node uid $uid)"
	c_kubectl && bound
}

# reboot: `systemctl reboot` inside the machine: systemd-nspawn exits as a
# rebooted machine's does, the machine's supervisor boots it again, its
# systemd reaches multi-user.target anew, every component is healthy, and
# the host's kubectl reaches the same Node through the same forwarded port
# (the forwarder follows the new network namespace).
c_reboot() {
	local uid t0 t1='' i
	uid=$("$KUBECTL" --kubeconfig "$KC" get node "$NAME" -o jsonpath='{.metadata.uid}') || return 1
	t0=$("$K8S" machine shell --name "$NAME" -- systemctl show -P ActiveEnterTimestamp multi-user.target) || return 1
	echo "multi-user.target reached at $t0; rebooting"
	timeout 30 "$K8S" machine shell --name "$NAME" -- systemctl reboot || true
	for i in $(seq 1 90); do
		sleep 2
		t1=$("$K8S" machine shell --name "$NAME" -- systemctl show -P ActiveEnterTimestamp multi-user.target 2>/dev/null) || continue
		[ -n "$t1" ] && [ "$t1" != "$t0" ] && break
	done
	[ -n "$t1" ] && [ "$t1" != "$t0" ] || { echo "the machine did not boot again within 180 s"; tail -n 20 "$MDIR/console.log"; return 1; }
	grep -q "the machine rebooted itself: booting it again" "$MDIR/console.log" || { echo "the console does not show the boot again"; return 1; }
	echo "booted again: multi-user.target reached at $t1"
	for i in $(seq 1 90); do
		"$K8S" machine shell --name "$NAME" -- k8s-single status >"/tmp/machine-reboot-status-$NAME.out" 2>&1 && break
		sleep 2
	done
	cat "/tmp/machine-reboot-status-$NAME.out"
	"$K8S" machine shell --name "$NAME" -- k8s-single status >/dev/null 2>&1 || { echo "not every component healthy 180 s after the boot"; return 1; }
	c_status || return 1
	[ "$("$KUBECTL" --kubeconfig "$KC" get node "$NAME" -o jsonpath='{.metadata.uid}')" = "$uid" ] ||
		{ echo "the host's kubectl does not reach the same Node after the reboot"; return 1; }
	echo "the same cluster (node uid $uid), healthy, through the same forwarded port"
	c_kubectl
}

# purge-up: inside the machine, reset --purge and up make a new cluster
# with a new CA: the kubelet's rotated certificate of the old one must not
# keep the Node from registering.
c_purge_up() {
	local ca0 ca1
	ca0=$(sha256sum <"$MDIR/rootfs/etc/kubernetes/pki/ca.crt")
	"$K8S" machine shell --name "$NAME" -- k8s-single reset --purge >/tmp/machine-purge-$NAME.out 2>&1 ||
		{ tail -n 20 /tmp/machine-purge-$NAME.out; return 1; }
	"$K8S" machine shell --name "$NAME" -- k8s-single up -c /etc/k8s-single/cluster.yaml >/tmp/machine-purge-up-$NAME.out 2>&1 ||
		{ tail -n 30 /tmp/machine-purge-up-$NAME.out; return 1; }
	grep -q "The cluster is up and verified." /tmp/machine-purge-up-$NAME.out || { tail -n 20 /tmp/machine-purge-up-$NAME.out; return 1; }
	ca1=$(sha256sum <"$MDIR/rootfs/etc/kubernetes/pki/ca.crt")
	[ "$ca0" != "$ca1" ] || { echo "reset --purge kept the CA"; return 1; }
	grep "kubelet's rotated client certificates\|node $NAME Ready after" /tmp/machine-purge-up-$NAME.out
	echo "a new cluster with a new CA came up in the same machine"
}

c_purge() {
	"$K8S" machine down --name "$NAME" --purge || return 1
	[ ! -e "$MDIR" ] || { echo "$MDIR is still there"; return 1; }
	[ ! -e "$KC" ] || { echo "$KC is still there"; return 1; }
}

# make-up: the README's `make up` on this host without systemd as PID 1
# brings the default machine up, the host's kubectl reaches it, `make down`
# removes it.
c_make_up() {
	local kc=$HOME/.kube/k8s-single-k8s-single.conf
	if [ "$(cat /proc/1/comm)" = systemd ]; then
		echo "SKIP: systemd is PID 1 here: make up would install on this host, not in a machine"
		return 0
	fi
	if [ -e /var/lib/k8s-single/machines/k8s-single ]; then
		echo "SKIP: a machine named k8s-single exists here already (a user's): make up would boot it"
		return 0
	fi
	make -s -C "$REPO" up CACHE_DIR="$CACHE_DIR" | tee /tmp/machine-make-up.log || return 1
	grep -q "^systemd is not PID 1 here" /tmp/machine-make-up.log || { echo "make up did not say it uses a machine"; return 1; }
	grep -q "^Machine k8s-single runs a verified single-node cluster" /tmp/machine-make-up.log || { echo "no summary of a verified cluster"; return 1; }
	KC=$kc NAME=k8s-single c_kubectl || return 1
	dashboard_ok k8s-single /tmp/machine-make-up.log || return 1
	make -s -C "$REPO" down CACHE_DIR="$CACHE_DIR" || return 1
	[ ! -e /var/lib/k8s-single/machines/k8s-single ] && [ ! -e "$kc" ] || { echo "make down left the machine or its kubeconfig"; return 1; }
}

check make-up c_make_up
check up c_up
if [ ${#FAILED[@]} = 0 ]; then
	check kubectl c_kubectl
	check dashboard c_dashboard
	check status c_status
	check shell c_shell
	check second c_second
	check refused c_refused
	check restart c_restart
	check reboot c_reboot
	check purge-up c_purge_up
	check purge c_purge
fi
echo
if [ ${#FAILED[@]} -gt 0 ]; then
	say "FAIL: ${FAILED[*]}"
	exit 1
fi
say "PASS"
