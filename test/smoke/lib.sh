# test/smoke/lib.sh: what the two smoke tiers share, sourced (never run) by
# test/smoke/run.sh (nspawn), test/vagrant/run.sh and mkbox.sh (host side) and
# test/vagrant/provision-smoke.sh (inside the VM):
#
#   the rootfs both tiers boot: its package list, cache key and build
#     (smoke_rootfs prints the cached $SMOKE/rootfs-<key>, building it once)
#   the inputs: k8s-single, the 8 binaries, the image bundle with the dashboard
#     stand-in (smoke_inputs)
#   the node's files: the cluster config, the scenario's knobs and the node IP's
#     units (smoke_cluster_config, smoke_env, smoke_node_net_unit,
#     smoke_scenario_unit)
#   logging and the host-clean check's common part (say, die, since,
#     smoke_net_state, smoke_stream_log)
#
# The caller sets TIER (the log prefix) and, on the host, SMOKE (the nspawn
# tier's cache: $CACHE_DIR/smoke) and REPO. CACHE_DIR (/var/cache/k8s-single)
# holds the builds, the image bundle and kube-bench.
CACHE_DIR=${CACHE_DIR:-/var/cache/k8s-single}

SMOKE_SUITE=bookworm
# The rootfs: debootstrap --variant=minbase plus these packages (the
# reference's, plus curl/jq/procps for the scenario). Its cache key is a hash
# of this list, the suite and SMOKE_ROOTFS_RECIPE (bump it when
# smoke_build_rootfs changes what it makes).
SMOKE_PKGS=(systemd systemd-sysv dbus containerd runc containernetworking-plugins iptables conntrack socat
	iproute2 ca-certificates kmod procps util-linux mount netbase curl jq
	chromium libnss3-tools fonts-dejavu-core)
# SMOKE_LATE_PKGS (the dashboard step's browser) are in SMOKE_PKGS too but
# installed with apt-get in the chroot after debootstrap: debootstrap cannot
# resolve their dependencies (dconf-service needs the virtual dbus-session-bus).
SMOKE_LATE_PKGS=(chromium libnss3-tools fonts-dejavu-core)
SMOKE_ROOTFS_RECIPE=2
# The steps of scenario.sh a minimal run (the Vagrant tier's SCENARIO=minimal)
# keeps: what only a VM proves, without the reinstall.
SMOKE_MINIMAL_STEPS="boot up phase-list noop-up etcd-health status nodes pods metrics"
# The steps the Vagrant tier's full run (SCENARIO=full) takes: what a real
# kernel and NIC make real, the reboot and IP-change steps included
# (test/vagrant/run.sh follows the guest through its reboots), but not the
# CIS, day-2 and reinstall steps (cis, hardening, kill-daemons, doctor,
# renew, backup-timer, backup-restore, reset, up-after-reset, disk-pressure),
# which the nspawn tier proves under the same systemd and which take minutes
# each under software emulation (reset + up-after-reset: ~7 min; the IP
# change's up at boot alone takes ~6 min there).
SMOKE_VM_STEPS="boot up phase-list noop-up kill-mid-phase resume etcd-health status nodes pods image-volume metrics dashboard reboot ip-change"
# The 8 binaries a node needs.
SMOKE_BINARIES=(etcd etcdctl kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy kubectl)

since() { awk -v a="$EPOCHREALTIME" -v b="$1" 'BEGIN { printf "%.1f", a - b }'; }
say() { printf '[%s %s] %s\n' "${TIER:-smoke}" "$(date +%T)" "$*"; }
die() {
	say "ERROR: $*"
	exit 1
}

# smoke_net_state prints the host's network links and iptables rules (counters
# dropped, sorted): the part of the host-clean check both tiers make.
smoke_net_state() {
	local t
	echo "## links"
	ip -o link show | awk -F': ' '{ print $2 }' | sort
	for t in iptables-save ip6tables-save; do
		command -v "$t" >/dev/null || continue
		echo "## $t"
		"$t" 2>/dev/null | grep -v '^#' | sed 's/\[[0-9]*:[0-9]*\]//' | sort
	done
	true
}

# smoke_host_state DIR CGROUP_GLOB prints what the host-clean check compares
# before and after a run: links and iptables rules, the mounts under DIR,
# /run/systemd, /sys/fs/cgroup, /proc/sys and /dev, nspawn's runtime state
# and the cgroups named CGROUP_GLOB, or that systemd, nspawn or a kubelet
# would make if they escaped to a hierarchy's root.
smoke_host_state() {
	smoke_net_state
	echo "## mounts (under $1, /run/systemd, /sys/fs/cgroup, /proc/sys, /dev)"
	awk '{ print $5 }' /proc/self/mountinfo |
		awk -v c="$1" 'index($0, c) == 1 || /^\/(run\/systemd|sys\/fs\/cgroup|proc\/sys|dev)(\/|$)/' | sort
	echo "## nspawn runtime"
	find /run/systemd/nspawn 2>/dev/null | sort
	echo "## cgroups"
	find /sys/fs/cgroup -maxdepth 5 -type d -name "$2" -prune 2>/dev/null | sort
	find /sys/fs/cgroup/ -mindepth 2 -maxdepth 2 -type d \( -name '*.slice' -o -name '*.scope' -o -name 'kubepods*' \
		-o -name payload -o -name supervisor \) 2>/dev/null | sort
	true
}

# smoke_stream_log FILE prints what FILE gained since the last call.
SMOKE_LOG_OFF=0
smoke_stream_log() {
	local size
	size=$(stat -c %s "$1" 2>/dev/null || echo 0)
	if [ "$size" -gt "$SMOKE_LOG_OFF" ]; then
		# head reads the file up to size and ends; tail drains the pipe. (The
		# other way round, head closing the pipe while a growing file still
		# feeds tail killed the caller with SIGPIPE under pipefail.)
		head -c "$size" "$1" | tail -c +"$((SMOKE_LOG_OFF + 1))"
		SMOKE_LOG_OFF=$size
	fi
}

# ---- the inputs

# smoke_inputs sets K8S_SINGLE (`make build` unless given), BIN_DIR (`k8s-single
# build --print-dir` unless given), IMAGES (the bundle; images it lacks are
# built when BUILD_IMAGES is auto or 1) and DASHBOARD_IMAGE (the test-only
# stand-in, built into the bundle, unless given or CONFIG_EXTRA has its own
# dashboard section).
smoke_inputs() {
	local b missing_images
	if [ -z "${K8S_SINGLE:-}" ]; then
		say "make build"
		make -C "$REPO" build >/dev/null || die "make build failed (or set K8S_SINGLE=/path/to/k8s-single)"
		K8S_SINGLE=$REPO/bin/k8s-single
	fi
	[ -x "$K8S_SINGLE" ] || die "K8S_SINGLE=$K8S_SINGLE is not executable"
	if [ -z "${BIN_DIR:-}" ]; then
		BIN_DIR=$("$K8S_SINGLE" build --cache-dir "$CACHE_DIR" --print-dir 2>/dev/null | tail -n 1) || die "k8s-single build --print-dir failed"
	fi
	for b in "${SMOKE_BINARIES[@]}"; do
		[ -x "$BIN_DIR/$b" ] || die "BIN_DIR=$BIN_DIR has no $b (make binaries)"
	done
	BUILD_IMAGES=${BUILD_IMAGES:-auto}
	case $BUILD_IMAGES in
	1 | auto)
		IMAGES=${IMAGES:-$CACHE_DIR/images}
		missing_images=$(smoke_bundle_missing) || die "k8s-single images list failed"
		if [ "$BUILD_IMAGES" = 1 ] || [ -n "$missing_images" ]; then
			[ -n "$missing_images" ] && say "the bundle $IMAGES lacks: $(echo $missing_images)"
			say "k8s-single images build --out $IMAGES"
			"$K8S_SINGLE" images build --out "$IMAGES" --cache-dir "$CACHE_DIR" >/dev/null || die "k8s-single images build --out $IMAGES failed"
			missing_images=$(smoke_bundle_missing)
			[ -z "$missing_images" ] || die "after images build, $IMAGES still lacks: $(echo $missing_images)"
		fi
		;;
	0)
		if [ -z "${IMAGES:-}" ] && compgen -G "$CACHE_DIR/images/*.tar" >/dev/null; then
			IMAGES=$CACHE_DIR/images
		fi
		;;
	*) die "BUILD_IMAGES=$BUILD_IMAGES: want auto, 1 or 0" ;;
	esac
	if [ -n "${IMAGES:-}" ]; then
		compgen -G "$IMAGES/*.tar" >/dev/null || die "IMAGES=$IMAGES holds no *.tar"
	fi
	# The dashboard: no registry here, so the real Headlamp comes from its
	# test image (smoke_headlamp_tar: ../shared/images, built from its source
	# tag) copied into the bundle, with dashboard.image left at k8s-single's
	# default; without it the test-only stand-in is built into the bundle
	# (cached; prints its reference last). Neither when CONFIG_EXTRA has its
	# own dashboard section (kind: none).
	local headlamp
	headlamp=$(smoke_headlamp_tar)
	if grep -q '^dashboard:' <<<"${CONFIG_EXTRA:-}"; then
		[ -z "${DASHBOARD_IMAGE:-}" ] ||
			die "DASHBOARD_IMAGE and a dashboard section in CONFIG_EXTRA: put image: in CONFIG_EXTRA's section instead"
	elif [ -z "${DASHBOARD_IMAGE:-}" ] && [ -n "${IMAGES:-}" ] && [ -n "$headlamp" ]; then
		if ! cmp -s "$headlamp" "$IMAGES/headlamp.tar"; then
			cp "$headlamp" "$IMAGES/.headlamp.tar.tmp" && mv "$IMAGES/.headlamp.tar.tmp" "$IMAGES/headlamp.tar" ||
				die "copying $headlamp into $IMAGES failed"
		fi
		say "dashboard: the real Headlamp from $headlamp (in the bundle as headlamp.tar)"
		smoke_dashboard_login
	elif [ -z "${DASHBOARD_IMAGE:-}" ] && [ -n "${IMAGES:-}" ]; then
		rm -f "$IMAGES/headlamp.tar"
		DASHBOARD_IMAGE=$("$K8S_SINGLE" dashboard standin --out "$IMAGES" --cache-dir "$CACHE_DIR" | tail -n 1) ||
			die "k8s-single dashboard standin --out $IMAGES failed"
		[ -n "$DASHBOARD_IMAGE" ] || die "k8s-single dashboard standin printed no image reference"
		[ -s "$IMAGES/dashboard-standin.tar" ] || die "k8s-single dashboard standin wrote no $IMAGES/dashboard-standin.tar"
	fi
	say "k8s-single: $K8S_SINGLE ($("$K8S_SINGLE" version 2>/dev/null | head -n 1)); binaries: $BIN_DIR; images: ${IMAGES:-none}; dashboard image: ${DASHBOARD_IMAGE:-default}"
}

# smoke_headlamp_tar prints the real Headlamp's test image (HEADLAMP_TAR, or
# headlamp-v0.45.0.tar in ../shared/images beside the repository or in
# /work/shared/images), or nothing when there is none (HEADLAMP_TAR=none:
# never).
smoke_headlamp_tar() {
	local f
	for f in ${HEADLAMP_TAR:-"$REPO/../shared/images/headlamp-v0.45.0.tar" /work/shared/images/headlamp-v0.45.0.tar}; do
		[ "$f" = none ] && return 0
		[ -s "$f" ] && { echo "$f"; return 0; }
	done
	[ -z "${HEADLAMP_TAR:-}" ] || die "HEADLAMP_TAR=$HEADLAMP_TAR: no such file"
}

# smoke_dashboard_login builds $REPO/bin/dashboard-login, the dashboard
# step's browser login to the real Headlamp (test/smoke/dashboard-login, a
# module of its own: chromedp stays out of k8s-single's dependencies).
smoke_dashboard_login() {
	local t=$EPOCHREALTIME
	(cd "$REPO/test/smoke/dashboard-login" && CGO_ENABLED=0 go build -trimpath -o "$REPO/bin/dashboard-login" .) ||
		die "building test/smoke/dashboard-login failed"
	say "dashboard-login built in $(since "$t")s: $REPO/bin/dashboard-login"
}

# ---- kube-bench (the cis step)

# KUBE_BENCH_VERSION: kube-bench's release (the newest the Go module proxy
# serves); KUBE_BENCH_BENCHMARK: the CIS profile it runs (cis-1.12 is its
# newest; kube-bench maps only Kubernetes 1.32-1.34 to it, so it is named).
KUBE_BENCH_VERSION=${KUBE_BENCH_VERSION:-v0.15.6}
KUBE_BENCH_BENCHMARK=cis-1.12

# smoke_kube_bench sets KUBE_BENCH_DIR (the kube-bench binary and its cfg/),
# building it once with test/smoke/kube-bench/build.sh into
# $CACHE_DIR/kube-bench/<version> unless KUBE_BENCH_DIR is given.
smoke_kube_bench() {
	if [ -z "${KUBE_BENCH_DIR:-}" ]; then
		KUBE_BENCH_DIR=$(KUBE_BENCH_VERSION=$KUBE_BENCH_VERSION "$REPO/test/smoke/kube-bench/build.sh" | tail -n 1) ||
			die "test/smoke/kube-bench/build.sh failed (or set KUBE_BENCH_DIR=dir with kube-bench and cfg/)"
	fi
	[ -x "$KUBE_BENCH_DIR/kube-bench" ] && [ -d "$KUBE_BENCH_DIR/cfg/$KUBE_BENCH_BENCHMARK" ] ||
		die "KUBE_BENCH_DIR=$KUBE_BENCH_DIR has no kube-bench or no cfg/$KUBE_BENCH_BENCHMARK"
	say "kube-bench: $KUBE_BENCH_DIR ($("$KUBE_BENCH_DIR/kube-bench" version 2>/dev/null | head -n 1))"
}

# smoke_kube_bench_cfg DEST writes the kube-bench config dir the cis step uses:
# upstream's cfg/config.yaml and cfg/$KUBE_BENCH_BENCHMARK/ from
# $KUBE_BENCH_DIR, with our component paths (test/smoke/kube-bench/config.yaml)
# as the benchmark's config.yaml, which kube-bench merges over cfg/config.yaml,
# and our fixes to the controls (test/smoke/kube-bench/$KUBE_BENCH_BENCHMARK.patch).
smoke_kube_bench_cfg() {
	local dest=$1 kb=$REPO/test/smoke/kube-bench
	rm -rf "$dest"
	mkdir -p "$dest"
	cp "$KUBE_BENCH_DIR/cfg/config.yaml" "$dest/config.yaml"
	cp -r "$KUBE_BENCH_DIR/cfg/$KUBE_BENCH_BENCHMARK" "$dest/$KUBE_BENCH_BENCHMARK"
	cp "$kb/config.yaml" "$dest/$KUBE_BENCH_BENCHMARK/config.yaml"
	(cd "$dest/$KUBE_BENCH_BENCHMARK" && git apply "$kb/$KUBE_BENCH_BENCHMARK.patch") ||
		die "$kb/$KUBE_BENCH_BENCHMARK.patch does not apply to kube-bench $KUBE_BENCH_VERSION's cfg/$KUBE_BENCH_BENCHMARK"
}

# smoke_bundle_missing prints the references `images list` names that
# $IMAGES/bundle.json has no tarball for.
smoke_bundle_missing() {
	local refs ref file
	refs=$("$K8S_SINGLE" images list) || return 1
	for ref in $refs; do
		file=$(jq -r --arg r "$ref" '.images[] | select(.ref == $r) | .file' "$IMAGES/bundle.json" 2>/dev/null | head -n 1)
		[ -n "$file" ] && [ -s "$IMAGES/$file" ] || echo "$ref"
	done
}

# ---- the node's files

# smoke_cluster_config BIN_DIR [IMAGES] prints the cluster config of the smoke
# node: only what differs from the defaults (the node, the binaries dir and
# image bundle as the node sees them, the dashboard image, CONFIG_EXTRA).
smoke_cluster_config() {
	echo "apiVersion: k8s-single.dev/v1alpha1"
	echo "kind: Cluster"
	if [ -n "${NODE_IP:-}" ]; then
		echo "node:"
		echo "  name: $NODE_NAME"
		echo "  address: $NODE_IP"
	fi
	echo "binaries:"
	echo "  source: dir"
	echo "  dir: $1"
	if [ -n "${2:-}" ]; then
		echo "runtime:"
		echo "  imageBundle: $2"
	fi
	# Scheduled backups, for the backup-timer step.
	echo "backup:"
	echo "  schedule: daily"
	echo "  keep: 3"
	if [ -n "${DASHBOARD_IMAGE:-}" ]; then
		echo "dashboard:"
		echo "  image: $DASHBOARD_IMAGE"
	fi
	if [ -n "${CONFIG_EXTRA:-}" ]; then printf '%s\n' "$CONFIG_EXTRA"; fi
}

# smoke_env prints /etc/k8s-smoke.env, the knobs test/smoke/scenario.sh reads.
smoke_env() {
	cat <<EOF
NODE_NAME=$NODE_NAME
NODE_IP=$NODE_IP
NODE_NET_UNIT=${NODE_NET_UNIT:-node-net.service}
KILL_PHASE=${KILL_PHASE:-etcd}
KILL_AFTER=${KILL_AFTER:-2}
NOOP_MAX=${NOOP_MAX:-1}
STEP_TIMEOUT=${STEP_TIMEOUT:-600}
NODE_WAIT=${NODE_WAIT:-120}
STATUS_WAIT=${STATUS_WAIT:-60}
STEPS="${STEPS:-}"
DASHBOARD_BROWSER=${DASHBOARD_BROWSER:-1}
BENCH=${BENCH:-}
OLD_KUBERNETES_VERSION=${OLD_KUBERNETES_VERSION:-}
OLD_ETCD_VERSION=${OLD_ETCD_VERSION:-}
BENCH_SERIAL=${BENCH_SERIAL:-}
K8S_SINGLE_SERIAL=${K8S_SINGLE_SERIAL:-}
KUBE_BENCH=${KUBE_BENCH:-}
KUBE_BENCH_CFG=${KUBE_BENCH_CFG:-}
KUBE_BENCH_BENCHMARK=$KUBE_BENCH_BENCHMARK
KUBE_BENCH_TARGETS=${KUBE_BENCH_TARGETS:-master,controlplane,etcd,node,policies}
EOF
}

# smoke_node_net_unit [default-route] prints the oneshot unit that puts
# $NODE_IP on node0: a dummy link, or a veth pair where the kernel has no
# dummy driver (the nspawn tier's), and with default-route, the default route
# through it (a container with a private network has none).
smoke_node_net_unit() {
	local route=
	[ "${1:-}" = default-route ] && route=' && ip route replace default dev node0'
	cat <<EOF
[Unit]
Description=Node IP $NODE_IP on node0 (k8s-single smoke)
DefaultDependencies=no
After=systemd-modules-load.service
Before=network-pre.target
Wants=network-pre.target

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/bin/sh -c 'ip link show node0 >/dev/null 2>&1 || ip link add node0 type dummy 2>/dev/null || ip link add node0 type veth peer name node0p; ip link set node0p up 2>/dev/null; ip addr replace $NODE_IP/24 dev node0 && ip link set node0 up$route'

[Install]
WantedBy=multi-user.target
EOF
}

# smoke_scenario_unit poweroff|disable prints k8s-smoke.service, the oneshot
# unit that runs the scenario after multi-user.target at every boot (after a
# reboot step it resumes from its state file), its log and result in
# /mnt/share. When the scenario ends (not when a reboot step reboots), the
# machine powers off (poweroff: the nspawn tier's container, unless
# /mnt/share/HOLD asks to keep it up) or the unit disables itself (disable:
# a VM, which may be a user's and boots again).
smoke_scenario_unit() {
	local stop
	case $1 in
	poweroff) stop="[ -e /mnt/share/HOLD ] || [ -e /run/k8s-smoke-reboot ] || exec systemctl poweroff --no-block" ;;
	disable) stop="[ -e /run/k8s-smoke-reboot ] || exec systemctl disable k8s-smoke.service" ;;
	*) die "smoke_scenario_unit $1: want poweroff or disable" ;;
	esac
	cat <<EOF
[Unit]
Description=k8s-single smoke scenario (log and result in /mnt/share)
After=multi-user.target ${NODE_NET_UNIT:-node-net.service}
Wants=${NODE_NET_UNIT:-node-net.service}
RequiresMountsFor=/mnt/share

[Service]
Type=oneshot
TimeoutStartSec=infinity
Environment=HOME=/root
ExecStart=/usr/local/sbin/k8s-smoke-scenario
ExecStopPost=/bin/sh -c '$stop'

[Install]
WantedBy=multi-user.target
EOF
}

# ---- the rootfs

# smoke_apt_mirror prints the URI of the first configured apt source serving
# $SMOKE_SUITE main.
smoke_apt_mirror() {
	local f
	for f in /etc/apt/sources.list.d/*.sources; do
		[ -e "$f" ] || continue
		awk -v suite="$SMOKE_SUITE" 'BEGIN { RS = ""; FS = "\n" } {
			types = uris = suites = comps = ""
			for (i = 1; i <= NF; i++) {
				if ($i ~ /^[ \t]*#/) continue
				k = $i; sub(/:.*/, "", k); v = $i; sub(/^[^:]*:[ \t]*/, "", v)
				if (k == "Types") types = v; else if (k == "URIs") uris = v
				else if (k == "Suites") suites = v; else if (k == "Components") comps = v
			}
			if ((" " types " ") ~ / deb / && (" " suites " ") ~ (" " suite " ") && (" " comps " ") ~ / main /) {
				split(uris, u, /[ \t]+/); print u[1]; exit
			}
		}' "$f"
	done
	cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null |
		sed -E 's/\[[^]]*\]//' | awk -v suite="$SMOKE_SUITE" '$1 == "deb" && $3 == suite { for (i = 4; i <= NF; i++) if ($i == "main") { print $2; exit } }'
}

# smoke_rootfs_key prints the rootfs's cache key.
smoke_rootfs_key() {
	printf '%s\n' "$SMOKE_SUITE" "recipe $SMOKE_ROOTFS_RECIPE" "$(printf '%s\n' "${SMOKE_PKGS[@]}" | sort)" | sha256sum | cut -c1-16
}

# smoke_rootfs makes sure $SMOKE/rootfs-<key> exists (built once, under a
# lock; the caller holds $SMOKE/.run.lock) and sets ROOTFS to it. While it builds, SMOKE_BUILD_TMP names the
# partial tree, for the caller's cleanup.
smoke_rootfs() {
	local t=$EPOCHREALTIME
	ROOTFS=$SMOKE/rootfs-$(smoke_rootfs_key)
	mkdir -p "$SMOKE"
	exec 8>"$SMOKE/.rootfs.lock"
	flock 8
	if [ -d "$ROOTFS" ]; then
		say "rootfs cached: $ROOTFS"
	else
		smoke_build_rootfs
		say "rootfs built in $(since "$t")s: $ROOTFS"
	fi
	flock -u 8
}

# smoke_build_rootfs debootstraps $ROOTFS (through $ROOTFS.tmp, renamed when
# complete, so a killed build is never taken for a cached one).
smoke_build_rootfs() {
	local mirror=${MIRROR:-$(smoke_apt_mirror | head -n 1)} p early=() log=$SMOKE/debootstrap.log
	[ -n "$mirror" ] || die "no apt source for Debian $SMOKE_SUITE main in /etc/apt: set MIRROR=http://.../debian"
	SMOKE_BUILD_TMP=$ROOTFS.tmp
	smoke_umount_under "$SMOKE_BUILD_TMP"
	rm -rf "$SMOKE_BUILD_TMP"
	for p in "${SMOKE_PKGS[@]}"; do [[ " ${SMOKE_LATE_PKGS[*]} " == *" $p "* ]] || early+=("$p"); done
	say "building the rootfs (once): debootstrap $SMOKE_SUITE from $mirror with ${early[*]}, then apt-get install ${SMOKE_LATE_PKGS[*]}"
	if ! debootstrap --variant=minbase --components=main --include="$(
		IFS=,
		echo "${early[*]}"
	)" "$SMOKE_SUITE" "$SMOKE_BUILD_TMP" "$mirror" >"$log" 2>&1; then
		tail -n 30 "$log"
		die "debootstrap failed (full log: $log)"
	fi
	# debootstrap left sources.list (the mirror) and the host's resolv.conf.
	if ! { chroot "$SMOKE_BUILD_TMP" apt-get update &&
		DEBIAN_FRONTEND=noninteractive chroot "$SMOKE_BUILD_TMP" apt-get install -y --no-install-recommends "${SMOKE_LATE_PKGS[@]}"; } \
		>>"$log" 2>&1; then
		tail -n 30 "$log"
		die "apt-get install ${SMOKE_LATE_PKGS[*]} in the rootfs failed (full log: $log)"
	fi
	# Debian enables containerd at boot: k8s-single's runtime phase starts it.
	systemctl --root="$SMOKE_BUILD_TMP" disable containerd.service >/dev/null 2>&1 || true
	chroot "$SMOKE_BUILD_TMP" apt-get clean
	rm -rf "$SMOKE_BUILD_TMP"/var/lib/apt/lists/* "$SMOKE_BUILD_TMP"/var/log/*.log
	mkdir -p "$SMOKE_BUILD_TMP"/var/log/journal "$SMOKE_BUILD_TMP"/mnt/share "$SMOKE_BUILD_TMP"/opt/k8s-single/binaries "$SMOKE_BUILD_TMP"/opt/k8s-single/images
	{
		echo "# k8s-single smoke rootfs $(smoke_rootfs_key): debootstrap --variant=minbase $SMOKE_SUITE $mirror"
		chroot "$SMOKE_BUILD_TMP" dpkg-query -W -f='${Package} ${Version}\n' "${SMOKE_PKGS[@]}"
	} >"$SMOKE_BUILD_TMP/etc/k8s-smoke-rootfs"
	mv "$SMOKE_BUILD_TMP" "$ROOTFS"
	SMOKE_BUILD_TMP=
	# older rootfs builds (other keys): both tiers use them only under the run
	# lock their caller holds
	local old
	for old in "$SMOKE"/rootfs-*; do
		[ "$old" = "$ROOTFS" ] || rm -rf "$old"
	done
}

# smoke_umount_under DIR unmounts everything below DIR, deepest first.
smoke_umount_under() {
	local m
	[ -n "$1" ] || return 0
	for m in $(awk -v p="$1" 'index($5, p "/") == 1 || $5 == p { print $5 }' /proc/self/mountinfo | sort -r); do
		umount -l "$m" 2>/dev/null && say "unmounted leftover $m"
	done
}
