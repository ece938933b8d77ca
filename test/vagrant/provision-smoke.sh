#!/bin/bash
# test/vagrant/provision-smoke.sh: the Vagrant provisioner "smoke". Runs as
# root inside the guest and runs the SAME scenario as the nspawn smoke tier
# (test/smoke/scenario.sh) under the guest's systemd, as the oneshot unit
# k8s-smoke.service (lib.sh's smoke_scenario_unit, as in the container),
# streaming its log. A reboot step reboots the guest: the 9p shares are in
# /etc/fstab and the unit is enabled, so the scenario goes on at boot; this
# script then exits 75 and test/vagrant/run.sh follows the log on the host.
#
# It prepares what scenario.sh expects of its machine, which run.sh writes
# into the container's rootfs in the nspawn tier:
#   /usr/local/bin/k8s-single (and k8s-single-full), /usr/local/sbin/k8s-smoke-scenario
#   the node IP $NODE_IP on an interface node0 (a dummy link here: a VM has
#     its own network; the container's was a veth pair) with the default
#     route through it, as in the container (node-net.service); hostname $NODE_NAME
#   vm.overcommit_memory=1, kernel.panic=10, kernel.panic_on_oops=1 (what the
#     kubelet wants; the scenario's boot step checks the first)
#   /etc/k8s-single/cluster.yaml (node, binaries dir, image bundle, dashboard
#     image, CONFIG_EXTRA: the same file run.sh writes for the container)
#   /etc/k8s-smoke.env (the knobs), $SHARE (= /mnt/share: log and result)
#
# The config and the knobs are written by test/smoke/lib.sh's smoke_cluster_config
# and smoke_env, the functions the nspawn tier uses (SMOKE_LIB: its path in the
# guest).
#
# Environment (from the Vagrantfile): NODE_NAME NODE_IP KILL_PHASE KILL_AFTER
# NOOP_MAX STEP_TIMEOUT NODE_WAIT STATUS_WAIT DASHBOARD_IMAGE CONFIG_EXTRA;
# K8S_SINGLE (the binary to install), BIN_DIR (empty: `k8s-single build
# --print-dir`), IMAGES (empty: online), SCENARIO_SH, SMOKE_LIB, SHARE,
# RESET_FIRST=1 (reset an existing install first), SCENARIO=full|minimal
# (full: $SMOKE_VM_STEPS, every step but the day-2 and CIS ones the nspawn
# tier proves; minimal: the steps in $SMOKE_MINIMAL_STEPS, for machines where
# the full scenario does not fit the time budget), STEPS (only these steps,
# instead of the scenario's).
set -euo pipefail
export PATH=/usr/local/go/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
SHARE=${SHARE:-/mnt/share}
SCENARIO=${SCENARIO:-full}
TIER=guest
. "${SMOKE_LIB:-/vagrant/test/smoke/lib.sh}"
case $SCENARIO in
full) [ -n "${STEPS:-}" ] || STEPS=$SMOKE_VM_STEPS ;;
minimal) [ -n "${STEPS:-}" ] || STEPS=$SMOKE_MINIMAL_STEPS ;;
*) die "SCENARIO=$SCENARIO: want full or minimal" ;;
esac
T0=$EPOCHREALTIME

say "guest: $(. /etc/os-release && echo "$PRETTY_NAME"); kernel $(uname -r); $(nproc) CPUs; $(awk '/MemTotal/ { printf "%d MiB", $2 / 1024 }' /proc/meminfo); virt $(systemd-detect-virt); up $(cut -d' ' -f1 /proc/uptime)s; system $(systemctl is-system-running 2>/dev/null || true)"

# ---- k8s-single and the scenario
[ -x "$K8S_SINGLE" ] || die "K8S_SINGLE=$K8S_SINGLE is not executable in the guest (make build on the host?)"
[ -r "$SCENARIO_SH" ] || die "SCENARIO_SH=$SCENARIO_SH not found in the guest"
install -m 0755 "$K8S_SINGLE" /usr/local/bin/k8s-single
# the quick front hands every other command to k8s-single-full beside it
if [ -x "$(dirname "$K8S_SINGLE")/k8s-single-full" ]; then
	install -m 0755 "$(dirname "$K8S_SINGLE")/k8s-single-full" /usr/local/bin/k8s-single-full
fi
install -m 0755 "$SCENARIO_SH" /usr/local/sbin/k8s-smoke-scenario
# the dashboard step's browser login to the real Headlamp (built on the host by lib.sh)
LOGIN_TOOL=$(dirname "${SMOKE_LIB:-/vagrant/test/smoke/lib.sh}")/../../bin/dashboard-login
if [ -x "$LOGIN_TOOL" ]; then install -m 0755 "$LOGIN_TOOL" /usr/local/bin/dashboard-login; fi
if [ -z "${BIN_DIR:-}" ]; then
	BIN_DIR=$(k8s-single build --print-dir 2>/dev/null | tail -n 1) || die "k8s-single build --print-dir failed"
fi
for b in "${SMOKE_BINARIES[@]}"; do
	[ -x "$BIN_DIR/$b" ] || die "BIN_DIR=$BIN_DIR has no $b"
done
say "k8s-single $(k8s-single version 2>/dev/null | head -n 1); binaries $BIN_DIR; images ${IMAGES:-online}"

if [ "${RESET_FIRST:-}" = 1 ] && [ -e /var/lib/k8s-single/state.json ]; then
	say "an install is there (make up?): k8s-single reset, so the scenario starts from nothing"
	k8s-single reset
fi

# ---- the node: IP on node0 with the default route through it (metric 0:
# before the management NIC's DHCP route, 1024; networkd leaves it alone),
# name, sysctls
mkdir -p /etc/systemd/networkd.conf.d
printf '[Network]\nManageForeignRoutes=no\n' >/etc/systemd/networkd.conf.d/k8s-smoke.conf
smoke_node_net_unit default-route >/etc/systemd/system/node-net.service
systemctl daemon-reload
systemctl enable node-net.service >/dev/null 2>&1 && systemctl restart node-net.service || {
	systemctl status --no-pager node-net.service
	die "could not put $NODE_IP on node0"
}
hostname "$NODE_NAME"
echo "$NODE_NAME" >/etc/hostname
sed -i "/[[:space:]]$NODE_NAME\$/d" /etc/hosts
echo "$NODE_IP $NODE_NAME" >>/etc/hosts
printf 'vm.overcommit_memory = 1\nkernel.panic = 10\nkernel.panic_on_oops = 1\n' >/etc/sysctl.d/90-k8s-smoke.conf
sysctl -q -p /etc/sysctl.d/90-k8s-smoke.conf
conntrack_state() {
	if [ ! -e /proc/sys/net/netfilter/nf_conntrack_max ]; then
		echo "absent (nf_conntrack not loaded)"
	elif [ -w /proc/sys/net/netfilter/nf_conntrack_max ]; then
		echo "writable ($(cat /proc/sys/net/netfilter/nf_conntrack_max))"
	else
		echo "read-only"
	fi
}
say "node: $NODE_NAME $(ip -br addr show node0 | awk '{ print $1, $3 }'); /proc/sys/net/netfilter/nf_conntrack_max: $(conntrack_state)"

# ---- config and knobs
mkdir -p /etc/k8s-single "$SHARE"
smoke_cluster_config "$BIN_DIR" "${IMAGES:-}" >/etc/k8s-single/cluster.yaml
k8s-single config validate --file /etc/k8s-single/cluster.yaml >/dev/null || die "the cluster config does not validate"
# Chromium under TCG did not show the real Headlamp's login page within 3
# minutes (2026-12-01): the dashboard step checks Headlamp's server side here
# and logs in with a browser in the nspawn tier.
DASHBOARD_BROWSER=${DASHBOARD_BROWSER:-0} smoke_env >/etc/k8s-smoke.env
rm -f "$SHARE/result" "$SHARE/steps" "$SHARE/boot" "$SHARE/phases.up1" "$SHARE/REBOOT" /var/lib/k8s-smoke/state
: >"$SHARE/scenario.log"
# The reboot steps reboot the guest: the shares come back at boot (fstab)
# and the scenario with them (k8s-smoke.service is enabled).
sed -i '/x-k8s-smoke/d' /etc/fstab
awk '$3 == "9p" {
	ro = ($4 ~ /^ro(,|$)/) ? ",ro" : ""
	print $1, $2, "9p", "trans=virtio,version=9p2000.L,msize=262144,x-k8s-smoke" ro, 0, 0
}' /proc/mounts >>/etc/fstab
smoke_scenario_unit disable >/etc/systemd/system/k8s-smoke.service
systemctl daemon-reload
systemctl enable k8s-smoke.service >/dev/null 2>&1 || die "systemctl enable k8s-smoke.service failed"
say "prepared in $(since "$T0")s; shares in /etc/fstab: $(grep -c x-k8s-smoke /etc/fstab)"

# ---- run it as a unit (as in the container), streaming its log
say "scenario ($SCENARIO${STEPS:+: $STEPS}): systemctl start k8s-smoke.service   (log: $SHARE/scenario.log)"
systemctl reset-failed k8s-smoke.service >/dev/null 2>&1 || true
T1=$EPOCHREALTIME
systemctl start k8s-smoke.service &
RUNNER=$!
tail -n +1 -F -s 1 --pid="$RUNNER" "$SHARE/scenario.log" 2>/dev/null &
TAILER=$!
rc=0
wait "$RUNNER" || rc=$?
sleep 1
kill "$TAILER" 2>/dev/null || true
wait "$TAILER" 2>/dev/null || true
if [ -e "$SHARE/REBOOT" ] && [ ! -s "$SHARE/result" ]; then
	# (test/vagrant/run.sh follows the log on the host until the result)
	say "a reboot step is rebooting the guest after $(since "$T1")s: the scenario goes on at boot ($SHARE/scenario.log)"
	exit 75
fi
say "scenario unit ended (systemctl start rc $rc) after $(since "$T1")s; /proc/sys/net/netfilter/nf_conntrack_max: $(conntrack_state)"
if ! grep -q '^RESULT: PASS' "$SHARE/result" 2>/dev/null; then
	if [ ! -s "$SHARE/result" ]; then
		say "the scenario wrote no result: journal of the scenario unit and the k8s-single units"
		journalctl -u k8s-smoke --no-pager -n 40 || true
		for u in etcd kube-apiserver kube-controller-manager kube-scheduler containerd kubelet kube-proxy; do
			[ "$(systemctl show -P LoadState "$u.service")" = not-found ] && continue
			echo "---- journalctl -u $u -n 40"
			journalctl -u "$u" --no-pager -n 40 -o short-monotonic || true
		done
	fi
	die "scenario: $(tr '\n' ';' <"$SHARE/result" 2>/dev/null || echo 'no result')"
fi
say "scenario: $(tr '\n' ';' <"$SHARE/result")"
