#!/bin/bash
# test/vagrant/run.sh: the Vagrant tier of the smoke test. One command, as root:
#
#   test/vagrant/run.sh
#
# Installs Debian's vagrant + vagrant-libvirt + libvirt + qemu, builds (once,
# cached) a local libvirt box from the nspawn tier's debootstrapped Debian 12
# rootfs (test/vagrant/mkbox.sh), starts libvirtd/virtlogd inside a mount and
# network namespace of their own (nothing of libvirt's touches the host: its
# bridge, dnsmasq and iptables rules live and die in that namespace), and runs
# `vagrant up --provider=libvirt` with test/vagrant/Vagrantfile: the guest
# boots the box's kernel directly under TCG, gets k8s-single, the 8 binaries
# and the image bundle over 9p, and its provisioner runs the nspawn tier's
# scenario (test/smoke/scenario.sh) under the guest's systemd. Every step is
# printed with its duration; whatever happens, the VM is destroyed, the
# daemons stopped, every process of the namespace ended, and the host checked
# for leftovers (links, mounts, iptables rules, qemu/libvirt processes).
#
# Environment (all optional):
#   K8S_SINGLE=path   use this k8s-single instead of `make build` in the repo
#   BIN_DIR=dir       the 8 binaries (default: `k8s-single build --print-dir`)
#   IMAGES=dir        image bundle (default: $CACHE_DIR/images, CACHE_DIR=/var/cache/k8s-single)
#   BUILD_IMAGES=auto build the bundle's missing images (auto), always (1) or never (0)
#   DASHBOARD_IMAGE=ref   dashboard.image (default: the test-only stand-in, built
#                     into the bundle by `k8s-single dashboard standin --out $IMAGES`)
#   CONFIG_EXTRA=yaml more top-level config sections, e.g. $'dashboard:\n  kind: none'
#   SCENARIO=minimal  minimal (default): scenario.sh's $SMOKE_MINIMAL_STEPS (up from
#                     nothing, no-op up, status, node, pods, metrics; ~10-13 min under
#                     TCG); full: $SMOKE_VM_STEPS, every step but the day-2, CIS
#                     and reinstall ones the nspawn tier proves, reboots included (~25 min)
#   STEPS="boot up reboot"   only these steps of scenario.sh (default: SCENARIO's)
#   TIMEOUT=1500      hard limit in seconds for vagrant up + provision (full: 3600)
#   STEP_TIMEOUT=900 NODE_WAIT=600 NOOP_MAX=30 STATUS_WAIT=300  the scenario's knobs, loosened for TCG
#                     (a no-op up: 3-8 s wall under TCG with the cluster running; the
#                     nspawn tier checks the 1 s, this one that nothing re-ran)
#   KILL_PHASE=etcd KILL_AFTER=2 NODE_IP=10.200.0.2 NODE_NAME=smoke-node
#   VM_CPUS=2 VM_MEMORY=4096   the guest (TCG: one host thread per vCPU)
#   KEEP=1            keep the run dir (logs, serial console, libvirt state)
#   LOCK_WAIT=3600    seconds to wait for the smoke tier's lock (the two never overlap)
#   VAGRANT_CACHE=$CACHE_DIR/vagrant   box cache, VAGRANT_HOME, run dirs
#   SMOKE_CACHE=$CACHE_DIR/smoke       the nspawn tier's cache (rootfs, lock)
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SELF=$HERE/$(basename "${BASH_SOURCE[0]}")
REPO=$(cd "$HERE/../.." && pwd)
CACHE_DIR=${CACHE_DIR:-/var/cache/k8s-single}
VCACHE=${VAGRANT_CACHE:-$CACHE_DIR/vagrant}
SMOKE=${SMOKE_CACHE:-$CACHE_DIR/smoke}
TIER=vagrant
. "$REPO/test/smoke/lib.sh"

timed() { echo "$1|$2" >>"$RUN/times"; }

# ============================================================================
# inner: runs as `unshare --mount --net --propagation private run.sh __inner`.
# Everything libvirt writes lands in $RUN/libvirt; its /run is a tmpfs.
# ============================================================================
VAGRANT_PID= INNER_FAILED= INNER_CLEANED=
vg() { # vagrant, in the background so a TERM reaches it; the box upload's progress meter dropped
	vagrant "$@" </dev/null > >(stdbuf -o0 tr '\r' '\n' | sed -u 's/\x1b\[K//g' | grep --line-buffered -v -e '^Progress: [0-9]*%' -e '^$') 2>&1 &
	VAGRANT_PID=$!
	local rc=0
	wait "$VAGRANT_PID" || rc=$?
	VAGRANT_PID=
	return "$rc"
}

guest_journal() {
	say "guest journal of the k8s-single units (vagrant ssh)"
	timeout 240 vagrant ssh -c 'systemctl --failed --no-pager; for u in k8s-smoke etcd kube-apiserver kube-controller-manager kube-scheduler containerd kubelet kube-proxy; do [ "$(systemctl show -P LoadState $u.service)" = not-found ] && continue; echo "---- systemctl status $u"; systemctl status --no-pager -l -n 0 $u.service; echo "---- journalctl -u $u -n 60"; journalctl -u $u --no-pager -n 60 -o short-monotonic; done' </dev/null 2>&1 ||
		say "vagrant ssh failed (rc $?): no guest journal"
}

inner_cleanup() {
	local rc=$? t p n
	[ -n "$INNER_CLEANED" ] && return
	INNER_CLEANED=1
	set +e
	trap '' TERM INT HUP
	[ "$rc" = 0 ] || INNER_FAILED=1
	if [ -n "$VAGRANT_PID" ] && kill -0 "$VAGRANT_PID" 2>/dev/null; then
		say "stopping vagrant (pid $VAGRANT_PID)"
		kill -TERM "$VAGRANT_PID" 2>/dev/null
		for _ in $(seq 1 40); do kill -0 "$VAGRANT_PID" 2>/dev/null || break; sleep 0.5; done
		kill -KILL "$VAGRANT_PID" 2>/dev/null
		# vagrant's ssh children
		pkill -KILL -P "$VAGRANT_PID" 2>/dev/null
		wait "$VAGRANT_PID" 2>/dev/null
		VAGRANT_PID=
	fi
	# the scenario dumps the units' journals after a failed step; when it wrote
	# no result (killed, timed out, never started) they are fetched here
	if [ -n "$INNER_FAILED" ] && [ ! -s "$RUN/share/result" ] && virsh list --name 2>/dev/null | grep -q .; then
		guest_journal
	fi
	t=$EPOCHREALTIME
	if [ -d "$RUN/dotvagrant" ]; then
		say "vagrant destroy -f"
		timeout 300 vagrant destroy -f </dev/null
	fi
	# whatever vagrant left: domains, networks, the pool
	for n in $(virsh list --all --name 2>/dev/null); do
		say "leftover domain $n: destroy + undefine"
		virsh destroy "$n" >/dev/null 2>&1
		virsh undefine "$n" --nvram >/dev/null 2>&1 || virsh undefine "$n" >/dev/null 2>&1
	done
	for n in $(virsh net-list --name 2>/dev/null); do virsh net-destroy "$n" >/dev/null 2>&1; done
	virsh pool-destroy default >/dev/null 2>&1
	timed destroy "$(since "$t")"
	# the daemons, by the pid files in our private /run
	for p in libvirtd virtlogd; do
		[ -s "/run/$p.pid" ] || continue
		n=$(cat "/run/$p.pid")
		kill -TERM "$n" 2>/dev/null
		for _ in $(seq 1 20); do kill -0 "$n" 2>/dev/null || break; sleep 0.5; done
		kill -KILL "$n" 2>/dev/null
	done
	say "libvirtd and virtlogd stopped"
	exit "$rc"
}

inner() {
	local L=$RUN/libvirt t rc
	trap inner_cleanup EXIT
	trap 'say "inner: terminated"; INNER_FAILED=1; exit 143' TERM INT HUP
	say "in namespaces net:$(readlink /proc/self/ns/net | tr -dc 0-9) mnt:$(readlink /proc/self/ns/mnt | tr -dc 0-9)"
	t=$EPOCHREALTIME
	# libvirt's config, state, logs and cache: per run, bound over the host's dirs
	mkdir -p "$L/etc" "$L/lib/images" "$L/log" "$L/cache" "$L/run"
	cp -a /etc/libvirt/*.conf "$L/etc/"
	cat >"$L/etc/qemu.conf" <<'EOF'
user = "root"
group = "root"
security_driver = "none"
dynamic_ownership = 0
EOF
	cat >"$L/etc/libvirtd.conf" <<'EOF'
unix_sock_group = "root"
unix_sock_rw_perms = "0700"
auth_unix_rw = "none"
auth_unix_ro = "none"
EOF
	mount --bind "$L/etc" /etc/libvirt
	mount --bind "$L/lib" /var/lib/libvirt
	mount --bind "$L/log" /var/log/libvirt
	mount --bind "$L/cache" /var/cache/libvirt
	mount -t tmpfs -o mode=0755 tmpfs /run
	# libvirtd resolves its compiled-in qemu user before reading qemu.conf
	if ! getent passwd libvirt-qemu >/dev/null; then
		cp /etc/passwd "$L/passwd"
		cp /etc/group "$L/group"
		echo 'libvirt-qemu:x:64055:64055:Libvirt Qemu:/var/lib/libvirt:/usr/sbin/nologin' >>"$L/passwd"
		grep -q '^libvirt-qemu:' "$L/group" || echo 'libvirt-qemu:x:64055:' >>"$L/group"
		grep -q '^libvirt:' "$L/group" || echo 'libvirt:x:64056:' >>"$L/group"
		grep -q '^kvm:' "$L/group" || echo 'kvm:x:64057:' >>"$L/group"
		mount --bind "$L/passwd" /etc/passwd
		mount --bind "$L/group" /etc/group
	fi
	ip link set lo up
	virtlogd -d
	libvirtd -d
	for _ in $(seq 1 60); do virsh version >/dev/null 2>&1 && break; sleep 0.5; done
	virsh version | sed 's/^/    /'
	virsh pool-define-as default dir --target /var/lib/libvirt/images >/dev/null
	virsh pool-start default >/dev/null
	timed libvirtd "$(since "$t")"

	vagrant validate || return 1 # (needs libvirtd: vagrant-libvirt's 9p check connects)
	t=$EPOCHREALTIME
	say "vagrant up --provider=libvirt --no-provision (box $BOX_NAME; TCG, qemu64, $VM_CPUS vCPUs, $VM_MEMORY MiB)"
	rc=0
	vg up --provider=libvirt --no-provision || rc=$?
	timed "vagrant up" "$(since "$t")"
	if [ "$rc" != 0 ]; then
		say "vagrant up failed (rc $rc); serial console (last 40 lines):"
		tail -n 40 "$RUN/serial.log" 2>/dev/null | sed 's/^/    /'
		return "$rc"
	fi
	timeout 120 vagrant ssh -c 'echo "guest: $(systemctl is-system-running) after $(cut -d" " -f1 /proc/uptime)s uptime; $(systemd-analyze 2>/dev/null | head -n 1)"' </dev/null 2>/dev/null || true

	t=$EPOCHREALTIME
	say "vagrant provision (scenario: $SCENARIO)"
	rc=0
	vg provision --provision-with smoke || rc=$?
	# (vagrant may report the ssh session a reboot cut as a success)
	if [ ! -s "$RUN/share/result" ] && [ -e "$RUN/share/REBOOT" ]; then
		rc=0
		follow_reboots || rc=$?
	fi
	timed provision "$(since "$t")"
	if [ "$rc" != 0 ]; then
		INNER_FAILED=1
		return "$rc"
	fi
}

# follow_reboots: a reboot step of the scenario rebooted the guest, which
# ended the provisioner's ssh session. The guest's systemd mounts the shares
# and starts the scenario again at boot (provision-smoke.sh set that up), so
# the host follows its log in the share until the result, through every
# further reboot. Fails when the log stops growing for STALL seconds (the
# scenario's own step timeout plus a boot) or the guest is gone for 120 s.
follow_reboots() {
	local log=$RUN/share/scenario.log seen last=$SECONDS stall=$((STEP_TIMEOUT + 600)) boots=0 gone=0
	SMOKE_LOG_OFF=$(stat -c %s "$log") # (the provisioner printed what came before)
	while [ ! -s "$RUN/share/result" ]; do
		if [ -e "$RUN/share/REBOOT" ]; then
			rm -f "$RUN/share/REBOOT"
			boots=$((boots + 1))
			say "the guest reboots (reboot $boots of the scenario): its systemd goes on with the scenario at boot; following $log"
		fi
		seen=$SMOKE_LOG_OFF
		smoke_stream_log "$log"
		if [ "$SMOKE_LOG_OFF" -gt "$seen" ]; then
			last=$SECONDS
		elif [ $((SECONDS - last)) -gt "$stall" ]; then
			say "the scenario's log has not grown for ${stall}s since the reboot"
			return 1
		fi
		# (libvirt's reboot of a qemu guest stops and resets the domain: it is
		# not listed as running for a moment)
		if virsh list --name 2>/dev/null | grep -q .; then
			gone=0
		elif [ $((gone += 1)) -gt 120 ]; then
			say "the guest has not been running for 120s"
			return 1
		fi
		sleep 1
	done
	smoke_stream_log "$log"
	say "the scenario finished in the guest after $boots reboot(s): $(tr '\n' ';' <"$RUN/share/result")"
}

if [ "${1:-}" = __inner ]; then
	inner
	exit 0
fi

# ============================================================================
# outer: the host side
# ============================================================================
# (all of it in main, read whole before it runs: editing this file during a
# run cannot derail the run)
main() {
[ "$(id -u)" = 0 ] || die "run as root (libvirtd, namespaces, debootstrap)"
SCENARIO=${SCENARIO:-minimal}
case $SCENARIO in
minimal) TIMEOUT=${TIMEOUT:-1500} ;;
full) TIMEOUT=${TIMEOUT:-3600} ;;
*) die "SCENARIO=$SCENARIO: want minimal or full" ;;
esac
LOCK_WAIT=${LOCK_WAIT:-3600}
VM_CPUS=${VM_CPUS:-2}
VM_MEMORY=${VM_MEMORY:-4096}
T_ALL=$EPOCHREALTIME
RUN= RESULT_FILE= BASELINE= INNER_PID= NETNS= MNTNS= HOST_NETNS=$(readlink /proc/self/ns/net) HOST_MNTNS=$(readlink /proc/self/ns/mnt)
TMPTIMES=$(mktemp)
otimed() { echo "$1|$2" >>"${RUN:-$TMPTIMES}${RUN:+/times}"; }

# ---- host state before anything, for the "host clean" check at the end
host_state() {
	smoke_net_state
	echo "## addresses"
	ip -o addr show | awk '{ print $2, $4 }' | sort
	echo "## mounts"
	awk '{ print $5 }' /proc/self/mountinfo | sort
	echo "## processes"
	ps -e -o comm= | grep -E '^(qemu-system|libvirtd|virtlogd|virtqemud|dnsmasq)' | sort | uniq -c
	true
}

# processes in the inner's namespaces (never the host's)
ns_procs() {
	local p n
	[ -n "$NETNS" ] && [ "$NETNS" != "$HOST_NETNS" ] || return 0
	for p in /proc/[0-9]*; do
		n=$(readlink "$p/ns/net" 2>/dev/null) || continue
		if [ "$n" = "$NETNS" ] || { [ -n "$MNTNS" ] && [ "$MNTNS" != "$HOST_MNTNS" ] && [ "$(readlink "$p/ns/mnt" 2>/dev/null)" = "$MNTNS" ]; }; then
			echo "${p#/proc/}"
		fi
	done
}

CLEANED=
cleanup() {
	local rc=$? t left pids times_table result_text
	[ -n "$CLEANED" ] && return
	CLEANED=1
	set +e
	t=$EPOCHREALTIME
	if [ -n "$INNER_PID" ] && kill -0 "$INNER_PID" 2>/dev/null; then
		say "stopping the VM side (TERM to the namespace's shell $INNER_PID: guest journal, vagrant destroy, daemons)"
		kill -TERM "$INNER_PID" 2>/dev/null
		for _ in $(seq 1 1200); do kill -0 "$INNER_PID" 2>/dev/null || break; sleep 0.5; done
		kill -0 "$INNER_PID" 2>/dev/null && say "the namespace's shell is still alive after 600s: killing everything in it"
	fi
	[ -n "$INNER_PID" ] && wait "$INNER_PID" 2>/dev/null
	[ -n "$RUN" ] && flush_log
	# anything still in the namespaces (a qemu, dnsmasq, a daemon): SIGKILL
	for _ in $(seq 1 20); do
		pids=$(ns_procs)
		[ -z "$pids" ] && break
		say "killing what is left in the namespaces: $(for p in $pids; do printf '%s(%s) ' "$p" "$(cat /proc/$p/comm 2>/dev/null)"; done)"
		kill -KILL $pids 2>/dev/null
		sleep 0.5
	done
	[ -n "$RUN" ] && otimed cleanup "$(since "$t")"
	times_table=$(print_times)
	result_text=$(tr '\n' ';' <"${RESULT_FILE:-/nonexistent}" 2>/dev/null)
	# ---- host clean check
	left=$(diff <(echo "$BASELINE") <(host_state) | grep '^[<>]')
	pids=$(ns_procs)
	[ -n "$pids" ] && left+=$'\n'"> processes in the VM's namespaces: $(echo $pids)"
	if [ -n "$RUN" ] && [ -z "${KEEP:-}" ]; then
		rm -rf "$RUN"
		[ -e "$RUN" ] && left+=$'\n'"> run dir $RUN"
	fi
	left=$(sed '/^$/d' <<<"$left")
	if [ -n "${BASELINE:-}" ]; then
		if [ -z "$left" ]; then
			say "host clean: yes (no qemu/libvirtd/virtlogd/dnsmasq left, namespaces gone, no new link, mount or iptables rule$([ -z "${KEEP:-}" ] && echo ", run dir removed"))"
		else
			say "host clean: NO; left on the host ('>' new, '<' gone):"
			sed 's/^/    /' <<<"$left"
			[ "$rc" = 0 ] && rc=3
		fi
	fi
	[ -n "$RUN" ] && [ -n "${KEEP:-}" ] && say "KEEP=1: run dir kept: $RUN"
	echo "$times_table"
	if [ "$rc" = 0 ]; then say "PASS: $result_text"; else say "FAIL (exit $rc)"; fi
	rm -f "$TMPTIMES"
	exit "$rc"
}

print_times() {
	local n d
	printf '\n==== host timings (seconds)\n'
	while IFS='|' read -r n d; do
		[ -n "$n" ] && printf '%-16s %8s\n' "$n" "$d"
	done < <(cat "${RUN:-$TMPTIMES}${RUN:+/times}" 2>/dev/null)
	printf '%-16s %8s\n' total "$(since "$T_ALL")"
	echo
}

flush_log() { smoke_stream_log "$RUN/inner.log"; }

trap cleanup EXIT
trap 'say "interrupted (SIGINT)"; exit 130' INT
trap 'say "interrupted (SIGTERM)"; exit 143' TERM
trap 'say "interrupted (SIGHUP)"; exit 129' HUP

# ---- 0. the smoke tier's lock: the nspawn tier and this one never overlap (2 cores)
t=$EPOCHREALTIME
mkdir -p "$SMOKE" "$VCACHE/runs"
exec 9>"$SMOKE/.run.lock"
if ! flock -n 9; then
	say "waiting for $SMOKE/.run.lock (a smoke run is going on; up to ${LOCK_WAIT}s)"
	flock -w "$LOCK_WAIT" 9 || die "the smoke lock was not free within ${LOCK_WAIT}s"
fi
otimed lock-wait "$(since "$t")"

# ---- 1. host packages
t=$EPOCHREALTIME
HOST_PKGS=(vagrant vagrant-libvirt libvirt-daemon-system libvirt-clients qemu-system-x86 qemu-utils
	dnsmasq-base iproute2 iptables debootstrap e2fsprogs openssh-client util-linux procps jq)
missing=()
for p in "${HOST_PKGS[@]}"; do dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
	say "apt-get install ${missing[*]} (no service is started: policy-rc.d)"
	export DEBIAN_FRONTEND=noninteractive
	# The packages would start libvirtd (and its virbr0) on the host: never.
	POLICY_MADE=
	if [ ! -e /usr/sbin/policy-rc.d ]; then
		printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
		chmod 0755 /usr/sbin/policy-rc.d
		POLICY_MADE=1
	fi
	rc=0
	{ apt-get install -y -q --no-install-recommends "${missing[@]}" >"$TMPTIMES.apt" 2>&1 ||
		{ apt-get update -q >/dev/null && apt-get install -y -q --no-install-recommends "${missing[@]}" >"$TMPTIMES.apt" 2>&1; }; } || rc=$?
	[ -n "$POLICY_MADE" ] && rm -f /usr/sbin/policy-rc.d
	if [ "$rc" != 0 ]; then
		tail -n 20 "$TMPTIMES.apt"
		rm -f "$TMPTIMES.apt"
		die "apt-get install failed"
	fi
	rm -f "$TMPTIMES.apt"
fi
say "host: $(vagrant --version 2>/dev/null), vagrant-libvirt $(dpkg-query -W -f='${Version}' vagrant-libvirt), libvirt $(dpkg-query -W -f='${Version}' libvirt-daemon), $(qemu-system-x86_64 --version | head -n 1)"
otimed host-packages "$(since "$t")"

# ---- 2. k8s-single, the binaries, the images
t=$EPOCHREALTIME
K8S_SINGLE_GUEST=/vagrant/bin/k8s-single
smoke_inputs
otimed build "$(since "$t")"

# ---- 3. the box (cached)
t=$EPOCHREALTIME
BOX_DIR=$("$HERE/mkbox.sh" | tail -n 1) || die "building the box failed"
BOX_NAME=k8s-single-smoke-${BOX_DIR##*/box-}
say "box: $BOX_DIR ($(tail -n 1 "$BOX_DIR/manifest" 2>/dev/null | sed 's/^# //'))"
otimed box "$(since "$t")"

# ---- 4. Vagrant's home (cached: the box added once) and the run dir
export VAGRANT_HOME=$VCACHE/home VAGRANT_CHECKPOINT_DISABLE=1 VAGRANT_BOX_UPDATE_CHECK_DISABLE=1
export VAGRANT_NO_COLOR=1 VAGRANT_DEFAULT_PROVIDER=libvirt LIBVIRT_DEFAULT_URI=qemu:///system
export VAGRANT_CWD=$HERE
t=$EPOCHREALTIME
if ! vagrant box list 2>/dev/null | grep -q "^$BOX_NAME "; then
	for old in $(vagrant box list 2>/dev/null | awk '$1 ~ /^k8s-single-smoke-/ { print $1 }' | sort -u); do
		say "vagrant box remove $old (an older build)"
		vagrant box remove --force --all "$old" >/dev/null || true
	done
	say "vagrant box add --name $BOX_NAME $BOX_DIR/k8s-single-smoke.box"
	vagrant box add --name "$BOX_NAME" "$BOX_DIR/k8s-single-smoke.box" >/dev/null || die "vagrant box add failed"
fi
otimed box-add "$(since "$t")"

RUN=$VCACHE/runs/$(date +%Y%m%d-%H%M%S)-$$
mkdir -p "$RUN/share"
cp "$TMPTIMES" "$RUN/times"
: >"$RUN/inner.log"
RESULT_FILE=$RUN/share/result
if [ "$K8S_SINGLE" != "$REPO/bin/k8s-single" ]; then
	install -m 0755 "$K8S_SINGLE" "$RUN/share/k8s-single"
	if [ -x "$(dirname "$K8S_SINGLE")/k8s-single-full" ]; then install -m 0755 "$(dirname "$K8S_SINGLE")/k8s-single-full" "$RUN/share/"; fi
	K8S_SINGLE_GUEST=/mnt/share/k8s-single
fi
export VAGRANT_DOTFILE_PATH=$RUN/dotvagrant K8S_SINGLE_BOX_DIR=$BOX_DIR K8S_SINGLE_BOX=$BOX_NAME
export K8S_SINGLE_SHARE=$RUN/share K8S_SINGLE_BIN_DIR=$BIN_DIR K8S_SINGLE_IMAGES=${IMAGES:-} K8S_SINGLE_GUEST
export K8S_SINGLE_SERIAL_LOG=$RUN/serial.log K8S_SINGLE_VM_CPUS=$VM_CPUS K8S_SINGLE_VM_MEMORY=$VM_MEMORY
export SCENARIO STEPS=${STEPS:-} STEP_TIMEOUT=${STEP_TIMEOUT:-900} NODE_WAIT=${NODE_WAIT:-600} NOOP_MAX=${NOOP_MAX:-30}
export KILL_PHASE=${KILL_PHASE:-etcd} KILL_AFTER=${KILL_AFTER:-2} NODE_IP=${NODE_IP:-10.200.0.2}
export NODE_NAME=${NODE_NAME:-smoke-node} STATUS_WAIT=${STATUS_WAIT:-300} DASHBOARD_IMAGE=${DASHBOARD_IMAGE:-} CONFIG_EXTRA=${CONFIG_EXTRA:-}
export RUN BOX_NAME VM_CPUS VM_MEMORY

# ---- 5. the VM, from a shell in its own mount + network namespace
BASELINE=$(host_state)
say "run dir $RUN; VM side in unshare --mount --net (timeout ${TIMEOUT}s for up + provision)"
T_VM=$EPOCHREALTIME
setsid unshare --mount --net --propagation private "$SELF" __inner </dev/null >"$RUN/inner.log" 2>&1 9>&- &
INNER_PID=$!
for _ in $(seq 1 100); do
	NETNS=$(readlink "/proc/$INNER_PID/ns/net" 2>/dev/null) || break
	[ "$NETNS" != "$HOST_NETNS" ] && break
	sleep 0.05
done
MNTNS=$(readlink "/proc/$INNER_PID/ns/mnt" 2>/dev/null || true)
[ -n "$NETNS" ] && [ "$NETNS" != "$HOST_NETNS" ] || die "unshare --net did not give the VM side a namespace of its own"
TIMED_OUT=
while kill -0 "$INNER_PID" 2>/dev/null; do
	flush_log
	if awk -v a="$(since "$T_VM")" -v m="$TIMEOUT" 'BEGIN { exit !(a > m) }'; then
		TIMED_OUT=1
		say "TIMEOUT: vagrant up + provision ran longer than ${TIMEOUT}s"
		break
	fi
	sleep 1
done
if [ -n "$TIMED_OUT" ]; then
	say "scenario log so far: $RUN/share/scenario.log ($(grep -c '^<== ' "$RUN/share/scenario.log" 2>/dev/null || echo 0) steps done)"
	kill -TERM "$INNER_PID" 2>/dev/null
fi
rc=0
wait "$INNER_PID" || rc=$?
INNER_PID=
flush_log
otimed "vm (total)" "$(since "$T_VM")"
if [ -s "$RUN/share/steps" ]; then
	printf '\n==== scenario steps in the guest (seconds)\n'
	while IFS='|' read -r n r d; do printf '%-16s %-5s %8s\n' "$n" "$r" "$d"; done <"$RUN/share/steps"
fi
[ -n "$TIMED_OUT" ] && die "timeout after ${TIMEOUT}s"
[ "$rc" = 0 ] || die "the VM side failed (exit $rc)"
grep -q '^RESULT: PASS' "$RESULT_FILE" 2>/dev/null || die "the scenario did not pass: $(tr '\n' ';' <"$RESULT_FILE" 2>/dev/null || echo 'no result')"
}
main "$@"; exit
