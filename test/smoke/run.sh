#!/bin/bash
# test/smoke/run.sh: the fast smoke tier. Makes a `k8s-single machine` (the
# product's systemd-nspawn machine: real systemd as PID 1, its own network,
# reboots like a VM) from the smoke rootfs, without its `up` at boot
# (--no-up), and runs the scenario in it: up from nothing, no-op up, SIGKILL
# mid-phase and resume, etcd health, kubectl, the dashboard in headless
# Chromium, the day-2 steps, reset, up, a reboot and a new node address.
# `k8s-single machine down --purge` ends it, and the host must be clean.
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
#   KEEP=1            keep the run dir and the machine's disk (machine down
#                     without --purge: its rootfs with the journal)
#   HOLD=1            leave the machine running after the scenario (until
#                     TIMEOUT or poweroff inside) and print how to enter it
#   STEPS="up noop-up ..."   run only these steps of scenario.sh (default: all)
#   BENCH=5 BENCH_SERIAL=1   the bench step (make bench-up): BENCH fresh `up`s,
#                     and as many `up --serial` with BENCH_SERIAL=1; SKIP without BENCH
#   K8S_SINGLE_SERIAL=1  every up runs its phases one at a time (up --serial),
#                     to compare with the graph
#   STATUS_WAIT=60    seconds the status step waits for every component healthy
#   KILL_PHASE=etcd KILL_AFTER=2   where the SIGKILL of `up --force` lands
#   NOOP_MAX=1        seconds a no-op `up` may take
#   POWEROFF_WAIT=90  seconds the machine may take to power off after the
#                     scenario before it is stopped from outside
#   MACHINE=k8s-smoke-<pid>   the machine's name (its Node's too); its node
#                     address is the one `k8s-single machine up` gives it
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
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
CACHE_DIR=${CACHE_DIR:-/var/cache/k8s-single}
SMOKE=${SMOKE_CACHE:-$CACHE_DIR/smoke}
TIMEOUT=${TIMEOUT:-1500}
KILL_PHASE=${KILL_PHASE:-etcd}
KILL_AFTER=${KILL_AFTER:-2}
NOOP_MAX=${NOOP_MAX:-1}
POWEROFF_WAIT=${POWEROFF_WAIT:-90}
ARTIFACTS=${ARTIFACTS:-$SMOKE/artifacts}
MACHINE=${MACHINE:-k8s-smoke-$$}
MACHINES=/var/lib/k8s-single/machines
MDIR=$MACHINES/$MACHINE
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

# ---- host state before anything, for the final "host clean" check: the
# machine's cgroups, mounts and nspawn state, links, iptables rules, and its
# port forwarder (a host process of its own)
host_state() {
	smoke_host_state "$MACHINES" "k8s-single-$MACHINE"
	echo "## the machine's port forwarder"
	pgrep -af "machine forward --name $MACHINE\$" || true
}
BASELINE=$(host_state)
UPTIME0=$(cut -d' ' -f1 /proc/uptime)

# ---- state the cleanup needs
RUN='' SHARE='' SMOKE_BUILD_TMP='' TIMED_OUT='' MADE=''

# machine CMD...: k8s-single machine CMD for this run's machine.
machine() { "$K8S_SINGLE" machine "$1" --name "$MACHINE" "${@:2}"; }
# machine_running: the machine's supervisor lives (it boots the machine
# again after a reboot inside; it ends at poweroff).
machine_running() { [ "$(machine status -o json 2>/dev/null | jq -r '.[0].state' | cut -d, -f1)" = running ]; }

CLEANED=
cleanup() {
	local rc=$? f
	[ -n "$CLEANED" ] && return
	CLEANED=1
	set +e
	if [ -n "$MADE" ] && [ -d "$MDIR" ]; then
		if [ -n "${KEEP:-}" ]; then
			machine down >>"$RUN/machine.log" 2>&1
			say "KEEP=1: machine $MACHINE stopped, its disk kept: $MDIR (journal: journalctl -D $MDIR/rootfs/var/log/journal; remove: k8s-single machine down --name $MACHINE --purge)"
		else
			machine down --purge >>"$RUN/machine.log" 2>&1 || { say "k8s-single machine down --purge failed:"; tail -n 5 "$RUN/machine.log"; }
		fi
	fi
	smoke_umount_under "$SMOKE_BUILD_TMP"
	[ -n "$SMOKE_BUILD_TMP" ] && rm -rf "$SMOKE_BUILD_TMP"
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
			say "KEEP=1: run dir kept: $RUN"
		else
			rm -rf "$RUN"
		fi
	fi
	# ---- host clean check
	local now left kmsg
	now=$(host_state)
	left=$(diff <(echo "$BASELINE") <(echo "$now") | grep '^[<>]')
	if [ -n "$RUN" ] && [ -z "${KEEP:-}" ] && [ -e "$RUN" ]; then left+=$'\n'"> run dir $RUN"; fi
	if [ -n "$MADE" ] && [ -z "${KEEP:-}" ] && [ -e "$MDIR" ]; then left+=$'\n'"> machine dir $MDIR"; fi
	# Lines user space wrote into the host's kernel log since we started (the
	# machine's systemd/journald would, through /dev/kmsg, were it writable).
	kmsg=$(dmesg 2>/dev/null | awk -v t0="$UPTIME0" -v m="$MACHINE" '{ t = $0; sub(/^\[ */, "", t); sub(/\].*/, "", t) }
		t + 0 > t0 + 0 && (/systemd|journald/ || index($0, m))' | head -n 5)
	[ -n "$kmsg" ] && left+=$'\n'"> written to the host's kernel log:"$'\n'"$kmsg"
	left=$(sed '/^$/d' <<<"$left")
	if [ -z "$left" ]; then
		say "host clean: yes (no leftover machine process, cgroup, mount, link, iptables rule, nspawn state$([ -z "${KEEP:-}" ] && echo ", machine dir, run dir"))"
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
command -v pgrep >/dev/null || missing+=(procps)
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

# ---- 3. the rootfs, built once per package list (the Vagrant box's base too)
t=$EPOCHREALTIME
smoke_rootfs
timed rootfs "$(since "$t")"

# ---- 4. the machine: made from the smoke rootfs, booted, no up at boot
t=$EPOCHREALTIME
[ ! -e "$MDIR" ] || die "machine $MACHINE exists already ($MDIR): k8s-single machine down --name $MACHINE --purge"
RUN=$SMOKE/runs/$(date +%Y%m%d-%H%M%S)-$$
SHARE=$RUN/share
mkdir -p "$RUN" "$SHARE"
: >"$SHARE/scenario.log"
[ "${HOLD:-}" = 1 ] && touch "$SHARE/HOLD"
# The machine's own config follows the smoke's (its dashboard image decides
# whether the dashboard is forwarded); the node is the machine's.
NODE_IP='' smoke_cluster_config /opt/k8s-single/binaries "${IMAGES:+/opt/k8s-single/images}" >"$RUN/machine.yaml"
UP=(-c "$RUN/machine.yaml" machine up --name "$MACHINE" --no-up --rootfs "$ROOTFS" --cache-dir "$CACHE_DIR"
	--binaries-dir "$BIN_DIR" --timeout 300s
	--bind "$SHARE:/mnt/share" --bind-ro "$KUBE_BENCH_DIR:/opt/kube-bench")
[ -n "${IMAGES:-}" ] && UP+=(--images "$IMAGES")
[ -n "${OLD_BIN_DIR:-}" ] && UP+=(--bind-ro "$OLD_BIN_DIR:/opt/k8s-single/binaries-old")
# The images step builds images inside the node (runtime.images auto with no
# registry): the host's Go toolchain, and its caches as binaries.cacheDir's
# (modules, builds and wrapper modules with their go.sum: no network needed).
GOROOT_HOST=$(go env GOROOT 2>/dev/null || true)
if [ -x "$GOROOT_HOST/bin/go" ] && [ -d "$CACHE_DIR/gomodcache" ] && [ -d "$CACHE_DIR/gocache" ] && [ -d "$CACHE_DIR/work" ]; then
	UP+=(--bind-ro "$GOROOT_HOST:/opt/k8s-single/go")
	for d in gomodcache gocache work; do UP+=(--bind "$CACHE_DIR/$d:/var/cache/k8s-single/$d"); done
fi
say "k8s-single ${UP[*]}"
date +%s.%N >"$SHARE/t0"
MADE=1
if ! "$K8S_SINGLE" "${UP[@]}" 2>&1 | tee "$RUN/machine.log" | sed 's/^/    /'; then
	die "k8s-single machine up failed (above)"
fi
timed machine-up "$(since "$t")"

# ---- 5. the scenario inside: its files, its node, its unit started
t=$EPOCHREALTIME
NODE_NAME=$MACHINE
NODE_IP=$(machine status -o json | jq -r '.[0].nodeAddress')
NODE_NET_UNIT=k8s-single-machine-net.service
R=$MDIR/rootfs
[ -n "$NODE_IP" ] && [ -d "$R" ] || die "machine status gave no node address, or $R is missing"
install -m 0755 "$HERE/scenario.sh" "$R/usr/local/sbin/k8s-smoke-scenario"
[ -x "$REPO/bin/dashboard-login" ] && install -m 0755 "$REPO/bin/dashboard-login" "$R/usr/local/bin/dashboard-login"
smoke_cluster_config /opt/k8s-single/binaries "${IMAGES:+/opt/k8s-single/images}" >"$R/etc/k8s-single/cluster.yaml"
if ! "$K8S_SINGLE" config validate --file "$R/etc/k8s-single/cluster.yaml" >"$RUN/validate.out" 2>&1; then
	sed 's/^/    /' "$RUN/validate.out" "$R/etc/k8s-single/cluster.yaml"
	die "the cluster config (above) does not validate: $R/etc/k8s-single/cluster.yaml"
fi
# kube-bench for the cis step: the binary bound in, its config dir (ours
# merged over upstream's) written into the rootfs.
smoke_kube_bench_cfg "$R/etc/kube-bench/cfg"
KUBE_BENCH=/opt/kube-bench/kube-bench KUBE_BENCH_CFG=/etc/kube-bench/cfg smoke_env >"$R/etc/k8s-smoke.env"
smoke_scenario_unit poweroff >"$R/etc/systemd/system/k8s-smoke.service"
machine shell -- sh -c 'systemctl daemon-reload && systemctl enable --now --no-block k8s-smoke.service' >/dev/null 2>&1 ||
	die "could not start the scenario in machine $MACHINE (k8s-single machine shell --name $MACHINE -- systemctl enable --now k8s-smoke.service)"
timed scenario-start "$(since "$t")"
say "machine $MACHINE (node $NODE_IP), its dir $MDIR, run dir $RUN; scenario log follows (timeout ${TIMEOUT}s)"

# ---- 6. wait, streaming the scenario log; the machine boots again by itself
# when a step reboots it, and powers off when the scenario is done.
T_BOOT=$(cat "$SHARE/t0")
flush_log() { smoke_stream_log "$SHARE/scenario.log"; }
result_at='' held=''
while machine_running; do
	flush_log
	if [ -z "$result_at" ] && [ -s "$SHARE/result" ]; then result_at=$SECONDS; fi
	if awk -v a="$(since "$T_BOOT")" -v m="$TIMEOUT" 'BEGIN { exit !(a > m) }'; then
		TIMED_OUT=1
		say "TIMEOUT: the machine ran longer than ${TIMEOUT}s"
		break
	fi
	if [ -n "$result_at" ] && [ "${HOLD:-}" = 1 ]; then
		if [ -z "$held" ]; then
			held=1
			say "HOLD=1: machine $MACHINE stays up until it powers off or TIMEOUT; enter it with:"
			say "  $K8S_SINGLE machine shell --name $MACHINE     (then: systemctl poweroff)"
		fi
	elif [ -n "$result_at" ] && [ $((SECONDS - result_at)) -gt "$POWEROFF_WAIT" ]; then
		say "the scenario finished but the machine did not power off within ${POWEROFF_WAIT}s"
		break
	fi
	sleep 0.5
done
T_RUN=$(since "$T_BOOT")
if [ -n "$result_at" ] && ! machine_running; then
	timed poweroff "$(awk -v a="$(date +%s.%N)" -v b="$(stat -c %.9Y "$SHARE/result")" 'BEGIN { printf "%.1f", a - b }')"
fi
flush_log
timed boot+scenario "$T_RUN"

# ---- 7. verdict
echo
RESULT=$(grep -m1 '^RESULT:' "$SHARE/result" 2>/dev/null || true)
if [ -z "$RESULT" ] || [ -n "$TIMED_OUT" ] || [ "$RESULT" != "RESULT: PASS" ]; then
	say "console (last 40 lines of $MDIR/console.log):"
	tail -n 40 "$MDIR/console.log" | sed 's/^/    /'
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
	say "FAIL: timeout after ${TIMEOUT}s"
	exit 1
elif [ -z "$RESULT" ]; then
	say "FAIL: the scenario wrote no result; see the console above"
	exit 1
elif [ "$RESULT" != "RESULT: PASS" ]; then
	say "FAIL: $(tr '\n' ';' <"$SHARE/result")"
	exit 1
fi
say "PASS: $(tr '\n' ';' <"$SHARE/result")"
