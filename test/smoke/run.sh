#!/bin/bash
# test/smoke/run.sh: the fast smoke tier. Boots a Debian 12 rootfs under real
# systemd in systemd-nspawn and drives k8s-single in it (up from nothing,
# no-op up, SIGKILL mid-phase and resume, etcd health, kubectl, the dashboard
# in headless Chromium, the day-2 steps, reset, up, a reboot and a new node
# address, each a reboot of the same rootfs).
# Run as root:  test/smoke/run.sh      (README.md next to this file says more)
#
# Environment (all optional):
#   K8S_SINGLE=path   use this k8s-single instead of `make build` in the repo
#   BIN_DIR=dir       the 8 binaries (default: `k8s-single build --print-dir`)
#   OLD_BIN_DIR=dir   the 8 binaries of an older release, for the upgrade steps
#                     (make smoke-upgrade: those of test/smoke/upgrade-from.yaml),
#                     with OLD_KUBERNETES_VERSION and OLD_ETCD_VERSION
#   CACHE_DIR=/var/cache/k8s-single   builds, the image bundle, kube-bench, the rootfs
#   IMAGES=dir        image bundle (default: $CACHE_DIR/images)
#   BUILD_IMAGES=auto run `k8s-single images build --out $IMAGES` when the bundle
#                     lacks an image `k8s-single images list` names; 1: always;
#                     0: never (then no bundle is used unless $IMAGES holds *.tar)
#   TIMEOUT=1500      hard limit in seconds for boot + scenario (reboots included)
#   KEEP=1            keep the run dir (rootfs with its journal, logs)
#   HOLD=1            leave the container running after the scenario (until
#                     TIMEOUT or poweroff inside) and print how to attach
#   STEPS="up noop-up ..."   run only these steps of scenario.sh (default: all)
#   BENCH=5 BENCH_SERIAL=1   the bench step (make bench-up): BENCH fresh `up`s,
#                     and as many `up --serial` with BENCH_SERIAL=1; SKIP without BENCH
#   K8S_SINGLE_SERIAL=1  every up runs its phases one at a time (up --serial),
#                     to compare with the graph
#   STATUS_WAIT=60    seconds the status step waits for every component healthy
#   KILL_PHASE=etcd KILL_AFTER=2   where the SIGKILL of `up --force` lands
#   NOOP_MAX=1        seconds a no-op `up` may take
#   POWEROFF_WAIT=90  seconds the container may take to power off after the
#                     scenario before it is stopped from outside
#   NODE_IP=10.200.0.2 NODE_NAME=smoke-node   the node inside the container
#   DASHBOARD_IMAGE=ref   sets dashboard.image in the cluster config (default:
#                     the test-only stand-in, built into the bundle with
#                     `k8s-single dashboard standin --out $IMAGES`; none without a bundle
#                     or when CONFIG_EXTRA has a dashboard: section)
#   ARTIFACTS=$SMOKE_CACHE/artifacts   where the dashboard screenshot and
#                     kube-bench's report (JSON and text) are kept
#   KUBE_BENCH_DIR=dir  kube-bench and its cfg/ for the cis step (default: built
#                     once by test/smoke/kube-bench/build.sh into
#                     $CACHE_DIR/kube-bench/<version>, CACHE_DIR=/var/cache/k8s-single)
#   KUBE_BENCH_TARGETS=master,controlplane,etcd,node,policies   what the cis step runs
#   CONFIG_EXTRA=yaml     more top-level config sections (not node/binaries/runtime),
#                         e.g. CONFIG_EXTRA=$'dashboard:\n  kind: none'
#   MIRROR=url        Debian mirror for debootstrap (default: read from /etc/apt)
#   SMOKE_CACHE=$CACHE_DIR/smoke   rootfs cache and run dirs
set -euo pipefail

# cg_dirs NAME prints the dir NAME below this process's cgroup in every
# mounted cgroup hierarchy.
cg_dirs() {
	local _ ctrl path h
	while IFS=: read -r _ ctrl path; do
		case $ctrl in
		"") h=/sys/fs/cgroup/unified ;;
		name=*) h=/sys/fs/cgroup/${ctrl#name=} ;;
		*) h=/sys/fs/cgroup/$ctrl ;;
		esac
		[ -z "$ctrl" ] && [ -e /sys/fs/cgroup/cgroup.controllers ] && h=/sys/fs/cgroup
		{ [ -d "$h" ] && [ ! -L "$h" ] && mountpoint -q "$h"; } || continue
		echo "$h${path%/}/$1"
	done </proc/self/cgroup
}

# ---- hidden helper: __cg-enter NAME T0FILE CMD...
# Moves this process into a child cgroup NAME of its current cgroup in every
# mounted hierarchy (so systemd-nspawn --keep-unit, systemd and the kubelet
# inside create their cgroups below it, never at the host's roots), records
# the time in T0FILE and execs CMD.
if [ "${1:-}" = __cg-enter ]; then
	name=$2 t0=$3
	shift 3
	for d in $(cg_dirs "$name"); do
		mkdir -p "$d"
		if [ -e "$d/cpuset.cpus" ]; then
			cat "${d%/*}/cpuset.cpus" >"$d/cpuset.cpus"
			cat "${d%/*}/cpuset.mems" >"$d/cpuset.mems"
		fi
		echo $$ >"$d/cgroup.procs" || echo "cg-enter: could not join $d" >&2
	done
	date +%s.%N >"$t0"
	exec "$@"
fi

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SELF=$HERE/$(basename "${BASH_SOURCE[0]}")
REPO=$(cd "$HERE/../.." && pwd)
CACHE_DIR=${CACHE_DIR:-/var/cache/k8s-single}
SMOKE=${SMOKE_CACHE:-$CACHE_DIR/smoke}
TIMEOUT=${TIMEOUT:-1500}
NODE_IP=${NODE_IP:-10.200.0.2}
NODE_NAME=${NODE_NAME:-smoke-node}
KILL_PHASE=${KILL_PHASE:-etcd}
KILL_AFTER=${KILL_AFTER:-2}
NOOP_MAX=${NOOP_MAX:-1}
POWEROFF_WAIT=${POWEROFF_WAIT:-90}
ARTIFACTS=${ARTIFACTS:-$SMOKE/artifacts}
MACHINE=k8s-smoke-$$
CGNAME=k8s-smoke-$$
TIER=smoke
. "$HERE/lib.sh"

T_ALL=$EPOCHREALTIME
declare -a TIMES=()
timed() { TIMES+=("$1|$2"); }

[ "$(id -u)" = 0 ] || die "run as root (systemd-nspawn, cgroups, debootstrap)"
mkdir -p "$SMOKE/runs"
exec 9>"$SMOKE/.run.lock"
if ! flock -n 9; then
	say "waiting for another smoke run to finish (lock $SMOKE/.run.lock)"
	flock 9
fi

# ---- host state before anything, for the final "host clean" check
host_state() { smoke_host_state "$SMOKE" 'k8s-smoke*'; }
BASELINE=$(host_state)
UPTIME0=$(cut -d' ' -f1 /proc/uptime)

# ---- state the cleanup needs
RUN='' R='' SHARE='' NSPAWN_PID='' SMOKE_BUILD_TMP='' TIMED_OUT='' NSPAWN_RC=''
# Our cgroup dirs (created by __cg-enter in the launcher).
mapfile -t CG_DIRS < <(cg_dirs "$CGNAME")

cg_procs() {
	local d
	for d in "${CG_DIRS[@]}"; do
		[ -d "$d" ] && find "$d" -name cgroup.procs -exec cat {} + 2>/dev/null
	done | sort -un
}

stop_container() {
	[ -n "$NSPAWN_PID" ] || return 0
	if kill -0 "$NSPAWN_PID" 2>/dev/null; then
		# --kill-signal=SIGRTMIN+3: SIGTERM to nspawn is a clean poweroff inside.
		say "stopping the container (SIGTERM to systemd-nspawn $NSPAWN_PID: poweroff)"
		kill -TERM "$NSPAWN_PID" 2>/dev/null
		for _ in $(seq 1 60); do
			kill -0 "$NSPAWN_PID" 2>/dev/null || break
			sleep 0.5
		done
		if kill -0 "$NSPAWN_PID" 2>/dev/null; then
			say "systemd-nspawn still alive after 30s: SIGKILL"
			kill -KILL "$NSPAWN_PID" 2>/dev/null
		fi
	fi
	wait "$NSPAWN_PID" 2>/dev/null && NSPAWN_RC=0 || NSPAWN_RC=$?
	NSPAWN_PID=
	# Anything still in our cgroups is the container's: kill it.
	local pids
	for _ in $(seq 1 20); do
		pids=$(cg_procs)
		[ -z "$pids" ] && break
		say "killing leftover container processes: $(echo $pids)"
		kill -KILL $pids 2>/dev/null
		sleep 0.5
	done
}

remove_cgroups() {
	local d
	for d in "${CG_DIRS[@]}"; do
		for _ in 1 2 3 4 5 6 7 8 9 10; do
			[ -d "$d" ] || break
			find "$d" -depth -type d -exec rmdir {} \; 2>/dev/null
			[ -d "$d" ] && sleep 0.3
		done
	done
}

CLEANED=
cleanup() {
	local rc=$? t
	[ -n "$CLEANED" ] && return
	CLEANED=1
	set +e
	t=$EPOCHREALTIME
	stop_container
	remove_cgroups
	smoke_umount_under "$R"
	smoke_umount_under "$SMOKE_BUILD_TMP"
	[ -n "$SMOKE_BUILD_TMP" ] && rm -rf "$SMOKE_BUILD_TMP"
	for d in propagate unix-export; do rmdir "/run/systemd/nspawn/$d/$MACHINE" 2>/dev/null; done
	# nspawn's runtime dirs, when they were not there before us and are empty now
	if ! grep -qx /run/systemd/nspawn <<<"$BASELINE"; then
		find /run/systemd/nspawn -depth -type d -empty -delete 2>/dev/null
	fi
	for f in "$SHARE"/dashboard*.png; do
		if [ -n "$SHARE" ] && [ -s "$f" ]; then
			f=${f##*/}
			mkdir -p "$ARTIFACTS" && cp "$SHARE/$f" "$ARTIFACTS/${f%.png}-${RUN##*/}.png" &&
				say "dashboard screenshot kept: $ARTIFACTS/${f%.png}-${RUN##*/}.png"
		fi
	done
	for f in kube-bench.json kube-bench.txt; do
		if [ -n "$SHARE" ] && [ -s "$SHARE/$f" ]; then
			mkdir -p "$ARTIFACTS" && cp "$SHARE/$f" "$ARTIFACTS/${f%.*}-${RUN##*/}.${f##*.}" &&
				say "kube-bench report kept: $ARTIFACTS/${f%.*}-${RUN##*/}.${f##*.}"
		fi
	done
	if [ -n "$RUN" ]; then
		if [ -n "${KEEP:-}" ]; then
			say "KEEP=1: run dir kept: $RUN (journal: journalctl -D $R/var/log/journal)"
		else
			rm -rf "$RUN"
		fi
	fi
	timed cleanup "$(since "$t")"
	# ---- host clean check
	local now left
	now=$(host_state)
	left=$(diff <(echo "$BASELINE") <(echo "$now") | grep '^[<>]')
	if [ -n "$RUN" ] && [ -z "${KEEP:-}" ] && [ -e "$RUN" ]; then left+=$'\n'"> run dir $RUN"; fi
	if [ -n "$(cg_procs)" ]; then left+=$'\n'"> processes in our cgroups: $(cg_procs | tr '\n' ' ')"; fi
	# Lines user space wrote into the host's kernel log since we started (the
	# container's systemd/journald would, through /dev/kmsg, were it writable).
	local kmsg
	kmsg=$(dmesg 2>/dev/null | awk -v t0="$UPTIME0" '{ t = $0; sub(/^\[ */, "", t); sub(/\].*/, "", t) }
		t + 0 > t0 + 0 && /systemd|journald|smoke-node/' | head -n 5)
	[ -n "$kmsg" ] && left+=$'\n'"> written to the host's kernel log:"$'\n'"$kmsg"
	left=$(sed '/^$/d' <<<"$left")
	if [ -z "$left" ]; then
		say "host clean: yes (no leftover cgroups, mounts, links, iptables rules, nspawn state$([ -z "${KEEP:-}" ] && echo ", run dir"))"
	else
		say "host clean: NO; left on the host ('>' new, '<' gone):"
		sed 's/^/    /' <<<"$left"
		[ "$rc" = 0 ] && rc=3
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'say "interrupted"; exit 130' INT TERM HUP

# ---- 1. host tools
t=$EPOCHREALTIME
missing=()
command -v systemd-nspawn >/dev/null || missing+=(systemd-container)
command -v debootstrap >/dev/null || missing+=(debootstrap)
command -v ip >/dev/null || missing+=(iproute2)
command -v iptables-save >/dev/null || missing+=(iptables)
command -v jq >/dev/null || missing+=(jq)
for c in flock nsenter mountpoint findmnt; do command -v $c >/dev/null || missing+=(util-linux); done
if [ ${#missing[@]} -gt 0 ]; then
	mapfile -t missing < <(printf '%s\n' "${missing[@]}" | sort -u)
	say "installing host tools: ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get install -y --no-install-recommends "${missing[@]}" >/dev/null ||
		{ apt-get update >/dev/null && apt-get install -y --no-install-recommends "${missing[@]}" >/dev/null; } ||
		die "apt-get install ${missing[*]} failed"
fi
timed host-tools "$(since "$t")"

# ---- 2. k8s-single, the binaries, the image bundle with the dashboard stand-in
t=$EPOCHREALTIME
smoke_inputs
smoke_kube_bench
timed inputs "$(since "$t")"

# ---- 3. the rootfs, built once per package list
t=$EPOCHREALTIME
smoke_rootfs
timed rootfs "$(since "$t")"

# ---- 4. the run dir: a copy of the rootfs plus k8s-single, config, init, units, scenario
t=$EPOCHREALTIME
RUN=$SMOKE/runs/$(date +%Y%m%d-%H%M%S)-$$
R=$RUN/rootfs SHARE=$RUN/share
mkdir -p "$RUN" "$SHARE"
cp -a --reflink=auto "$ROOTFS" "$R"
install -m 0755 "$K8S_SINGLE" "$R/usr/local/bin/k8s-single"
[ -x "$REPO/bin/dashboard-login" ] && install -m 0755 "$REPO/bin/dashboard-login" "$R/usr/local/bin/dashboard-login"
# PID 1 before systemd: the product's own (k8s-single machine's).
"$K8S_SINGLE" machine init-script >"$R/usr/local/sbin/nsinit" && chmod 0755 "$R/usr/local/sbin/nsinit"
install -m 0755 "$HERE/scenario.sh" "$R/usr/local/sbin/k8s-smoke-scenario"
echo "$NODE_NAME" >"$R/etc/hostname"
printf '127.0.0.1 localhost\n%s %s\n' "$NODE_IP" "$NODE_NAME" >"$R/etc/hosts"
mkdir -p "$R/etc/k8s-single"
smoke_cluster_config /opt/k8s-single/binaries "${IMAGES:+/opt/k8s-single/images}" >"$R/etc/k8s-single/cluster.yaml"
if ! "$K8S_SINGLE" config validate --file "$R/etc/k8s-single/cluster.yaml" >"$RUN/validate.out" 2>&1; then
	sed 's/^/    /' "$RUN/validate.out" "$R/etc/k8s-single/cluster.yaml"
	die "the cluster config (above) does not validate: $R/etc/k8s-single/cluster.yaml"
fi
# kube-bench for the cis step: the binary bind-mounted, its config dir (ours
# merged over upstream's) written into the rootfs.
smoke_kube_bench_cfg "$R/etc/kube-bench/cfg"
KUBE_BENCH=/opt/kube-bench/kube-bench KUBE_BENCH_CFG=/etc/kube-bench/cfg smoke_env >"$R/etc/k8s-smoke.env"
# The node IP: inside the container's private network namespace (a veth pair:
# no dummy driver in this kernel), with the default route through it.
smoke_node_net_unit default-route >"$R/etc/systemd/system/node-net.service"
smoke_scenario_unit poweroff >"$R/etc/systemd/system/k8s-smoke.service"
# /dev/kmsg is the host's kernel log (bound for the kubelet): journald must
# neither import the host's ring buffer nor log its own messages into it.
mkdir -p "$R/etc/systemd/journald.conf.d" "$R/etc/systemd/system/systemd-journald.service.d"
printf '[Journal]\nReadKMsg=no\n' >"$R/etc/systemd/journald.conf.d/k8s-smoke.conf"
printf '[Service]\nEnvironment=SYSTEMD_LOG_TARGET=console\n' >"$R/etc/systemd/system/systemd-journald.service.d/k8s-smoke.conf"
systemctl --root="$R" enable node-net.service k8s-smoke.service >/dev/null 2>&1 ||
	die "systemctl --root enable failed"
: >"$SHARE/scenario.log"
[ "${HOLD:-}" = 1 ] && touch "$SHARE/HOLD"
timed prepare "$(since "$t")"

# ---- 5. boot
NSPAWN=(systemd-nspawn -D "$R" --machine="$MACHINE"
	--register=no --keep-unit # no machined on this host; we made our own cgroups
	--private-network         # the node IP is a veth pair inside (node-net.service)
	--capability=CAP_SYSLOG --bind=/dev/kmsg # the kubelet's OOM watcher reads /dev/kmsg
	--system-call-filter=@keyring            # runc joins a session keyring
	--bind="$SHARE:/mnt/share" --bind-ro="$BIN_DIR:/opt/k8s-single/binaries"
	--bind-ro="$KUBE_BENCH_DIR:/opt/kube-bench"
	--resolv-conf=off --link-journal=no --console=read-only --kill-signal=SIGRTMIN+3)
[ -n "${IMAGES:-}" ] && NSPAWN+=(--bind-ro="$IMAGES:/opt/k8s-single/images")
[ -n "${OLD_BIN_DIR:-}" ] && NSPAWN+=(--bind-ro="$OLD_BIN_DIR:/opt/k8s-single/binaries-old")
# The images step builds images inside the node (runtime.images auto with no
# registry): the host's Go toolchain, and its caches as binaries.cacheDir's
# (modules, builds and wrapper modules with their go.sum: no network needed).
GOROOT_HOST=$(go env GOROOT 2>/dev/null || true)
if [ -x "$GOROOT_HOST/bin/go" ] && [ -d "$CACHE_DIR/gomodcache" ] && [ -d "$CACHE_DIR/gocache" ] && [ -d "$CACHE_DIR/work" ]; then
	NSPAWN+=(--bind-ro="$GOROOT_HOST:/opt/k8s-single/go")
	for d in gomodcache gocache work; do NSPAWN+=(--bind="$CACHE_DIR/$d:/var/cache/k8s-single/$d"); done
fi
NSPAWN+=(/usr/local/sbin/nsinit)
echo "${NSPAWN[*]}" >"$RUN/nspawn.cmd"
say "booting: ${NSPAWN[*]}"
say "run dir $RUN; scenario log follows (timeout ${TIMEOUT}s)"
T_BOOT=$EPOCHREALTIME
boot_container() {
	setsid "$SELF" __cg-enter "$CGNAME" "$SHARE/t0" "${NSPAWN[@]}" </dev/null >>"$RUN/console.log" 2>&1 &
	NSPAWN_PID=$!
}
: >"$RUN/console.log"
boot_container

# ---- 6. wait, streaming the scenario log; a reboot the scenario asks for
# (its reboot steps write $SHARE/REBOOT, then run systemctl reboot, which
# makes systemd-nspawn exit) boots the same rootfs again, as a machine
# comes back from a reboot.
flush_log() { smoke_stream_log "$SHARE/scenario.log"; }
result_at=
while :; do
while kill -0 "$NSPAWN_PID" 2>/dev/null; do
	flush_log
	if [ -z "$result_at" ] && [ -s "$SHARE/result" ]; then result_at=$SECONDS; fi
	if awk -v a="$(since "$T_BOOT")" -v m="$TIMEOUT" 'BEGIN { exit !(a > m) }'; then
		TIMED_OUT=1
		say "TIMEOUT: the container ran longer than ${TIMEOUT}s"
		break
	fi
	if [ -n "$result_at" ] && [ "${HOLD:-}" = 1 ]; then
		if [ -z "${held:-}" ]; then
			held=1
			say "HOLD=1: the container stays up until it powers off or TIMEOUT; attach with:"
			say "  nsenter -t $(ps -o pid= --ppid "$NSPAWN_PID" | head -n 1 | tr -d ' ') -a bash     (then: systemctl poweroff)"
		fi
	elif [ -n "$result_at" ] && [ $((SECONDS - result_at)) -gt "$POWEROFF_WAIT" ]; then
		say "the scenario finished but the container did not power off within ${POWEROFF_WAIT}s"
		break
	fi
	sleep 0.5
done
if [ -z "$TIMED_OUT" ] && [ -z "$result_at" ] && [ -e "$SHARE/REBOOT" ] && ! kill -0 "$NSPAWN_PID" 2>/dev/null; then
	rm -f "$SHARE/REBOOT"
	stop_container
	say "the container rebooted (systemd-nspawn exit $NSPAWN_RC); booting the same rootfs again"
	boot_container
	continue
fi
break
done
T_RUN=$(since "$T_BOOT")
if [ -n "$result_at" ] && ! kill -0 "$NSPAWN_PID" 2>/dev/null; then
	timed poweroff "$(awk -v a="$(date +%s.%N)" -v b="$(stat -c %.9Y "$SHARE/result")" 'BEGIN { printf "%.1f", a - b }')"
fi
flush_log
t=$EPOCHREALTIME
stop_container || true
timed stop "$(since "$t")"
timed boot+scenario "$T_RUN"

# ---- 7. verdict
echo
RESULT=$(grep -m1 '^RESULT:' "$SHARE/result" 2>/dev/null || true)
if [ -z "$RESULT" ] || [ -n "$TIMED_OUT" ] || [ "$RESULT" != "RESULT: PASS" ]; then
	say "console (last 40 lines of $RUN/console.log):"
	tail -n 40 "$RUN/console.log" | sed 's/^/    /'
fi
[ -s "$SHARE/boot" ] && . "$SHARE/boot"
printf '\n==== host timings (seconds)\n'
for r in "${TIMES[@]}"; do
	IFS='|' read -r n d <<<"$r"
	printf '%-16s %8s\n' "$n" "$d"
done
[ -n "${boot_systemd:-}" ] && printf '%-16s %8s   (systemd start -> multi-user.target: %ss)\n' boot "${boot_host:-?}" "$boot_systemd"
printf '%-16s %8s\n' total "$(since "$T_ALL")"
echo
if [ -n "$TIMED_OUT" ]; then
	say "FAIL: timeout after ${TIMEOUT}s (systemd-nspawn exit ${NSPAWN_RC:-?})"
	exit 1
elif [ -z "$RESULT" ]; then
	say "FAIL: the scenario wrote no result (systemd-nspawn exit ${NSPAWN_RC:-?}); see the console above"
	exit 1
elif [ "$RESULT" != "RESULT: PASS" ]; then
	say "FAIL: $(tr '\n' ';' <"$SHARE/result")"
	exit 1
fi
say "PASS: $(tr '\n' ';' <"$SHARE/result")"
