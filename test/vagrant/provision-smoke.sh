#!/bin/bash
# test/vagrant/provision-smoke.sh: the Vagrant provisioner "smoke". Runs as
# root inside the guest and runs the SAME scenario as the nspawn smoke tier
# (test/smoke/scenario.sh) under the guest's systemd, as the oneshot unit
# k8s-smoke (like k8s-smoke.service in the container), streaming its log.
#
# It prepares what scenario.sh expects of its machine, which run.sh writes
# into the container's rootfs in the nspawn tier:
#   /usr/local/bin/k8s-single, /usr/local/sbin/k8s-smoke-scenario
#   the node IP $NODE_IP on an interface node0 (a dummy link here: a VM has
#     its own network; the container's was a veth pair), hostname $NODE_NAME
#   vm.overcommit_memory=1, kernel.panic=10, kernel.panic_on_oops=1 (what the
#     kubelet wants; the scenario's boot step checks the first)
#   /etc/k8s-single/cluster.yaml (node, binaries dir, image bundle, dashboard
#     image, CONFIG_EXTRA: the same file run.sh writes for the container)
#   /etc/k8s-smoke.env (the knobs), $SHARE (= /mnt/share: log and result)
#
# Environment (from the Vagrantfile): NODE_NAME NODE_IP KILL_PHASE KILL_AFTER
# NOOP_MAX STEP_TIMEOUT NODE_WAIT STRICT DASHBOARD_IMAGE CONFIG_EXTRA; K8S_SINGLE (the binary to install),
# BIN_DIR (empty: `k8s-single build --print-dir`), IMAGES (empty: online),
# SCENARIO_SH, SHARE, RESET_FIRST=1 (reset an existing install first),
# SCENARIO=full|minimal (minimal: up, phase list, no-op up, status; for
# machines where the full scenario does not fit the time budget).
set -euo pipefail
export PATH=/usr/local/go/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
SHARE=${SHARE:-/mnt/share}
SCENARIO=${SCENARIO:-full}
say() { printf '[guest %s] %s\n' "$(date +%T)" "$*"; }
die() {
	say "ERROR: $*"
	exit 1
}
T0=$EPOCHREALTIME
since() { awk -v a="$EPOCHREALTIME" -v b="$1" 'BEGIN { printf "%.1f", a - b }'; }

say "guest: $(. /etc/os-release && echo "$PRETTY_NAME"); kernel $(uname -r); $(nproc) CPUs; $(awk '/MemTotal/ { printf "%d MiB", $2 / 1024 }' /proc/meminfo); virt $(systemd-detect-virt); up $(cut -d' ' -f1 /proc/uptime)s; system $(systemctl is-system-running 2>/dev/null || true)"

# ---- k8s-single and the scenario
[ -x "$K8S_SINGLE" ] || die "K8S_SINGLE=$K8S_SINGLE is not executable in the guest (make build on the host?)"
[ -r "$SCENARIO_SH" ] || die "SCENARIO_SH=$SCENARIO_SH not found in the guest"
install -m 0755 "$K8S_SINGLE" /usr/local/bin/k8s-single
install -m 0755 "$SCENARIO_SH" /usr/local/sbin/k8s-smoke-scenario
if [ -z "${BIN_DIR:-}" ]; then
	BIN_DIR=$(k8s-single build --print-dir 2>/dev/null | tail -n 1) || die "k8s-single build --print-dir failed"
fi
for b in etcd etcdctl kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy kubectl; do
	[ -x "$BIN_DIR/$b" ] || die "BIN_DIR=$BIN_DIR has no $b"
done
say "k8s-single $(k8s-single version 2>/dev/null | head -n 1); binaries $BIN_DIR; images ${IMAGES:-online}"

if [ "${RESET_FIRST:-}" = 1 ] && [ -e /var/lib/k8s-single/state.json ]; then
	say "an install is there (make up?): k8s-single reset, so the scenario starts from nothing"
	k8s-single reset
fi

# ---- the node: IP on node0, name, sysctls
cat >/etc/systemd/system/k8s-smoke-node-net.service <<EOF
[Unit]
Description=Node IP $NODE_IP on node0 (k8s-single smoke)
DefaultDependencies=no
After=systemd-modules-load.service
Before=network-pre.target
Wants=network-pre.target

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/bin/sh -c 'ip link show node0 >/dev/null 2>&1 || ip link add node0 type dummy || ip link add node0 type veth peer name node0p; ip link set node0p up 2>/dev/null; ip addr replace $NODE_IP/24 dev node0 && ip link set node0 up'

[Install]
WantedBy=multi-user.target
EOF
systemctl daemon-reload
systemctl enable --now k8s-smoke-node-net.service >/dev/null 2>&1 || {
	systemctl status --no-pager k8s-smoke-node-net.service
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
{
	echo "apiVersion: k8s-single.dev/v1alpha1"
	echo "kind: Cluster"
	echo "node:"
	echo "  name: $NODE_NAME"
	echo "  address: $NODE_IP"
	echo "binaries:"
	echo "  source: dir"
	echo "  dir: $BIN_DIR"
	if [ -n "${IMAGES:-}" ]; then
		echo "runtime:"
		echo "  imageBundle: $IMAGES"
	fi
	if [ -n "${DASHBOARD_IMAGE:-}" ]; then
		echo "dashboard:"
		echo "  image: $DASHBOARD_IMAGE"
	fi
	if [ -n "${CONFIG_EXTRA:-}" ]; then printf '%s\n' "$CONFIG_EXTRA"; fi
} >/etc/k8s-single/cluster.yaml
k8s-single config validate --file /etc/k8s-single/cluster.yaml >/dev/null || die "the cluster config does not validate"
cat >/etc/k8s-smoke.env <<EOF
NODE_NAME=$NODE_NAME
NODE_IP=$NODE_IP
KILL_PHASE=$KILL_PHASE
KILL_AFTER=$KILL_AFTER
NOOP_MAX=$NOOP_MAX
STEP_TIMEOUT=$STEP_TIMEOUT
NODE_WAIT=$NODE_WAIT
STRICT=$STRICT
EOF
rm -f "$SHARE/result" "$SHARE/steps" "$SHARE/boot" "$SHARE/phases.up1"
: >"$SHARE/scenario.log"
say "prepared in $(since "$T0")s"

# ---- the minimal scenario (SCENARIO=minimal): same log and result files
if [ "$SCENARIO" = minimal ]; then
	cat >/usr/local/sbin/k8s-smoke-minimal <<'EOF'
#!/bin/bash
# The minimal scenario (SCENARIO=minimal), for machines where the full one does
# not fit the time budget (qemu under TCG): up from nothing -> every phase done
# (verify included) -> a no-op up -> status healthy -> the node Ready. Same
# log, steps and result files as test/smoke/scenario.sh.
set -u -o pipefail
SHARE=/mnt/share
exec >>"$SHARE/scenario.log" 2>&1
. /etc/k8s-smoke.env
export HOME=/root KUBECONFIG=/etc/kubernetes/admin.conf
export PATH=/opt/kubernetes/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
CFG=/etc/k8s-single/cluster.yaml
OUT=/run/k8s-smoke
mkdir -p "$OUT"
T_START=$EPOCHREALTIME
since() { awk -v a="$EPOCHREALTIME" -v b="$1" 'BEGIN { printf "%.2f", a - b }'; }
stamp() {
	local t0=${EPOCHREALTIME/./} line d
	while IFS= read -r line; do
		d=$((${EPOCHREALTIME/./} - t0))
		printf '%4d.%01ds %s\n' $((d / 1000000)) $((d % 1000000 / 100000)) "$line"
	done
}
k8s() { # k8s TAG ARGS...: k8s-single, its lines stamped and saved to $OUT/TAG.out
	local tag=$1
	shift
	echo "+ k8s-single $*"
	timeout --kill-after=10 "$STEP_TIMEOUT" k8s-single "$@" 2>&1 | stamp | tee "$OUT/$tag.out"
	return "${PIPESTATUS[0]}"
}
declare -a ROWS=() FAILED=()
step() {
	local name=$1 fn=$2 t rc r d u
	printf '\n==> %s  [%s]\n' "$name" "$(date +%T)"
	t=$EPOCHREALTIME
	"$fn"
	rc=$?
	d=$(since "$t")
	if [ $rc = 0 ]; then r=PASS; else r=FAIL; FAILED+=("$name"); fi
	ROWS+=("$name|$r|$d")
	printf '<== %s: %s in %ss\n' "$name" "$r" "$d"
	if [ $r = FAIL ]; then
		printf '\n---- diagnostics after failed step %s\n' "$name"
		systemctl --failed --no-pager
		for u in etcd kube-apiserver kube-controller-manager kube-scheduler containerd kubelet kube-proxy; do
			[ "$(systemctl show -P LoadState "$u.service")" = not-found ] && continue
			echo "---- journalctl -u $u.service -n 50"
			journalctl -u "$u.service" -n 50 --no-pager -o short-monotonic
		done
		echo "---- end of diagnostics"
	fi
}
s_up() {
	k8s up1 up -c "$CFG" || return 1
	! grep -q FAILED "$OUT/up1.out"
}
s_all_done() {
	k8s-single phase list -o json >"$OUT/phases.json" || return 1
	echo "per-phase durations (phase list):"
	jq -r '.[] | "  \(.name)\t\(.status)\t\(.lastDuration)"' "$OUT/phases.json"
	jq -r '.[] | "\(.name)|\(.lastDuration)"' "$OUT/phases.json" >"$SHARE/phases.up1"
	jq -e 'all(.[]; .status == "done")' "$OUT/phases.json" >/dev/null || { echo "not every phase is done"; return 1; }
}
s_noop() {
	local t d
	t=$EPOCHREALTIME
	k8s noop up -c "$CFG" || return 1
	d=$(since "$t")
	echo "no-op up took ${d}s (limit ${NOOP_MAX}s)"
	grep -q ' 0 ran,' "$OUT/noop.out" || { echo "expected '0 ran': a phase re-ran on an unchanged install"; return 1; }
	awk -v d="$d" -v m="$NOOP_MAX" 'BEGIN { exit !(d < m) }' || { echo "no-op up took ${d}s, not < ${NOOP_MAX}s"; return 1; }
}
s_status() {
	local t=$EPOCHREALTIME
	until k8s-single status -o json 2>/dev/null | jq -e '.components | length > 0 and all(.[]; .healthy)' >/dev/null; do
		if awk -v a="$(since "$t")" 'BEGIN { exit !(a > 120) }'; then
			k8s-single status
			echo "not every component healthy within 120s"
			return 1
		fi
		sleep 2
	done
	echo "all components healthy after $(since "$t")s"
	k8s-single status
}
s_nodes() {
	kubectl get nodes -o wide && kubectl get pods -A -o wide &&
		kubectl wait --for=condition=Ready "node/$NODE_NAME" --timeout="${NODE_WAIT}s"
}
printf '[%s] k8s-smoke minimal scenario start (node %s %s)\n' "$(date +%T)" "$NODE_NAME" "$NODE_IP"
step up s_up
step all-phases-done s_all_done
step noop-up s_noop
step status s_status
step nodes s_nodes
printf '\n==== step durations\n'
printf '%-16s %-5s %8s\n' STEP RESULT SECONDS
for r in "${ROWS[@]}"; do IFS='|' read -r n res d <<<"$r"; printf '%-16s %-5s %8s\n' "$n" "$res" "$d"; done
printf '%-16s %-5s %8s\n' total "" "$(since "$T_START")"
printf '%s\n' "${ROWS[@]}" >"$SHARE/steps"
{
	if [ ${#FAILED[@]} = 0 ]; then echo "RESULT: PASS"; else echo "RESULT: FAIL"; fi
	echo "failed: ${FAILED[*]:-}"
	echo "skipped: kill-mid-phase resume etcd-health pods dashboard reset up-after-reset (SCENARIO=minimal)"
} >"$SHARE/result.tmp"
mv "$SHARE/result.tmp" "$SHARE/result"
printf '\n'
cat "$SHARE/result"
EOF
	chmod 0755 /usr/local/sbin/k8s-smoke-minimal
	RUN_CMD=/usr/local/sbin/k8s-smoke-minimal
else
	RUN_CMD=/usr/local/sbin/k8s-smoke-scenario
fi

# ---- run it as a unit (as in the container), streaming its log
say "scenario ($SCENARIO): systemd-run --unit=k8s-smoke --wait $RUN_CMD   (log: $SHARE/scenario.log)"
systemctl reset-failed k8s-smoke.service >/dev/null 2>&1 || true
T1=$EPOCHREALTIME
systemd-run --quiet --unit=k8s-smoke --collect --wait --service-type=oneshot \
	-p TimeoutStartSec=infinity -E HOME=/root "$RUN_CMD" &
RUNNER=$!
tail -n +1 -F -s 1 --pid="$RUNNER" "$SHARE/scenario.log" 2>/dev/null &
TAILER=$!
rc=0
wait "$RUNNER" || rc=$?
sleep 1
kill "$TAILER" 2>/dev/null || true
wait "$TAILER" 2>/dev/null || true
say "scenario unit ended (systemd-run rc $rc) after $(since "$T1")s; /proc/sys/net/netfilter/nf_conntrack_max: $(conntrack_state)"
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
