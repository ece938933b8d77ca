#!/bin/bash
# The smoke scenario. run.sh installs it as /usr/local/sbin/k8s-smoke-scenario
# and runs it as the oneshot unit k8s-smoke.service after multi-user.target,
# inside the systemd-nspawn container, under real systemd (PID 1).
#
# It drives k8s-single only: up from nothing, phase list, a no-op up, a
# SIGKILL in the middle of a phase and a resume, etcd health, kubectl, the
# dashboard (HTTPS, token, a browser login to Headlamp), the CIS benchmark
# (kube-bench) and the node's hardening, reset and up again.
# Every step prints its name, result and duration; a failed
# step dumps `systemctl status` and the last 50 journal lines of every
# component unit. The log goes to /mnt/share/scenario.log and the verdict to
# /mnt/share/result (host bind mount); the unit powers the container off
# when this script exits (ExecStopPost).
#
# The same script runs in the Vagrant tier's VM (test/vagrant/provision-smoke.sh
# prepares the machine as run.sh prepares the container). STEPS (in
# /etc/k8s-smoke.env) limits it to the named steps; the others are reported
# as skipped.
set -u -o pipefail
SHARE=/mnt/share
exec >>"$SHARE/scenario.log" 2>&1

# Written by smoke_env (lib.sh): NODE_NAME NODE_IP NODE_NET_UNIT KILL_PHASE KILL_AFTER NOOP_MAX
# STEP_TIMEOUT NODE_WAIT STATUS_WAIT STEPS K8S_SINGLE_SERIAL
. /etc/k8s-smoke.env
export K8S_SINGLE_SERIAL
export HOME=/root KUBECONFIG=/etc/kubernetes/admin.conf
export PATH=/opt/kubernetes/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
CFG=/etc/k8s-single/cluster.yaml
UNITS=(etcd kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy containerd)
OUT=/run/k8s-smoke
mkdir -p "$OUT"

T_START=$EPOCHREALTIME
since() { awk -v a="$EPOCHREALTIME" -v b="$1" 'BEGIN { printf "%.2f", a - b }'; }
log() { printf '[%s +%ss] %s\n' "$(date +%T)" "$(since "$T_START")" "$*"; }

# run prints a command, then runs it with the step timeout.
run() {
	echo "+ $*"
	timeout --kill-after=10 "$STEP_TIMEOUT" "$@"
}

# stamp prefixes each line with the seconds since it started reading.
stamp() {
	local t0=${EPOCHREALTIME/./} line d
	while IFS= read -r line; do
		d=$((${EPOCHREALTIME/./} - t0))
		printf '%4d.%01ds %s\n' $((d / 1000000)) $((d % 1000000 / 100000)) "$line"
	done
}

# k8s runs k8s-single, its lines stamped, its output also saved to $OUT/$1.out.
k8s() {
	local tag=$1
	shift
	echo "+ k8s-single $*"
	timeout --kill-after=10 "$STEP_TIMEOUT" k8s-single "$@" 2>&1 | stamp | tee "$OUT/$tag.out"
	return "${PIPESTATUS[0]}"
}

declare -a ROWS=() FAILED=() SKIPPED=()
declare -A RESULT=()

# Across reboots (the reboot and ip-change steps reboot the machine), the
# steps' results live in STATE on the machine's disk: the scenario, started
# again at boot, skips the steps done before and runs the rebooting step's
# NAME_after check of what came back.
STATE=/var/lib/k8s-smoke/state
save_state() {
	mkdir -p "${STATE%/*}"
	declare -p ROWS FAILED SKIPPED RESULT >"$STATE"
}
if [ -s "$STATE" ]; then
	. "$STATE"
	log "booted again (uptime $(cut -d' ' -f1 /proc/uptime)s): resuming after the steps done before the reboot"
fi

# step NAME FUNC: runs FUNC, records PASS (0), SKIP (77) or FAIL (else); a
# step not in STEPS (when set) is a SKIP without running.
step() {
	local name=$1 fn=$2 t rc res d
	case ${RESULT[$name]:-} in
	"" | PENDING) ;;
	*) return 0 ;; # done before a reboot
	esac
	printf '\n==> %s  [%s]\n' "$name" "$(date +%T)"
	t=$EPOCHREALTIME
	if [ -n "${STEPS:-}" ] && [[ " $STEPS " != *" $name "* ]]; then
		echo "SKIP: not in STEPS ($STEPS)"
		rc=77
	elif [ "${RESULT[$name]:-}" = PENDING ]; then
		"${fn}_after"
		rc=$?
	else
		"$fn"
		rc=$?
	fi
	d=$(since "$t")
	case $rc in
	0) res=PASS ;;
	77)
		res=SKIP
		SKIPPED+=("$name")
		;;
	*)
		res=FAIL
		FAILED+=("$name")
		;;
	esac
	RESULT[$name]=$res
	ROWS+=("$name|$res|$d")
	printf '<== %s: %s in %ss\n' "$name" "$res" "$d"
	[ "$res" = FAIL ] && diag "$name"
	return 0
}

# need STEP...: skip (77) unless every named step passed.
need() {
	local s
	for s in "$@"; do
		# the upgrade tier's cluster comes from up-old, not up
		[ "$s" = up ] && [ "${RESULT[up-old]:-}" = PASS ] && continue
		if [ "${RESULT[$s]:-}" != PASS ]; then
			echo "SKIP: needs step '$s', which did not pass"
			return 1
		fi
	done
}

# all_done: every phase in `phase list` is done.
all_done() {
	k8s-single phase list -o json >"$OUT/phases.json" || return 1
	if ! jq -e 'all(.[]; .status == "done")' "$OUT/phases.json" >/dev/null; then
		echo "not every phase is done:"
		jq -r '.[] | select(.status != "done") | "  \(.name): \(.status) \(.error // "")"' "$OUT/phases.json"
		return 1
	fi
}

diag() {
	printf '\n---- diagnostics after failed step %s\n' "$1"
	systemctl --failed --no-pager
	local u
	for u in "${UNITS[@]}"; do
		if [ "$(systemctl show -P LoadState "$u.service")" = not-found ]; then
			echo "---- $u.service: not installed"
			continue
		fi
		echo "---- systemctl status $u.service"
		systemctl status --no-pager -l -n 0 "$u.service"
		echo "---- journalctl -u $u.service -n 50"
		journalctl -u "$u.service" -n 50 --no-pager -o short-monotonic
	done
	echo "---- end of diagnostics"
}

# ---- steps ----

s_boot() {
	local us mu t0
	echo "kernel $(uname -r); $(systemctl --version | head -1); system state: $(systemctl is-system-running)"
	us=$(systemctl show -P UserspaceTimestampMonotonic)
	mu=$(systemctl show -P ActiveEnterTimestampMonotonic multi-user.target)
	t0=$(cat "$SHARE/t0" 2>/dev/null || echo "$T_START")
	BOOT_SYSTEMD=$(awk -v a="$mu" -v b="$us" 'BEGIN { printf "%.2f", (a - b) / 1e6 }')
	BOOT_HOST=$(awk -v a="$T_START" -v b="$t0" 'BEGIN { printf "%.2f", a - b }')
	echo "boot: systemd start -> multi-user.target ${BOOT_SYSTEMD}s; host start of the machine (or VM) -> scenario start ${BOOT_HOST}s"
	printf 'boot_systemd=%s\nboot_host=%s\n' "$BOOT_SYSTEMD" "$BOOT_HOST" >"$SHARE/boot"
	echo "cgroup mounts:"
	awk '$9 ~ /^cgroup/ { print "  " $5, $6 }' /proc/self/mountinfo
	echo "this unit's cgroups (under the machine's, never at the host's roots):"
	sed 's/^/  /' /proc/self/cgroup
	echo "sysctl shadows: $(ls /run/fake-sysctl 2>/dev/null | tr '\n' ' ')"
	ip -br addr
	k8s-single version
	ip -br addr show node0 | grep -qw "$NODE_IP" || { echo "node IP $NODE_IP is not on node0 ($NODE_NET_UNIT)"; systemctl status --no-pager "$NODE_NET_UNIT"; return 1; }
	grep -q '^1 *$' /proc/sys/vm/overcommit_memory || { echo "vm.overcommit_memory is not 1 (the machine's init script)"; return 1; }
}

# up: from nothing to every phase done, ending with the summary: versions,
# endpoints on the node's address, the kubeconfig, the time of each phase.
s_up() {
	local want
	k8s up1 up -c "$CFG" || return 1
	if grep -q FAILED "$OUT/up1.out"; then return 1; fi
	all_done || return 1
	tr -s ' ' <"$OUT/up1.out" >"$OUT/up1.squeezed"
	for want in "The cluster is up and verified." "API server https://$NODE_IP:6443" \
		"kubeconfig /etc/kubernetes/admin.conf" " verify ran " " total "; do
		grep -qF -- "$want" "$OUT/up1.squeezed" || { echo "the summary of up lacks '$want'"; return 1; }
	done
	grep -qE 'versions Kubernetes v[^ ]+, etcd v[^ ]+, containerd v?[0-9][^ ]*, runc [0-9]' "$OUT/up1.squeezed" ||
		{ echo "the summary of up lacks the versions of Kubernetes, etcd, containerd and runc"; return 1; }
	runtime_is_ours || return 1
	if ! grep -qx '  kind: none' "$CFG"; then
		grep -qF "dashboard https://$NODE_IP:30443/" "$OUT/up1.squeezed" || { echo "the summary of up lacks the dashboard URL"; return 1; }
	fi
	echo "per-phase durations (phase list):"
	jq -r '.[] | "  \(.name)\t\(.status)\t\(.lastDuration)"' "$OUT/phases.json"
	jq -r '.[] | "\(.name)|\(.lastDuration)"' "$OUT/phases.json" >"$SHARE/phases.up1"
}

s_phase_list() {
	need up || return 77
	run k8s-single phase list || return 1
	all_done
}

s_noop() {
	need up || return 77
	local t d
	t=$EPOCHREALTIME
	k8s noop up -c "$CFG" || return 1
	d=$(since "$t")
	echo "no-op up took ${d}s (limit ${NOOP_MAX}s)"
	grep -q ' 0 ran,' "$OUT/noop.out" || { echo "expected '0 ran': a phase re-ran on an unchanged install"; return 1; }
	awk -v d="$d" -v m="$NOOP_MAX" 'BEGIN { exit !(d < m) }' || { echo "no-op up took ${d}s, not < ${NOOP_MAX}s"; return 1; }
}

INTERRUPTED=
s_kill() {
	need up || return 77
	local pid pat last t rc
	pat="] $KILL_PHASE: "
	echo "+ k8s-single up --force -c $CFG &   (SIGKILL ${KILL_AFTER}s after it prints the '$KILL_PHASE' phase line)"
	k8s-single up --force -c "$CFG" >"$OUT/force.out" 2>&1 &
	pid=$!
	t=$EPOCHREALTIME
	until grep -qF -- "$pat" "$OUT/force.out"; do
		if ! kill -0 "$pid" 2>/dev/null; then
			wait "$pid"
			rc=$?
			sed 's/^/  | /' "$OUT/force.out"
			echo "up --force ended (rc $rc) before it reached phase $KILL_PHASE"
			return 1
		fi
		if awk -v a="$(since "$t")" -v m="$STEP_TIMEOUT" 'BEGIN { exit !(a > m) }'; then
			kill -KILL "$pid"
			echo "phase $KILL_PHASE not reached within ${STEP_TIMEOUT}s"
			return 1
		fi
		sleep 0.05
	done
	sleep "$KILL_AFTER"
	last=$(tail -n 1 "$OUT/force.out")
	kill -KILL "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	sed 's/^/  | /' "$OUT/force.out"
	echo "SIGKILLed k8s-single (pid $pid) after: $last"
	if grep -q '^up: ' "$OUT/force.out"; then
		echo "up --force had already finished: lower KILL_AFTER to hit the middle of a phase"
		return 1
	fi
	run k8s-single phase list
	k8s-single phase list -o json >"$OUT/phases-killed.json" || return 1
	INTERRUPTED=$(jq -r '[.[] | select(.status == "running") | .name] | join(" ")' "$OUT/phases-killed.json")
	if [ -z "$INTERRUPTED" ]; then
		echo "WARN: no phase is 'running' in the journal: the kill landed between two phases"
	else
		echo "interrupted in the middle of phase: $INTERRUPTED"
	fi
}

s_resume() {
	need kill-mid-phase || return 77
	local p
	k8s resume up -c "$CFG" || return 1
	grep -q FAILED "$OUT/resume.out" && return 1
	for p in $INTERRUPTED; do
		grep -qE "\] $p: done in " "$OUT/resume.out" || { echo "phase $p (interrupted) did not run to done on resume"; return 1; }
	done
	grep -q ' 0 ran,' "$OUT/resume.out" && [ -n "$INTERRUPTED" ] && { echo "resume ran nothing after an interrupted phase"; return 1; }
	all_done
}

s_etcd_health() {
	need up || return 77
	run k8s-single etcd health
}

# status: every component k8s-single reports is healthy (polled: right after
# a resume the apiserver's etcd check lags etcd's restart by a few seconds).
s_status() {
	need up || return 77
	local t=$EPOCHREALTIME
	until k8s-single status -o json 2>/dev/null | jq -e '.components | length > 0 and all(.[]; .healthy)' >/dev/null; do
		if awk -v a="$(since "$t")" -v m="$STATUS_WAIT" 'BEGIN { exit !(a > m) }'; then
			run k8s-single status
			echo "not every component healthy within ${STATUS_WAIT}s"
			return 1
		fi
		sleep 1
	done
	echo "all components healthy after $(since "$t")s"
	run k8s-single status
}

s_nodes() {
	need up || return 77
	run kubectl get nodes -o wide || return 1
	run kubectl wait --for=condition=Ready "node/$NODE_NAME" --timeout="${NODE_WAIT}s"
}

# pods: with addons, every pod is Running (or Completed), except in namespaces
# being deleted (verify's, deleted when it is done), polled up to 60s.
s_pods() {
	need up || return 77
	local bad t=$EPOCHREALTIME
	run kubectl get pods -A -o wide || return 1
	while :; do
		bad=$(kubectl get pods -A --no-headers 2>&1 | awk -v gone="$(kubectl get ns --no-headers 2>/dev/null | awk '$2 == "Terminating" { printf "%s ", $1 }')" '
			index(" " gone, " " $1 " ") == 0 && $4 != "Running" && $4 != "Completed"')
		[ -z "$bad" ] && break
		if awk -v a="$(since "$t")" 'BEGIN { exit !(a > 60) }'; then
			run kubectl get ns
			echo "pods not Running after 60s:"
			echo "$bad"
			return 1
		fi
		sleep 1
	done
	[ "$(kubectl get pods -A --no-headers 2>/dev/null | wc -l)" -gt 0 ] || { echo "no pods at all, yet the addons phase ran"; return 1; }
	echo "every pod Running (namespaces being deleted ignored)"
}

# runtime_is_ours: containerd runs from k8s-single's unit and binary, and
# answers with the configured version of containerd 2 (not Debian's 1.6,
# which the rootfs also holds).
runtime_is_ours() {
	local unit exe v want
	want=$(k8s-single config defaults | sed -n 's/^  containerdVersion: //p') # the smoke config keeps the default
	unit=$(systemctl show -P FragmentPath containerd.service)
	exe=$(readlink "/proc/$(systemctl show -P MainPID containerd.service)/exe")
	v=$(containerd_version)
	[ "$unit" = /etc/systemd/system/containerd.service ] && [ "$exe" = /opt/kubernetes/bin/containerd ] && [ "$v" = "$want" ] || {
		echo "containerd is not k8s-single's: unit $unit, binary $exe, version $v (want $want)"; return 1; }
	echo "containerd $v from k8s-single's unit and $exe; runc $(/opt/kubernetes/bin/runc --version | sed -n 's/^runc version //p'), CNI plugins in /opt/cni/bin"
}

# containerd_version is the running containerd's version, as it answers.
containerd_version() { k8s-single upgrade plan -c "$CFG" -o json | jq -r '.running.containerd // empty'; }

# image-volume: a pod mounts an image (the verify agent's, already in the
# node's store) as a read-only volume, which containerd 1.x cannot do; its
# files are there inside the running container.
s_image_volume() {
	need up || return 77
	local img pid id f
	img=$(agent_image)
	run kubectl create namespace imgvol
	kubectl apply -f - <<YAML || return 1
apiVersion: v1
kind: Pod
metadata: {name: reader, namespace: imgvol}
spec:
  containers:
  - name: serve
    image: $img
    imagePullPolicy: Never
    command: [/agent, serve, --addr=:8080]
    volumeMounts: [{name: content, mountPath: /content}]
  volumes:
  - name: content
    image: {reference: $img, pullPolicy: Never}
YAML
	run kubectl -n imgvol wait --for=condition=Ready pod/reader --timeout=120s || { run kubectl -n imgvol describe pod reader; return 1; }
	id=$(kubectl -n imgvol get pod reader -o jsonpath='{.status.containerStatuses[0].containerID}')
	id=${id#containerd://}
	pid=$(ctr -n k8s.io tasks ls | awk -v id="$id" '$1 == id { print $2 }')
	f=/proc/$pid/root/content/agent
	[ -n "$pid" ] && [ -f "$f" ] && cmp -s "$f" "/proc/$pid/root/agent" || {
		echo "the image volume's files are not in the container (container $id, pid ${pid:-none}): $(ls "/proc/$pid/root/content" 2>&1)"; return 1; }
	awk '$5 == "/content" { print $6 }' "/proc/$pid/mountinfo" | grep -q '^ro' || { echo "the image volume is not read-only"; return 1; }
	echo "a pod runs with the image $img mounted read-only at /content (its /agent is there, identical)"
	run kubectl delete namespace imgvol --wait=false
}

# metrics: the aggregated metrics API is Available and the apiserver verifies
# metrics-server against the cluster CA (caBundle, never insecureSkipTLSVerify);
# `kubectl top node` shows figures.
s_metrics() {
	need up || return 77
	local api=apiservice/v1beta1.metrics.k8s.io
	# A resume that re-ran the runtime phase restarted containerd, and with
	# it the kubelet (Requires=): up waited for the kubelet's health, and the
	# pods are Ready again at their next readiness probe (metrics-server's
	# after its next scrape of the kubelet, --metric-resolution=10s).
	wait_for 60 "$api Available" api_available "$api" || { run kubectl get "$api"; return 1; }
	run kubectl get "$api" || return 1
	[ -z "$(kubectl get "$api" -o jsonpath='{.spec.insecureSkipTLSVerify}')" ] ||
		{ echo "$api skips TLS verification"; return 1; }
	kubectl get "$api" -o jsonpath='{.spec.caBundle}' | base64 -d | cmp -s - /etc/kubernetes/pki/ca.crt ||
		{ echo "$api's caBundle is not the cluster CA"; return 1; }
	echo "$api Available, caBundle = /etc/kubernetes/pki/ca.crt, no insecureSkipTLSVerify"
	# Node metrics are back at metrics-server's next scrapes of the kubelet.
	wait_for 60 "node metrics (kubectl top node)" kubectl top node || return 1
	run kubectl top node || return 1
	kubectl top node --no-headers | grep -q "^$NODE_NAME " || { echo "kubectl top node has no line for $NODE_NAME"; return 1; }
}

# dashboard: the UI answers HTTPS on its node port with a certificate the
# cluster CA signed (and never plain HTTP), none of its probes failed, a
# dashboard-admin token is accepted by the apiserver, and a headless Chromium
# that trusts only the cluster CA logs in with the token at the URL
# `dashboard url` prints: the real Headlamp when the bundle has it (the API
# proxy, then the "ID token" login to the Overview and the Namespaces page),
# else the test-only stand-in (its page lists the namespaces). Screenshots go
# to /mnt/share/dashboard*.png.
s_dashboard() {
	need up || return 77
	local url token code image ca=/etc/kubernetes/pki/ca.crt kc=$OUT/dashboard-token.kubeconfig
	if k8s-single dashboard url 2>&1 | grep -q 'dashboard.kind is none'; then
		echo "SKIP dashboard: dashboard.kind is none in $CFG"
		return 77
	fi
	run k8s-single dashboard url || return 1
	url=$(k8s-single dashboard url | head -n 1)
	case $url in "https://$NODE_IP:"*/) ;; *) echo "dashboard url printed '$url', want https://$NODE_IP:<port>/"; return 1 ;; esac

	echo "+ curl --cacert $ca $url"
	code=$(curl -sS --cacert "$ca" -o /dev/null -w '%{http_code}' "$url") || return 1
	[ "$code" = 200 ] || { echo "GET $url over TLS verified against the cluster CA: HTTP $code, want 200"; return 1; }
	echo "HTTP 200 over TLS verified against $ca"
	code=$(curl -s -o /dev/null -w '%{http_code}' "http://${url#https://}")
	[ "$code" = 200 ] && { echo "the node port answered plain HTTP 200"; return 1; }
	echo "plain HTTP on the node port: no 200 ($code)"
	dashboard_probe_events || return 1

	echo "+ k8s-single dashboard token --duration 1h"
	token=$(k8s-single dashboard token --duration 1h) || return 1
	# A kubeconfig with the token only: with admin.conf's client certificate
	# present the apiserver would authenticate the certificate, not the token.
	kubectl config --kubeconfig="$kc" set-cluster smoke --server="https://$NODE_IP:6443" --certificate-authority="$ca" --embed-certs >/dev/null &&
		kubectl config --kubeconfig="$kc" set-credentials dashboard-admin --token="$token" >/dev/null &&
		kubectl config --kubeconfig="$kc" set-context smoke --cluster=smoke --user=dashboard-admin >/dev/null &&
		kubectl config --kubeconfig="$kc" use-context smoke >/dev/null || return 1
	run kubectl --kubeconfig="$kc" auth whoami || return 1
	kubectl --kubeconfig="$kc" auth whoami -o jsonpath='{.status.userInfo.username}' | grep -qx 'system:serviceaccount:headlamp:dashboard-admin' ||
		{ echo "the token does not authenticate as headlamp's dashboard-admin"; return 1; }
	[ "$(kubectl --kubeconfig="$kc" auth can-i list pods -A)" = yes ] || { echo "the token cannot list pods in all namespaces"; return 1; }
	echo "kubectl --token auth can-i list pods -A: yes"

	if ! command -v chromium >/dev/null || ! command -v certutil >/dev/null; then
		echo "SKIP the browser check: no chromium/certutil in this rootfs (run.sh installs chromium libnss3-tools)"
		return 77
	fi
	# Chromium trusts the cluster CA through its NSS database, not --ignore-certificate-errors.
	local nss=/root/.pki/nssdb
	mkdir -p "$nss"
	[ -e "$nss/cert9.db" ] || certutil -d "sql:$nss" -N --empty-password || return 1
	certutil -d "sql:$nss" -A -t C,, -n k8s-single-cluster-ca -i "$ca" || return 1

	image=$(kubectl -n headlamp get deploy headlamp -o jsonpath='{.spec.template.spec.containers[0].image}')
	echo "the UI's image: $image"
	case $image in
	*dashboard-standin*) dashboard_standin "$url" "$token" ;;
	*) dashboard_headlamp "$url" "$token" ;;
	esac
}

# images: runtime.images auto (the default) on a node without a registry.
# The first up imported the bundle and built nothing. Without the bundle,
# the images missing from containerd (CoreDNS's, the verify agent's) are
# built from source in the node (with the host's Go toolchain and caches,
# which run.sh binds) and imported, and they run. With a bundle that lacks
# the dashboard's image, which k8s-single cannot build, only the dashboard
# phase fails, naming the fix; verify still passes and the summary says what
# is missing. With the bundle back, the dashboard phase imports the image.
s_images() {
	need up || return 77
	local coredns agent ui f want cfg_build=$OUT/cluster-build.yaml cfg_noui=$OUT/cluster-noui.yaml bundle=/var/lib/k8s-smoke/bundle-noui
	if grep -q 'building it from source' "$OUT/up1.out"; then echo "the first up built images although the bundle holds them all"; return 1; fi
	echo "the first up built no image: the bundle holds them all"
	grep -q '^  imageBundle: ' "$CFG" || { echo "SKIP: $CFG sets no runtime.imageBundle"; return 77; }
	[ -x /opt/k8s-single/go/bin/go ] || { echo "SKIP: no Go toolchain in this node (run.sh binds the host's in the nspawn tier)"; return 77; }

	coredns=$(ctr -n k8s.io images ls -q | grep -m1 '^registry.k8s.io/coredns/coredns:') || { echo "no CoreDNS image in containerd"; return 1; }
	agent=$(agent_image) || { echo "no verify agent image in containerd"; return 1; }
	sed 's|^  imageBundle: .*|  imageBundle: ""|' "$CFG" >"$cfg_build"
	run ctr -n k8s.io images rm "$coredns" "$agent" || return 1
	PATH=/opt/k8s-single/go/bin:$PATH k8s images-build up -c "$cfg_build" || return 1
	for want in "$coredns: not pulled (registry registry.k8s.io does not answer" \
		"$agent: k8s-single's own image, which no registry serves: building it from source" \
		"importing 2 images built in /var/cache/k8s-single/images" "The cluster is up and verified."; do
		grep -qF -- "$want" "$OUT/images-build.out" || { echo "up without the bundle did not say '$want'"; return 1; }
	done
	for want in "$coredns" "$agent"; do
		ctr -n k8s.io images ls -q | grep -qxF "$want" || { echo "$want is not in containerd after up built it"; return 1; }
	done
	ls -l /var/cache/k8s-single/images/coredns.tar /var/cache/k8s-single/images/agent.tar || return 1
	# The built images run: CoreDNS's pods anew, and verify's agent pods.
	run kubectl -n kube-system rollout restart deploy/coredns || return 1
	run kubectl -n kube-system rollout status deploy/coredns --timeout=180s || return 1
	k8s images-verify phase run verify || return 1

	if ! kubectl -n headlamp get deploy headlamp >/dev/null 2>&1; then
		echo "no Headlamp Deployment (dashboard.kind none): the missing-dashboard-image check does not apply"
		k8s images-back up -c "$CFG" || return 1
		return 0
	fi
	ui=$(kubectl -n headlamp get deploy headlamp -o jsonpath='{.spec.template.spec.containers[0].image}') || return 1
	rm -rf "$bundle" && mkdir -p "$bundle" || return 1
	for f in /opt/k8s-single/images/*.tar; do
		case ${f##*/} in headlamp.tar | dashboard-standin.tar) ;; *) ln -s "$f" "$bundle/" ;; esac
	done
	sed "s|^  imageBundle: .*|  imageBundle: $bundle|" "$CFG" >"$cfg_noui"
	run ctr -n k8s.io images rm "$ui" || return 1
	if k8s images-noui up -c "$cfg_noui" --from dashboard; then
		echo "up succeeded although the dashboard's image $ui can be neither imported, pulled nor built"
		return 1
	fi
	tr -s ' ' <"$OUT/images-noui.out" >"$OUT/images-noui.squeezed"
	for want in "The cluster is up and verified, without what phase dashboard brings" "dashboard not up: its phase failed" \
		"image $ui:" "dashboard.kind: none" " verify ran " " timers ran " "it resumes at phase dashboard"; do
		grep -qF -- "$want" "$OUT/images-noui.squeezed" || { echo "up without the dashboard's image did not say '$want'"; return 1; }
	done
	[ "$(k8s-single phase list -o json | jq -r '.[] | select(.name == "dashboard") | .status')" = failed ] ||
		{ echo "the dashboard phase is not failed in phase list"; return 1; }

	# The bundle holds the image again: the dashboard phase imports it from
	# there (as after the kubelet's image GC removed it), then a whole up.
	k8s images-back up -c "$CFG" --from dashboard || return 1
	grep -qF "importing $ui from /opt/k8s-single/images/" "$OUT/images-back.out" || { echo "the dashboard phase did not import $ui from the bundle"; return 1; }
	k8s images-whole up -c "$CFG" || return 1
	grep -q FAILED "$OUT/images-whole.out" && return 1
	all_done
}

# dashboard_probe_events fails when the UI's readiness or liveness probe
# failed (its startup probe holds them back until the UI listens) and prints
# every Unhealthy event of its namespace.
dashboard_probe_events() {
	local events
	events=$(kubectl get events -n headlamp --field-selector reason=Unhealthy -o jsonpath='{range .items[*]}{.count}x {.message}{"\n"}{end}')
	if [ -z "$events" ]; then
		echo "no Unhealthy event in namespace headlamp (no probe failed)"
		return 0
	fi
	echo "Unhealthy events in namespace headlamp:"
	sed 's/^/  /' <<<"$events"
	if grep -Eq '(Readiness|Liveness) probe failed' <<<"$events"; then
		echo "the UI's readiness or liveness probe failed"
		return 1
	fi
}

# dashboard_headlamp URL TOKEN: the real Headlamp. Its API proxy passes the
# token to the apiserver (200 listing kube-system; a bad token 401), and a
# browser logs in as a user does: the token pasted into the "ID token" field,
# Authenticate, the cluster Overview, the Namespaces page listing kube-system
# (test/smoke/dashboard-login, chromedp; a screenshot of each page).
dashboard_headlamp() {
	local url=$1 token=$2 api=${1}clusters/main/api/v1/namespaces code ca=/etc/kubernetes/pki/ca.crt
	echo "+ curl --cacert $ca -H 'Authorization: Bearer ...' $api"
	code=$(curl -sS --cacert "$ca" -H "Authorization: Bearer $token" -o "$OUT/headlamp-namespaces.json" -w '%{http_code}' "$api") || return 1
	[ "$code" = 200 ] || { echo "Headlamp's API proxy with the token: HTTP $code, want 200"; head -c 300 "$OUT/headlamp-namespaces.json"; return 1; }
	jq -e 'any(.items[]; .metadata.name == "kube-system")' "$OUT/headlamp-namespaces.json" >/dev/null ||
		{ echo "Headlamp's API proxy answered 200 without kube-system"; return 1; }
	code=$(curl -s --cacert "$ca" -H "Authorization: Bearer not-a-token" -o /dev/null -w '%{http_code}' "$api")
	[ "$code" = 401 ] || { echo "Headlamp's API proxy with a bad token: HTTP $code, want 401"; return 1; }
	echo "Headlamp's API proxy: 200 listing kube-system with the token, 401 with a bad one"

	if [ "${DASHBOARD_BROWSER:-1}" = 0 ]; then
		# (the Vagrant tier: Chromium under software emulation did not show
		# Headlamp's login within 3 minutes; the nspawn tier logs in)
		echo "no browser login here (DASHBOARD_BROWSER=0 in /etc/k8s-smoke.env): Headlamp's server side checked above"
		return 0
	fi
	command -v dashboard-login >/dev/null || { echo "no dashboard-login in this machine (lib.sh builds it with the real Headlamp)"; return 1; }
	(umask 077 && printf '%s\n' "$token" >"$OUT/dashboard.token") || return 1
	run dashboard-login -url "$url" -token-file "$OUT/dashboard.token" -out "$SHARE" -user-data-dir "$OUT/chromium" -timeout 180s && return 0
	echo "---- Headlamp's log (the browser login failed)"
	kubectl -n headlamp logs deploy/headlamp --tail=40
	return 1
}

# dashboard_standin URL TOKEN: the test-only stand-in, which calls the
# apiserver with the token it is given, like the real UIs: its page lists the
# namespaces with the token and shows the apiserver's 401 with a bad one, in
# curl and in headless Chromium (a screenshot).
dashboard_standin() {
	local url=$1 token=$2 ca=/etc/kubernetes/pki/ca.crt
	local chrome=(chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run
		--disable-background-networking --disable-component-update --disable-sync
		--user-data-dir="$OUT/chromium")
	curl -fsS --cacert "$ca" -H "Authorization: Bearer $token" "$url" | grep -q '<li>kube-system</li>' ||
		{ echo "the page does not list kube-system with the token"; return 1; }
	curl -fsS --cacert "$ca" "${url}?token=not-a-token" | grep -q '401 Unauthorized' ||
		{ echo "the page does not show the apiserver's 401 for a bad token"; return 1; }
	echo "the page lists the namespaces with the token and shows 401 without a valid one"
	echo "+ ${chrome[*]} --dump-dom ${url}?token=..."
	"${chrome[@]}" --dump-dom "${url}?token=$token" >"$OUT/dashboard.html" 2>"$OUT/chromium-dom.log"
	grep -q '<li>kube-system</li>' "$OUT/dashboard.html" ||
		{ echo "Chromium did not render the logged-in page:"; grep -v dbus "$OUT/chromium-dom.log" | tail -n 5; return 1; }
	echo "+ ${chrome[*]} --screenshot=$SHARE/dashboard.png --window-size=1280,800 ${url}?token=..."
	"${chrome[@]}" --screenshot="$SHARE/dashboard.png" --window-size=1280,800 "${url}?token=$token" 2>"$OUT/chromium.log"
	grep -q 'Page load failed' "$OUT/chromium.log" && { grep 'Page load failed' "$OUT/chromium.log"; return 1; }
	[ -s "$SHARE/dashboard.png" ] || { echo "no screenshot"; return 1; }
	echo "screenshot: $SHARE/dashboard.png ($(stat -c %s "$SHARE/dashboard.png") bytes)"
}

# cis: kube-bench (KUBE_BENCH, bind-mounted by run.sh) runs the CIS Kubernetes
# Benchmark profile KUBE_BENCH_BENCHMARK (cis-1.12) on the live node, targets
# KUBE_BENCH_TARGETS, with our config dir KUBE_BENCH_CFG (our component paths
# merged over upstream's config, our fixes to three audits: see
# test/smoke/kube-bench/). Its JSON and text reports go to /mnt/share (run.sh
# keeps them under ARTIFACTS). Prints PASS/FAIL/WARN/INFO per target and each
# WARN; any FAIL (kube-bench reports FAIL only for scored checks; an unscored
# one that fails is a WARN) fails the step, listing its id, text, audit output
# and expected result. SKIP where the tier brings no kube-bench (Vagrant).
s_cis() {
	need up || return 77
	local json=$SHARE/kube-bench.json txt=$SHARE/kube-bench.txt nfail kb
	if [ -z "${KUBE_BENCH:-}" ]; then
		echo "SKIP: this tier brings no kube-bench (KUBE_BENCH is empty in /etc/k8s-smoke.env; the nspawn tier's run.sh sets it)"
		return 77
	fi
	[ -x "$KUBE_BENCH" ] || { echo "KUBE_BENCH=$KUBE_BENCH is not executable"; return 1; }
	[ -s "$KUBE_BENCH_CFG/$KUBE_BENCH_BENCHMARK/config.yaml" ] || { echo "no $KUBE_BENCH_CFG/$KUBE_BENCH_BENCHMARK/config.yaml"; return 1; }
	kb=("$KUBE_BENCH" --config-dir "$KUBE_BENCH_CFG" --config "$KUBE_BENCH_CFG/config.yaml"
		run --benchmark "$KUBE_BENCH_BENCHMARK" --targets "$KUBE_BENCH_TARGETS")
	echo "+ ${kb[*]} --json --outputfile $json"
	timeout --kill-after=10 "$STEP_TIMEOUT" "${kb[@]}" --json --outputfile "$json" 2>"$OUT/kube-bench-json.err" ||
		{ echo "kube-bench --json failed:"; tail -n 20 "$OUT/kube-bench-json.err"; return 1; }
	jq -e '.Controls | length > 0' "$json" >/dev/null 2>&1 ||
		{ echo "kube-bench wrote no report to $json:"; tail -n 20 "$OUT/kube-bench-json.err"; return 1; }
	# The text report, for people (the verdict is the JSON's).
	echo "+ ${kb[*]} >$txt"
	timeout --kill-after=10 "$STEP_TIMEOUT" "${kb[@]}" >"$txt" 2>&1 || echo "(the text run of kube-bench failed; see $txt)"

	echo "kube-bench $("$KUBE_BENCH" version 2>/dev/null | head -n 1), $KUBE_BENCH_BENCHMARK; per target:"
	jq -r '(["TARGET", "PASS", "FAIL", "WARN", "INFO"] | @tsv),
		(.Controls[] | [.node_type, .total_pass, .total_fail, .total_warn, .total_info] | @tsv),
		(["total", .Totals.total_pass, .Totals.total_fail, .Totals.total_warn, .Totals.total_info] | @tsv)' "$json" |
		awk -F'\t' '{ printf "  %-13s %5s %5s %5s %5s\n", $1, $2, $3, $4, $5 }'
	echo "WARN (unscored, manual, or a scored check kube-bench could not decide):"
	jq -r '.Controls[].tests[].results[] | select(.status == "WARN") |
		"  \(.test_number) \(.test_desc)\(if .scored then " [scored]" else "" end)"' "$json"
	nfail=$(jq '[.Controls[].tests[].results[] | select(.status == "FAIL")] | length' "$json")
	if [ "$nfail" -gt 0 ]; then
		echo "$nfail scored check(s) FAIL:"
		jq -r '.Controls[].tests[].results[] | select(.status == "FAIL") |
			"  FAIL \(.test_number) \(.test_desc) (scored: \(.scored))",
			"       audit: \(.audit | gsub("\n"; "\n              ") | rtrimstr("\n              "))",
			"       audit output: \(.actual_value // "" | if . == "" then "(none)" else gsub("\n"; " | ") end)",
			"       expected: \(.expected_result // "")\(if (.reason // "") != "" then "; reason: \(.reason)" else "" end)"' "$json"
		return 1
	fi
	echo "no FAIL: every scored check passed"
}

# hardening: what a reviewer checks on the live node, beyond kube-bench:
# etcd runs as its own user etcd with its data dir etcd:etcd 0700; every CNI
# config file is 0600; etcd and the control plane units are sandboxed
# (NoNewPrivileges=yes, ProtectSystem and ProtectHome set, PrivateTmp=yes, as
# `systemctl show` reports them); the kubelet's streamingConnectionIdleTimeout
# is set and not zero (kube-bench's 4.2.5 is a manual check: a WARN only).
s_hardening() {
	need up || return 77
	local bad=0 pid user f n=0 u v p want
	ok() { echo "  ok    $*"; }
	no() {
		echo "  FAIL  $*"
		bad=1
	}
	pid=$(systemctl show -P MainPID etcd.service)
	user=$(ps -o user= -p "$pid" 2>/dev/null | tr -d ' ')
	if [ "$pid" != 0 ] && [ "$user" = etcd ]; then ok "etcd (pid $pid) runs as user etcd"; else no "etcd (pid $pid) runs as user '${user:-?}', want etcd (unit User=$(systemctl show -P User etcd.service))"; fi
	v=$(stat -c '%U:%G %a' /var/lib/etcd 2>&1)
	if [ "$v" = "etcd:etcd 700" ]; then ok "/var/lib/etcd is etcd:etcd 0700"; else no "/var/lib/etcd is '$v', want 'etcd:etcd 700'"; fi
	for f in /etc/cni/net.d/*; do
		[ -f "$f" ] || continue
		n=$((n + 1))
		v=$(stat -c '%a %U:%G' "$f")
		if [ "$v" = "600 root:root" ]; then ok "$f is 0600 root:root"; else no "$f is '$v', want '600 root:root'"; fi
	done
	[ "$n" -gt 0 ] || no "no CNI config file in /etc/cni/net.d"
	for u in etcd kube-apiserver kube-controller-manager kube-scheduler; do
		for p in NoNewPrivileges=yes ProtectSystem ProtectHome PrivateTmp=yes; do
			v=$(systemctl show -P "${p%%=*}" "$u.service")
			case $p in
			*=*) want=${p#*=} ;;
			*) want='set (not no)' ;;
			esac
			if { [[ $p == *=* ]] && [ "$v" = "$want" ]; } || { [[ $p != *=* ]] && [ -n "$v" ] && [ "$v" != no ]; }; then
				ok "$u.service ${p%%=*}=$v"
			else
				no "$u.service ${p%%=*}=$v, want $want"
			fi
		done
	done
	v=$(awk '$1 == "streamingConnectionIdleTimeout:" { print $2 }' /var/lib/kubelet/config.yaml)
	if [[ $v == *[1-9]* ]]; then ok "kubelet streamingConnectionIdleTimeout: $v"; else no "kubelet streamingConnectionIdleTimeout is '${v:-unset}' in /var/lib/kubelet/config.yaml, want an explicit non-zero duration"; fi
	return $bad
}

# reset: k8s-single's units stopped, their files gone and systemd reloaded,
# and nothing of the node left: containerd stopped (Debian's unit, disabled in
# this rootfs, is enabled and started by the runtime phase), no containers, no
# KUBE-* chains, no cni0, no mounts under /var/lib/kubelet. (These were WARN
# until the runtime and node phases got their Undo and reset its daemon-reload.)
s_reset() {
	need up || return 77
	local u bad=0 f n
	k8s reset reset || return 1
	for u in "${UNITS[@]}"; do
		if [ "$u" = containerd ]; then # Debian's unit: stopped and disabled again
			if [ "$(systemctl is-active containerd.service)" = active ]; then
				echo "containerd.service still active and $(systemctl is-enabled containerd.service) after reset (the runtime phase enabled and started it; /etc/containerd/config.toml is $([ -e /etc/containerd/config.toml ] && echo present || echo gone))"
				bad=1
			fi
			continue
		fi
		[ "$(systemctl is-active "$u.service")" = active ] && { echo "$u.service still active after reset"; bad=1; }
		f=/etc/systemd/system/$u.service
		[ -e "$f" ] && { echo "$f still exists after reset"; bad=1; }
		if [ ! -e "$f" ] && [ "$(systemctl show -P LoadState "$u.service")" = loaded ]; then
			echo "$f is gone but systemd still has $u.service loaded ($(systemctl show -P ActiveState "$u.service"), $(systemctl show -P UnitFileState "$u.service")): no daemon-reload after reset"
			bad=1
		fi
	done
	if command -v ctr >/dev/null && [ -S /run/containerd/containerd.sock ]; then
		n=$(ctr -n k8s.io tasks ls -q 2>/dev/null | wc -l)
		[ "$n" -gt 0 ] && { echo "$n containers still running in containerd (k8s.io) after reset"; bad=1; }
	fi
	n=$(iptables-save 2>/dev/null | grep -c '^:KUBE-')
	[ "$n" -gt 0 ] && { echo "$n KUBE-* iptables chains left after reset"; bad=1; }
	ip link show cni0 >/dev/null 2>&1 && { echo "bridge cni0 left after reset"; bad=1; }
	n=$(findmnt -rn -o TARGET | grep -c '^/var/lib/kubelet/')
	[ "$n" -gt 0 ] && { echo "$n mounts left under /var/lib/kubelet after reset"; bad=1; }
	# kept: etcd's data and the key that decrypts its Secrets (a new key would
	# leave the re-installed apiserver unable to read them)
	[ -s /etc/kubernetes/encryption-config.yaml ] || { echo "reset removed /etc/kubernetes/encryption-config.yaml but kept etcd's data"; bad=1; }
	[ "$bad" = 0 ] && echo "nothing left: units stopped and unloaded, containerd stopped, no containers, KUBE-* chains, cni0 or kubelet mounts; the encryption key kept with etcd's data"
	run k8s-single phase list
	return $bad
}

s_up_again() {
	need reset || return 77
	k8s up2 up -c "$CFG" || return 1
	grep -q FAILED "$OUT/up2.out" && return 1
	all_done || return 1
	run k8s-single etcd health || return 1
	run kubectl wait --for=condition=Ready "node/$NODE_NAME" --timeout="${NODE_WAIT}s"
}

# day2_objects writes the objects the day-2 steps must keep: a ConfigMap, a
# Secret and a Deployment with 2 replicas in namespace day2 (idempotent).
day2_objects() {
	kubectl get ns day2 >/dev/null 2>&1 && return 0
	run kubectl create ns day2 &&
		run kubectl -n day2 create configmap kept --from-literal=color=blue &&
		run kubectl -n day2 create secret generic kept --from-literal=password=hunter2 &&
		run kubectl -n day2 create deployment web --image="$(agent_image)" --replicas=2 -- /agent serve --addr=:8080 &&
		run kubectl -n day2 rollout status deploy/web --timeout=120s
}

# agent_image is the verify agent's image, present on the node.
agent_image() { ctr -n k8s.io images ls -q | grep -m1 '^k8s-single.local/agent:'; }

# kube_read runs a kubectl read, again for up to a minute while the apiserver
# does not answer (right after a boot under TCG, an apiserver that reported
# healthy can still miss kubectl's 10s TLS handshake): an object is judged
# lost only on an answer, never on a connection that failed.
kube_read() {
	local i
	for i in $(seq 12); do
		kubectl "$@" 2>"$OUT/kube-read.err" && return 0
		grep -qE 'Unable to connect to the server|TLS handshake timeout|connection refused|i/o timeout' "$OUT/kube-read.err" || break
		sleep 5
	done
	cat "$OUT/kube-read.err" >&2
	return 1
}

# day2_intact checks the objects day2_objects wrote.
day2_intact() {
	local color password
	color=$(kube_read -n day2 get configmap kept -o jsonpath='{.data.color}') || { echo "ConfigMap day2/kept unreadable"; return 1; }
	[ "$color" = blue ] || { echo "ConfigMap day2/kept lost (color=$color)"; return 1; }
	password=$(kube_read -n day2 get secret kept -o jsonpath='{.data.password}') || { echo "Secret day2/kept unreadable"; return 1; }
	[ "$(base64 -d <<<"$password")" = hunter2 ] || { echo "Secret day2/kept lost or does not decrypt"; return 1; }
	kube_read -n day2 rollout status deploy/web --timeout=120s || { echo "Deployment day2/web not available"; return 1; }
	echo "day2 objects intact: ConfigMap, Secret (decrypts), Deployment 2/2"
}

# kill-daemons: SIGKILL each daemon in turn (containerd included); systemd
# restarts it and every component is healthy again; the objects are intact.
s_kill_daemons() {
	need up || return 77
	day2_objects || return 1
	local u t
	for u in etcd kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy containerd; do
		t=$EPOCHREALTIME
		run systemctl kill -s SIGKILL "$u.service" || return 1
		sleep 1
		s_status >"$OUT/kill-$u.status" 2>&1 || { cat "$OUT/kill-$u.status"; echo "not healthy again after SIGKILL of $u"; return 1; }
		echo "SIGKILL $u: healthy again after $(since "$t")s"
	done
	day2_intact
}

# doctor: all well on a healthy node; a stopped scheduler and a wrong
# apiserver certificate (another leaf of the CA put in its place, without the
# node's address) are each named with the fix; `k8s-single up` repairs both
# (the certificate is drift: re-signed, the apiserver restarted) and doctor
# is content again.
s_doctor() {
	need up || return 77
	local pki=/etc/kubernetes/pki t
	k8s doctor-ok doctor || { echo "doctor found problems on a healthy node"; return 1; }
	run systemctl stop kube-scheduler.service || return 1
	cp $pki/apiserver.crt $OUT/apiserver.crt.good
	cp $pki/front-proxy-client.crt $pki/apiserver.crt
	cp $pki/front-proxy-client.key $pki/apiserver.key
	k8s doctor-bad doctor && { echo "doctor found nothing wrong"; return 1; }
	grep -q 'PROBLEM kube-scheduler' "$OUT/doctor-bad.out" || { echo "doctor did not name the stopped scheduler"; return 1; }
	grep -q 'fix: start it: systemctl start kube-scheduler.service' "$OUT/doctor-bad.out" || { echo "doctor gave no fix for the scheduler"; return 1; }
	grep -q 'PROBLEM certificate apiserver' "$OUT/doctor-bad.out" || { echo "doctor did not name the wrong apiserver certificate"; return 1; }
	t=$EPOCHREALTIME
	k8s doctor-up up || return 1
	echo "up repaired both in $(since "$t")s"
	cmp -s $pki/apiserver.crt $pki/front-proxy-client.crt && { echo "the wrong apiserver certificate is still there"; return 1; }
	s_status >/dev/null || { run k8s-single status; return 1; }
	k8s doctor-again doctor || { echo "doctor still finds problems after up"; return 1; }
}

# backup-timer: backup.schedule installed k8s-single-backup.timer; its
# service writes a verified archive and keeps backup.keep (3) of them.
s_backup_timer() {
	need up || return 77
	local dir=/var/lib/k8s-single/backups n
	systemctl list-timers --all --no-pager | grep k8s-single-backup.timer || { echo "k8s-single-backup.timer is not listed"; return 1; }
	[ "$(systemctl is-enabled k8s-single-backup.timer)" = enabled ] || { echo "k8s-single-backup.timer is not enabled"; return 1; }
	for n in 1 2 3 4; do
		run systemctl start k8s-single-backup.service || { journalctl -u k8s-single-backup.service --no-pager | tail -n 20; return 1; }
		sleep 1.1 # archive names carry the time to the millisecond; be sure they differ
	done
	journalctl -u k8s-single-backup.service --no-pager -o cat | tail -n 6
	n=$(find "$dir" -name 'k8s-single-backup-*.tar.gz' | wc -l)
	[ "$n" = 3 ] || { ls -l "$dir"; echo "$n archives in $dir after 4 scheduled runs with keep 3"; return 1; }
	echo "4 scheduled runs left the newest 3 archives in $dir"
}

# wait_for SECONDS WHAT CMD...: runs CMD every second until it succeeds;
# fails naming WHAT after SECONDS.
wait_for() {
	local max=$1 what=$2 t=$EPOCHREALTIME
	shift 2
	until "$@" >/dev/null 2>&1; do
		awk -v a="$(since "$t")" -v m="$max" 'BEGIN { exit !(a > m) }' && { echo "no $what within ${max}s"; return 1; }
		sleep 1
	done
	echo "$what after $(since "$t")s"
}

# api_available NAME: the APIService NAME's Available condition is True.
api_available() {
	[ "$(kubectl get "$1" -o jsonpath='{.status.conditions[?(@.type=="Available")].status}')" = True ]
}

# node_condition TYPE STATUS: the Node's condition TYPE has STATUS.
node_condition() {
	[ "$(kubectl get node "$NODE_NAME" -o jsonpath="{.status.conditions[?(@.type==\"$1\")].status}")" = "$2" ]
}

# disk-pressure: the kubelet's nodefs threshold is raised above the node's
# free space (the node is "full" without filling a disk): the kubelet reports
# DiskPressure and evicts a test pod, while the node's own components, which
# are systemd units and not pods, stay healthy; `up` repairs the edited
# kubelet config (drift), the pressure ends and the add-ons run again.
s_disk_pressure() {
	need up || return 77
	local cfg=/var/lib/kubelet/config.yaml
	run kubectl create ns pressure || return 1
	run kubectl -n pressure run victim --image="$(agent_image)" --restart=Never -- /agent serve --addr=:8080 || return 1
	run kubectl -n pressure wait --for=condition=Ready pod/victim --timeout=120s || return 1
	grep -q 'nodefs.available: 10%' "$cfg" || { echo "the kubelet config has no nodefs.available: 10%"; return 1; }
	sed -i 's/nodefs.available: 10%/nodefs.available: 99%/' "$cfg"
	run systemctl restart kubelet.service || return 1
	wait_for 180 "DiskPressure=True" node_condition DiskPressure True || return 1
	wait_for 180 "the test pod evicted" sh -c '[ "$(kubectl -n pressure get pod victim -o jsonpath={.status.reason})" = Evicted ]' || {
		run kubectl -n pressure get pod victim -o yaml
		return 1
	}
	run kubectl -n pressure get pod victim -o wide
	for u in etcd kube-apiserver kube-controller-manager kube-scheduler containerd; do
		[ "$(systemctl is-active "$u.service")" = active ] || { echo "$u stopped under disk pressure"; return 1; }
	done
	k8s-single status >/dev/null || { run k8s-single status; echo "a component is unhealthy under disk pressure"; return 1; }
	echo "under DiskPressure the control plane, etcd and containerd stay healthy"
	k8s disk-repair up || return 1
	grep -q 'nodefs.available: 10%' "$cfg" || { echo "up did not put the kubelet config back"; return 1; }
	wait_for 180 "DiskPressure=False" node_condition DiskPressure False || return 1
	run kubectl -n kube-system rollout status deploy/coredns --timeout=180s || return 1
	run kubectl -n kube-system rollout status deploy/metrics-server --timeout=180s || return 1
	run kubectl delete ns pressure --wait=false
}

# reboot_now NAME: records that step NAME reboots the machine and reboots it;
# the scenario ends here and, booted again, runs NAME's _after check.
reboot_now() {
	RESULT[$1]=PENDING
	save_state
	touch /run/k8s-smoke-reboot "$SHARE/REBOOT"
	sync
	log "rebooting (step $1)"
	systemctl reboot --no-block
	sleep infinity
}

# boot_check waits for k8s-single-ip.service (k8s-single up at every boot) to
# finish, prints its log and fails unless it succeeded.
boot_check() {
	local i
	for i in $(seq 1 600); do
		[ "$(systemctl show -P ActiveState k8s-single-ip.service)" = activating ] || break
		sleep 0.5
	done
	journalctl -b -u k8s-single-ip.service --no-pager -o cat >"$OUT/boot-check.out"
	sed 's/^/  | /' "$OUT/boot-check.out" | tail -n 60
	[ "$(systemctl show -P Result k8s-single-ip.service)" = success ] ||
		{ echo "k8s-single-ip.service (up at boot) did not succeed"; return 1; }
}

# back_after_boot: every component healthy and the objects intact; prints
# how long after the boot.
back_after_boot() {
	s_status >"$OUT/after-boot.status" 2>&1 || { cat "$OUT/after-boot.status"; return 1; }
	echo "every component healthy at uptime $(cut -d' ' -f1 /proc/uptime)s (systemd reached multi-user.target $(systemctl show -P ActiveEnterTimestampMonotonic multi-user.target | awk '{ printf "%.1f", $1 / 1e6 }')s after the kernel)"
	day2_intact || return 1
	run kubectl get pods -A -o wide
}

# reboot: power the machine off and boot the same disk: everything comes
# back by itself (no command run but up at boot, a no-op), the objects are
# intact, the pods run again.
s_reboot() {
	need up || return 77
	day2_objects || return 1
	reboot_now reboot
}
s_reboot_after() {
	boot_check || return 1
	grep -q ' 0 ran,' "$OUT/boot-check.out" || { echo "up at boot ran phases although nothing changed"; return 1; }
	back_after_boot
}

# ip-change: the node moves to another address (its config does not pin
# node.address: the default route's address is used) and reboots: up at
# boot re-signs only the certificates that carry the address, the CA stays,
# and the Node, etcd's member and the kubernetes Service's endpoints follow.
NEW_IP_FILE=/var/lib/k8s-smoke/new-ip
s_ip_change() {
	need up || return 77
	day2_objects || return 1
	local new=${NODE_IP%.*}.$((${NODE_IP##*.} + 1)) f
	mkdir -p /var/lib/k8s-smoke/certs-before
	for f in /etc/kubernetes/pki/*.crt /etc/kubernetes/pki/etcd/*.crt; do
		sha256sum "$f" | cut -d' ' -f1 >"/var/lib/k8s-smoke/certs-before/$(echo "${f#/etc/kubernetes/pki/}" | tr / _)"
	done
	echo "$new" >"$NEW_IP_FILE"
	sed -i "s#$NODE_IP/24#$new/24#; s#$NODE_IP on node0#$new on node0#" "/etc/systemd/system/$NODE_NET_UNIT"
	sed -i "s#^$NODE_IP #$new #" /etc/hosts
	sed -i '/^  address: /d' /etc/k8s-single/config.yaml
	echo "node0 moves from $NODE_IP to $new; the kept config no longer pins node.address"
	reboot_now ip-change
}
s_ip_change_after() {
	local new f name changed=() pki=/etc/kubernetes/pki
	new=$(cat "$NEW_IP_FILE")
	ip -br addr show node0 | grep -qw "$new" || { echo "node0 does not have $new"; return 1; }
	boot_check || return 1
	back_after_boot || return 1
	for f in /var/lib/k8s-smoke/certs-before/*; do
		name=$(basename "$f" | tr _ /)
		[ "$(sha256sum "$pki/$name" | cut -d' ' -f1)" = "$(cat "$f")" ] || changed+=("$name")
	done
	echo "re-signed: ${changed[*]}"
	for name in ca.crt front-proxy-ca.crt etcd/ca.crt admin.crt controller-manager.crt scheduler.crt apiserver-etcd-client.crt; do
		[[ " ${changed[*]} " == *" $name "* ]] && { echo "$name changed, although it does not carry the address"; return 1; }
	done
	for name in apiserver.crt etcd/server.crt etcd/peer.crt kubelet.crt; do
		[[ " ${changed[*]} " == *" $name "* ]] || { echo "$name was not re-signed for $new"; return 1; }
	done
	[ -n "$(wire_fp "$new:6443" -CAfile $pki/ca.crt)" ] || { echo "the apiserver on $new does not verify against the CA"; return 1; }
	[ "$(kubectl get node "$NODE_NAME" -o jsonpath='{.status.addresses[?(@.type=="InternalIP")].address}')" = "$new" ] ||
		{ echo "the Node's InternalIP is not $new"; run kubectl get node -o wide; return 1; }
	run k8s-single etcd members
	k8s-single etcd members -w json | jq -e --arg u "https://$new:2380" 'any(.[]; .peerURLs == [$u])' >/dev/null ||
		{ echo "etcd's member does not advertise https://$new:2380"; return 1; }
	local t=$EPOCHREALTIME
	until [ "$(kubectl get endpointslices -n default -l kubernetes.io/service-name=kubernetes -o jsonpath='{.items[*].endpoints[*].addresses[*]}')" = "$new" ]; do
		awk -v a="$(since "$t")" 'BEGIN { exit !(a > 60) }' && { echo "the kubernetes Service's endpoints are not $new"; run kubectl get endpointslices -A; return 1; }
		sleep 1
	done
	echo "Node, etcd member, kubernetes endpoints and serving certificates are on $new; the CA is unchanged"
}

# wire_fp HOST:PORT [openssl s_client args]: the SHA-256 fingerprint of the
# certificate a server presents, verified against the cluster CA.
wire_fp() {
	local addr=$1
	shift
	echo | timeout 10 openssl s_client -connect "$addr" -verify_return_error "$@" 2>/dev/null |
		openssl x509 -noout -fingerprint -sha256 2>/dev/null
}

# wire_fps prints every serving certificate on the wire, one NAME=FP a line.
wire_fps() {
	local pki=/etc/kubernetes/pki
	echo "apiserver=$(wire_fp "$NODE_IP:6443" -CAfile $pki/ca.crt)"
	echo "etcd=$(wire_fp "$NODE_IP:2379" -CAfile $pki/etcd/ca.crt -cert $pki/etcd/healthcheck-client.crt -key $pki/etcd/healthcheck-client.key)"
	echo "kubelet=$(wire_fp "$NODE_IP:10250" -CAfile $pki/ca.crt)"
	echo "controller-manager=$(wire_fp 127.0.0.1:10257 -CAfile $pki/ca.crt)"
	echo "scheduler=$(wire_fp 127.0.0.1:10259 -CAfile $pki/ca.crt)"
}

# renew: the daily renewal timer is installed; every leaf is renewed with
# the cluster running (the timer renews within 30 days; here a 400-day
# window takes them all): the components come back healthy, every serving
# certificate on the wire is a new one that the same CA verifies, the CA is
# unchanged, CoreDNS's pod did not restart, and up took a backup before it
# restarted the running etcd. Before it, the apiserver
# reaches the kubelet (kubectl logs) with its kubelet-api-admin-only identity.
s_renew() {
	need up || return 77
	local before after ca t coredns
	systemctl list-timers --all --no-pager | grep k8s-single-certs.timer || { echo "k8s-single-certs.timer is not listed"; return 1; }
	[ "$(systemctl is-enabled k8s-single-certs.timer)" = enabled ] || { echo "k8s-single-certs.timer is not enabled"; return 1; }
	run kubectl -n kube-system logs deploy/coredns --tail=3 || { echo "kubectl logs failed: the apiserver cannot use the kubelet API"; return 1; }
	[ "$(kubectl auth can-i get secrets -A --as kube-apiserver-kubelet-client)" = no ] ||
		{ echo "the apiserver's kubelet client may read Secrets"; return 1; }
	ca=$(openssl x509 -noout -fingerprint -sha256 -in /etc/kubernetes/pki/ca.crt)
	coredns=$(kubectl -n kube-system get pods -l k8s-app=kube-dns -o jsonpath='{.items[0].metadata.uid}/{.items[0].status.containerStatuses[0].restartCount}')
	before=$(wire_fps)
	echo "$before"
	if grep -q '=$' <<<"$before"; then echo "a serving certificate did not verify against its CA before the renewal"; return 1; fi
	# Earlier steps' runs left backups up counts as fresh: it must make its own.
	rm -f /var/lib/k8s-single/backups/k8s-single-backup-*
	t=$EPOCHREALTIME
	k8s renew certs renew --expiring-within 400d || return 1
	echo "renewal, restarts and health checks took $(since "$t")s"
	grep -q 'backup before restarting etcd.service: /var/lib/k8s-single/backups/k8s-single-backup-' "$OUT/renew.out" ||
		{ echo "up restarted a running etcd without taking a backup first"; return 1; }
	s_status || return 1
	after=$(wire_fps)
	echo "$after"
	local line name
	while IFS= read -r line; do
		name=${line%%=*}
		[ -n "${line#*=}" ] || { echo "$name's new certificate does not verify against its CA"; return 1; }
		grep -qxF "$line" <<<"$before" && { echo "$name still serves its old certificate"; return 1; }
	done <<<"$after"
	[ "$(openssl x509 -noout -fingerprint -sha256 -in /etc/kubernetes/pki/ca.crt)" = "$ca" ] || { echo "the CA changed"; return 1; }
	[ "$(kubectl -n kube-system get pods -l k8s-app=kube-dns -o jsonpath='{.items[0].metadata.uid}/{.items[0].status.containerStatuses[0].restartCount}')" = "$coredns" ] ||
		{ echo "CoreDNS's pod was restarted by the renewal"; return 1; }
	run k8s-single certs check-expiration
	if [ "${RESULT[kill-daemons]:-}" = PASS ]; then day2_intact; fi
}

# backup-restore: a backup holds a ConfigMap and a Secret made before it and
# not a ConfigMap made after it; after reset --purge, tampered copies of the
# archive (a byte changed inside a member, a member added) are refused with
# nothing written, and restore --up brings the cluster back: the Secret is
# readable (the encryption key came back with etcd's data), the later
# ConfigMap is gone.
s_backup_restore() {
	need up || return 77
	local dir=/root/backups archive x=$OUT/tampered t d data_dir secret=s3cr3t-$RANDOM name bad
	data_dir=$(awk '/^etcd:/ { e = 1; next } /^[^ ]/ { e = 0 } e && $1 == "dataDir:" { print $2 }' "$CFG")
	data_dir=${data_dir:-/var/lib/etcd}
	run kubectl create configmap before-backup --from-literal=k=before || return 1
	run kubectl create secret generic backup-secret --from-literal=password="$secret" || return 1
	k8s backup backup --dir "$dir" || return 1
	archive=$(ls -1 "$dir"/k8s-single-backup-*.tar.gz 2>/dev/null | tail -n 1)
	[ -n "$archive" ] || { echo "no archive in $dir"; return 1; }
	grep -qF "$archive" "$OUT/backup.out" || { echo "backup did not print the archive's path $archive"; return 1; }
	[ "$(stat -c %a "$archive")" = 600 ] || { echo "$archive has mode $(stat -c %a "$archive"), want 600"; return 1; }
	echo "+ tar -tvzf $archive"
	tar -tvzf "$archive" || return 1
	run kubectl create configmap marker --from-literal=k=after || return 1
	k8s backup-reset reset --purge || return 1

	# Tampered copies, rebuilt with the archive's own member list and order.
	rm -rf "$x" && mkdir -p "$x/tree" || return 1
	tar -C "$x/tree" -xzf "$archive" || return 1
	tar -tzf "$archive" >"$x/members" || return 1
	printf '!' | dd of="$x/tree/pki/ca.crt" bs=1 seek=40 conv=notrunc status=none || return 1
	tar -C "$x/tree" --no-recursion -czf "$x/changed.tar.gz" -T "$x/members" || return 1
	tar -C "$x/tree" -xzf "$archive" pki/ca.crt || return 1
	cp -p "$x/tree/pki/ca.crt" "$x/tree/pki/evil.crt" && echo pki/evil.crt >>"$x/members" || return 1
	tar -C "$x/tree" --no-recursion -czf "$x/added.tar.gz" -T "$x/members" || return 1
	for bad in changed:'"pki/ca.crt": sha256' added:'"pki/evil.crt" is not in the manifest'; do
		name=${bad%%:*}
		if k8s "restore-$name" restore "$x/$name.tar.gz"; then
			echo "restore accepted the archive with a member $name"
			return 1
		fi
		grep -qF -- "${bad#*:}" "$OUT/restore-$name.out" || { echo "restore of the $name archive did not say '${bad#*:}'"; return 1; }
		if [ -e /etc/kubernetes/pki ] || [ -n "$(ls -A "$data_dir" 2>/dev/null)" ]; then
			echo "restore of the $name archive wrote the PKI or etcd's data"
			return 1
		fi
		echo "the archive with a member $name was refused, nothing written"
	done

	t=$EPOCHREALTIME
	k8s restore restore --up "$archive" || return 1
	d=$(since "$t")
	grep -q FAILED "$OUT/restore.out" && return 1
	all_done || return 1
	grep -E '^ *[0-9.]+s (restore took|restore \+ up took|up: )' "$OUT/restore.out"
	echo "restore --up took ${d}s"
	[ "$(kubectl get configmap before-backup -o jsonpath='{.data.k}')" = before ] || { echo "ConfigMap before-backup did not come back"; return 1; }
	[ "$(kubectl get secret backup-secret -o jsonpath='{.data.password}' | base64 -d)" = "$secret" ] ||
		{ echo "Secret backup-secret did not come back readable"; return 1; }
	if kubectl get configmap marker >/dev/null 2>&1; then
		echo "ConfigMap marker, made after the backup, is there"
		return 1
	fi
	echo "before-backup and backup-secret (readable) are back; marker, made after the backup, is not"
	if [ "${RESULT[kill-daemons]:-}" = PASS ]; then day2_intact || return 1; fi
	run kubectl delete configmap before-backup && run kubectl delete secret backup-secret
}

# bench: BENCH fresh `up`s (make bench-up), each after `reset --purge`, with
# the binaries and the image bundle present: the time to "up and verified"
# (up's exit), Node Ready after up started (the stamp of up's "node NAME
# Ready after" line), each phase's duration (phase list), and the components'
# own waits (the sum of up's "... after D" lines), and where the CPU went: the
# host's busy core-seconds during the up and their share of all cores' time,
# each daemon's own CPU time (its unit's cgroup) and the pods'; with BENCH_SERIAL=1 the same
# again with `up --serial`, the old one-phase-at-a-time order, run by run in
# turn. Prints medians with min-max and writes $SHARE/bench.tsv (mode, run,
# metric, seconds). Last step: it leaves the node freshly installed.
s_bench() {
	[ -n "${BENCH:-}" ] || { echo "SKIP: BENCH is not set (make bench-up sets it)"; return 77; }
	[[ $BENCH =~ ^[1-9][0-9]*$ ]] || { echo "BENCH=$BENCH: want a number of runs, e.g. BENCH=5"; return 1; }
	need up || return 77
	local modes=(graph) mode i out tsv=$SHARE/bench.tsv
	[ "${BENCH_SERIAL:-}" = 1 ] && modes+=(serial)
	: >"$tsv"
	for i in $(seq 1 "$BENCH"); do
		for mode in "${modes[@]}"; do
			timeout --kill-after=10 "$STEP_TIMEOUT" k8s-single reset --purge >"$OUT/bench-reset.out" 2>&1 ||
				{ cat "$OUT/bench-reset.out"; return 1; }
			sync
			out=$OUT/bench-$mode-$i.out
			local pods0 sampler samples=$OUT/bench-cpu-$mode-$i.txt self=$OUT/bench-self-$mode-$i.txt
			pods0=$(pods_cpu)
			sample_cpu >"$samples" &
			sampler=$!
			local t=$EPOCHREALTIME
			if [ "$mode" = serial ]; then
				timeout --kill-after=10 "$STEP_TIMEOUT" bash -c "$CPU_OF" "$self" k8s-single up -c "$CFG" --serial 2>&1 | stamp >"$out"
			else
				timeout --kill-after=10 "$STEP_TIMEOUT" env -u K8S_SINGLE_SERIAL bash -c "$CPU_OF" "$self" k8s-single up -c "$CFG" 2>&1 | stamp >"$out"
			fi
			[ "${PIPESTATUS[0]}" = 0 ] || { tail -n 30 "$out"; echo "up ($mode, run $i) failed"; return 1; }
			local total
			total=$(since "$t")
			kill "$sampler"
			wait "$sampler" 2>/dev/null
			grep -q 'The cluster is up and verified.' "$out" || { tail -n 20 "$out"; echo "up ($mode, run $i) did not end verified"; return 1; }
			k8s-single phase list -o json >"$OUT/bench-phases.json" || return 1
			{
				echo "$mode	$i	verified	$total"
				awk -v m="$mode" -v i="$i" -v node="node $NODE_NAME Ready after" '
					index($0, node) { sub(/^ */, ""); sub(/s .*/, ""); print m "\t" i "\tNode Ready\t" $0 }' "$out"
				awk -v m="$mode" -v i="$i" "$AWK_SECS"'
					/ after [0-9.]+(ns|us|µs|ms|s|m|h)+/ { w = $0; sub(/.* after /, "", w); sub(/[;,].*/, "", w); sum += secs(w) }
					END { printf "%s\t%s\tcomponent waits (sum)\t%.3f\n", m, i, sum }' "$out"
				jq -r --arg m "$mode" --arg i "$i" '.[] | [$m, $i, "phase " + .name, .lastDuration] | @tsv' "$OUT/bench-phases.json" |
					awk -F'\t' -v OFS='\t' "$AWK_SECS"'
					{ $4 = sprintf("%.3f", secs($4)); print }'
				cpu_rows "$mode" "$i" "$t" "$samples" "$out" "$pods0" "$self"
			} >>"$tsv"
			echo "run $i ($mode): verified after ${total}s"
		done
	done
	bench_table "$tsv" "${modes[@]}"
}

# sample_cpu: every 0.2 s, the time and the host's busy and total CPU time
# in clock ticks (/proc/stat, which a container shares with its host:
# nothing else runs on it here), until killed.
sample_cpu() {
	while :; do
		awk -v t="$EPOCHREALTIME" '/^cpu / { print t, $2 + $3 + $4 + $7 + $8 + $9, $2 + $3 + $4 + $5 + $6 + $7 + $8 + $9 }' /proc/stat
		sleep 0.2
	done
}

# cgroup_cpu DIR: the CPU time, in µs, the cgroup DIR has used: cgroup v2's
# cpu.stat (the unified hierarchy, or its part of a hybrid one: this
# machine's hosts are hybrid), else v1's cpuacct.usage; 0 when there is none.
cgroup_cpu() {
	local d=${1#/} f
	for f in /sys/fs/cgroup/$d/cpu.stat /sys/fs/cgroup/unified/$d/cpu.stat; do
		[ -r "$f" ] && { awk '$1 == "usage_usec" { print $2 }' "$f"; return; }
	done
	for f in /sys/fs/cgroup/cpuacct/$d/cpuacct.usage /sys/fs/cgroup/cpu,cpuacct/$d/cpuacct.usage; do
		[ -r "$f" ] && { awk '{ printf "%.0f\n", $1 / 1000 }' "$f"; return; }
	done
	echo 0
}

# pods_cpu: the CPU time, in µs, the pods' cgroup (the kubelet's kubepods
# slice, or kubepods with the cgroupfs driver) has used.
pods_cpu() {
	local d us
	for d in kubepods.slice kubepods; do
		us=$(cgroup_cpu "$d")
		[ "$us" != 0 ] && { echo "$us"; return; }
	done
	echo 0
}

# BENCH_UNITS are the daemons whose CPU time the bench reports.
BENCH_UNITS=(etcd kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy containerd)

# CPU_OF is a script for bash -c: `bash -c "$CPU_OF" FILE CMD...` runs CMD
# and writes to FILE the user and system CPU time that it and the children
# it waited for used (the second line of bash's times, which a pipe's
# subshell would not see), and exits with CMD's status.
CPU_OF='"$@"; rc=$?; times >"$0"; exit $rc'

# cpu_rows MODE RUN T0 SAMPLES OUT PODS0 SELF: the bench's CPU rows of one up
# that started at T0 ($EPOCHREALTIME), printed OUT, and was sampled by
# sample_cpu into SAMPLES, with pods_cpu at PODS0 before it and its own CPU
# time in SELF (CPU_OF's): the host's busy
# core-seconds and their share of all cores' time, over the whole up and
# until the Node was Ready; each daemon's CPU time, its unit's cgroup's
# since it started in this up (reset --purge stopped it), the pods', and
# k8s-single's own (with the ctr and version checks it runs).
cpu_rows() {
	local mode=$1 run=$2 t0=$3 samples=$4 out=$5 pods0=$6 self=$7 hz ready u
	hz=$(getconf CLK_TCK)
	ready=$(awk -v node="node $NODE_NAME Ready after" 'index($0, node) { sub(/^ */, ""); sub(/s .*/, ""); print; exit }' "$out")
	awk -v m="$mode" -v i="$run" -v hz="$hz" -v t0="$t0" -v ready="${ready:-0}" '
		NR == 1 { b0 = $2; a0 = $3 }
		{ b = $2; a = $3 }
		ready > 0 && !rb && $1 - t0 >= ready { rb = $2; ra = $3 }
		function row(what, busy, all) {
			printf "%s\t%s\tCPU busy %s, core-s\t%.3f\n", m, i, what, busy / hz
			printf "%s\t%s\tCPU busy %s, %% of all cores\t%.3f\n", m, i, what, all ? 100 * busy / all : 0
		}
		END {
			row("in up", b - b0, a - a0)
			if (rb) row("until Node Ready", rb - b0, ra - a0)
		}' "$samples"
	for u in "${BENCH_UNITS[@]}"; do
		printf '%s\t%s\tCPU %s, s\t%s\n' "$mode" "$run" "$u" \
			"$(awk -v us="$(cgroup_cpu "$(systemctl show -P ControlGroup "$u.service")")" 'BEGIN { printf "%.3f", us / 1e6 }')"
	done
	awk -v m="$mode" -v i="$run" -v a="$pods0" -v b="$(pods_cpu)" 'BEGIN { printf "%s\t%s\tCPU pods, s\t%.3f\n", m, i, (b - a) / 1e6 }'
	awk -v m="$mode" -v i="$run" "$AWK_SECS"'NR == 2 { printf "%s\t%s\tCPU k8s-single up, s\t%.3f\n", m, i, secs($1) + secs($2) }' "$self"
}

# AWK_SECS is an awk function: secs(d), the seconds of a Go duration such as
# "1m2.5s" or "350ms".
AWK_SECS='
function secs(d,   t, n, u) {
	t = 0
	while (match(d, /^[0-9.]+(ns|us|µs|ms|s|m|h)/)) {
		n = substr(d, 1, RLENGTH); d = substr(d, RLENGTH + 1)
		u = n; sub(/^[0-9.]+/, "", u); n += 0
		t += (u == "h") ? n * 3600 : (u == "m") ? n * 60 : (u == "s") ? n : (u == "ms") ? n / 1e3 : n / 1e6
	}
	return t
}'

# bench_table TSV MODE...: per metric, each mode's median and min-max.
bench_table() {
	local tsv=$1
	shift
	printf '\n==== bench: %s fresh up(s) per mode, seconds, median (min-max)\n' "$BENCH"
	awk -F'\t' -v modes="$*" '
		{ key = $3; if (!(key in seen)) { seen[key] = ++nk; order[nk] = key }
		  n[$1, key]++; v[$1, key, n[$1, key]] = $4 }
		END {
			nm = split(modes, m, " ")
			printf "%-34s", "metric"; for (j = 1; j <= nm; j++) printf "%-24s", m[j]; print ""
			for (k = 1; k <= nk; k++) {
				key = order[k]; printf "%-34s", key
				for (j = 1; j <= nm; j++) {
					c = n[m[j], key]; if (!c) { printf "%-24s", "-"; continue }
					for (a = 1; a <= c; a++) x[a] = v[m[j], key, a] + 0
					for (a = 1; a <= c; a++) for (b = a + 1; b <= c; b++) if (x[b] < x[a]) { t = x[a]; x[a] = x[b]; x[b] = t }
					med = (c % 2) ? x[(c + 1) / 2] : (x[c / 2] + x[c / 2 + 1]) / 2
					printf "%-24s", sprintf("%.2f (%.2f-%.2f)", med, x[1], x[c])
				}
				print ""
			}
		}' "$tsv"
}

# ---- the upgrade tier (make smoke-upgrade): OLD_KUBERNETES_VERSION and
# OLD_ETCD_VERSION, the binaries of that release at /opt/k8s-single/binaries-old.
OLD_CFG=/etc/k8s-single/old.yaml

# with_versions K8S ETCD [DIR] prints the smoke config with other versions
# (and binaries.dir).
with_versions() {
	sed -e "/^kind: Cluster/a kubernetesVersion: $1\netcdVersion: $2" \
		-e "s#^  dir: .*#  dir: ${3:-/opt/k8s-single/binaries}#" "$CFG"
}

# running_versions prints "daemon version" per line, as k8s-single asks the
# daemons (upgrade plan's running versions, which status shows too).
running_versions() { k8s-single upgrade plan -o json | jq -r '.running | to_entries[] | "\(.key) \(.value)"'; }

# expect_running K8S ETCD: every daemon reports these versions (within
# STATUS_WAIT: after a restart they answer one by one).
expect_running() {
	local got want t=$EPOCHREALTIME
	want=$(printf '%s\n' "etcd $2" "kube-apiserver $1" "kube-controller-manager $1" "kube-scheduler $1" "kubelet $1" "kube-proxy $1" | sort)
	until got=$(running_versions | grep -v '^containerd ' | sort) && [ "$got" = "$want" ]; do
		awk -v a="$(since "$t")" -v m="$STATUS_WAIT" 'BEGIN { exit !(a > m) }' && break
		sleep 1
	done
	if [ "$got" != "$want" ]; then
		echo "the daemons report:"; echo "$got" | sed 's/^/  /'
		echo "want:"; echo "$want" | sed 's/^/  /'
		return 1
	fi
	echo "every daemon reports its version: Kubernetes $1, etcd $2"
}

# avail_start NAME polls the apiserver's /readyz (admin certificate) every
# 0.2 s in the background; avail_stop prints the longest time it did not
# answer 200.
avail_start() {
	AVAIL=$OUT/avail.$1
	(while :; do
		code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 1 --cacert /etc/kubernetes/pki/ca.crt \
			--cert /etc/kubernetes/pki/admin.crt --key /etc/kubernetes/pki/admin.key "https://$NODE_IP:6443/readyz")
		echo "$EPOCHREALTIME $code"
		sleep 0.2
	done) >"$AVAIL" 2>/dev/null &
	AVAIL_PID=$!
}
avail_stop() {
	kill "$AVAIL_PID" 2>/dev/null
	wait "$AVAIL_PID" 2>/dev/null
	awk '$2 != 200 && !down { down = 1; from = $1 } $2 == 200 && down { down = 0; if ($1 - from > max) max = $1 - from }
		END { if (down) max = -1; printf "%.1f\n", max }' "$AVAIL"
}

# debian_runtime prints the config on stdin with runtime.source debian: the
# node as installed before k8s-single brought its own containerd.
debian_runtime() {
	awk '{ print } /^runtime:/ { print "  source: debian"; done = 1 } END { if (!done) print "runtime:\n  source: debian" }'
}

# web_pods prints the day2 Deployment's pods: UID and container ID.
web_pods() {
	kubectl -n day2 get pods -l app=web -o jsonpath='{range .items[*]}{.metadata.uid} {.status.containerStatuses[0].containerID}{"\n"}{end}' | sort
}

s_up_old() {
	[ -n "${OLD_KUBERNETES_VERSION:-}" ] && [ -x /opt/k8s-single/binaries-old/kube-apiserver ] ||
		{ echo "SKIP: no older release (OLD_KUBERNETES_VERSION, /opt/k8s-single/binaries-old: make smoke-upgrade)"; return 77; }
	with_versions "$OLD_KUBERNETES_VERSION" "$OLD_ETCD_VERSION" /opt/k8s-single/binaries-old | debian_runtime >"$OLD_CFG"
	k8s up-old up -c "$OLD_CFG" || return 1
	all_done || return 1
	expect_running "$OLD_KUBERNETES_VERSION" "$OLD_ETCD_VERSION" || return 1
	echo "containerd $(containerd_version) (Debian's)"
	day2_objects || return 1
	web_pods >"$OUT/web-pods.before"
}

# upgrade-refused: a two-minor jump and a downgrade are refused before
# anything is touched, naming the rule.
s_upgrade_refused() {
	need up-old || return 77
	local minor=${OLD_KUBERNETES_VERSION#v1.} v rule before after
	minor=${minor%%.*}
	before=$(sha256sum /var/lib/k8s-single/journal.json; ls -li /opt/kubernetes/bin)
	for v in "v1.$((minor + 2)).0|one minor version at a time" "v1.$((minor - 1)).0|no downgrade to an older minor version"; do
		rule=${v#*|} v=${v%|*}
		with_versions "$v" "$OLD_ETCD_VERSION" >"$OUT/refused.yaml"
		if k8s refused up -c "$OUT/refused.yaml"; then
			echo "up to $v from $OLD_KUBERNETES_VERSION succeeded; want it refused"
			return 1
		fi
		grep -qF "$rule" "$OUT/refused.out" || { echo "the refusal of $v does not name the rule '$rule'"; return 1; }
		echo "up to Kubernetes $v refused: $rule"
	done
	after=$(sha256sum /var/lib/k8s-single/journal.json; ls -li /opt/kubernetes/bin)
	[ "$before" = "$after" ] || { echo "a refused up changed the journal or the binaries"; return 1; }
	echo "nothing changed: the journal and every binary are as before"
}

# upgrade-fault: the new release's kube-apiserver cannot start (a binary that
# answers --version but exits at once); up fails naming it, puts the old one
# back and leaves the cluster healthy; the objects are intact.
FAULTY=/var/tmp/faulty-release
s_upgrade_fault() {
	need up-old || return 77
	local b down
	rm -rf "$FAULTY" && mkdir -p "$FAULTY"
	for b in /opt/k8s-single/binaries/*; do ln -s "$b" "$FAULTY/"; done
	rm "$FAULTY/kube-apiserver"
	cat >"$FAULTY/kube-apiserver" <<'SH'
#!/bin/sh
[ "$1" = --version ] && exec /opt/k8s-single/binaries/kube-apiserver --version
echo "smoke failpoint: this kube-apiserver refuses to start" >&2
exit 1
SH
	chmod 0755 "$FAULTY/kube-apiserver"
	# Debian's runtime still: this step is about the apiserver
	sed "s#^  dir: .*#  dir: $FAULTY#" "$CFG" | debian_runtime >"$OUT/faulty.yaml"
	avail_start fault
	if k8s fault up -c "$OUT/faulty.yaml"; then
		avail_stop >/dev/null
		echo "up with an apiserver that cannot start succeeded"
		return 1
	fi
	down=$(avail_stop)
	grep -q "kube-apiserver on kubernetes-.* failed, so it was rolled back" "$OUT/fault.out" ||
		{ echo "up's error does not say the kube-apiserver failed and was rolled back"; return 1; }
	grep -q "smoke failpoint" "$OUT/fault.out" || { echo "up's error lacks the apiserver's log lines"; return 1; }
	echo "up failed naming the kube-apiserver, with its log lines; the apiserver was unavailable for ${down}s at most"
	s_status >"$OUT/fault.status" 2>&1 || { cat "$OUT/fault.status"; return 1; }
	# etcd, upgraded before the apiserver failed, stays on the new release
	expect_running "$OLD_KUBERNETES_VERSION" "$(jq -r '.steps[] | select(.binary == "etcd") | .to' <(k8s-single upgrade plan -c "$CFG" -o json))" || return 1
	echo "after the failure every component is healthy; the kube-apiserver runs $OLD_KUBERNETES_VERSION again"
	run k8s-single phase list
	day2_intact
}

# upgrade: the config's versions move one minor up and the runtime from
# Debian's containerd 1.6 to k8s-single's containerd 2; up upgrades in place,
# the objects and the running containers survive, and a second up is a no-op.
s_upgrade() {
	need up-old || return 77
	local down want_k want_e b
	run k8s-single upgrade plan -c "$CFG" || return 1
	k8s-single upgrade plan -c "$CFG" -o json >"$OUT/plan.json" || return 1
	want_k=$(jq -r '.steps[] | select(.binary == "kube-apiserver") | .to' "$OUT/plan.json")
	want_e=$(jq -r '.steps[] | select(.binary == "etcd") | .to' "$OUT/plan.json")
	[ "$(jq -r '.runtime.restart' "$OUT/plan.json")" = true ] ||
		{ echo "the plan does not say that up moves containerd $(jq -r .runtime.running "$OUT/plan.json") to $(jq -r .runtime.configured "$OUT/plan.json")"; return 1; }
	avail_start upgrade
	k8s upgrade up -c "$CFG" || { avail_stop >/dev/null; return 1; }
	down=$(avail_stop)
	grep -q FAILED "$OUT/upgrade.out" && return 1
	all_done || return 1
	grep -qE "\] verify: done" "$OUT/upgrade.out" || { echo "verify did not run after the upgrade"; return 1; }
	[ "$want_k" != "$OLD_KUBERNETES_VERSION" ] || { echo "the config names the old version $want_k"; return 1; }
	expect_running "$want_k" "$want_e" || return 1
	for b in /opt/kubernetes/bin/kubectl /opt/kubernetes/bin/etcdctl; do
		cmp -s "$b" "/opt/k8s-single/binaries/${b##*/}" || { echo "$b is not the new release's"; return 1; }
	done
	echo "the apiserver was unavailable for ${down}s at most during the upgrade"
	echo "$down" >"$SHARE/upgrade.apiserver-down"
	grep -h "backup before restarting" "$OUT"/fault.out "$OUT"/upgrade.out 2>/dev/null | head -n 1
	ls /var/lib/k8s-single/backups/*.tar.gz >/dev/null 2>&1 || { echo "no backup was taken before the upgrade"; return 1; }
	day2_intact || return 1
	web_pods >"$OUT/web-pods.after"
	cmp -s "$OUT/web-pods.before" "$OUT/web-pods.after" ||
		{
			echo "the Deployment's pods or their containers were replaced during the upgrade"
			diff "$OUT/web-pods.before" "$OUT/web-pods.after"
			# why: a restart's last state, or the pod's events
			kubectl -n day2 get pods -l app=web -o jsonpath='{range .items[*]}{.metadata.name} restarts={.status.containerStatuses[0].restartCount} last={.status.containerStatuses[0].lastState}{"\n"}{end}'
			kubectl -n day2 get events --sort-by=.lastTimestamp | tail -n 20
			return 1
		}
	echo "the Deployment's 2 pods kept running through the upgrade (same pod UIDs and container IDs)"
	runtime_is_ours || return 1
	run k8s-single phase list
}

# runtime-fault: new containerd binaries that cannot start (a containerd that
# answers --version, then exits): up fails naming containerd with its log
# lines, the containerd that ran before is back with its binary, and the
# containers kept running; up on the real binaries then completes.
s_runtime_fault() {
	need upgrade || return 77
	local b dir=/var/tmp/faulty-runtime before
	rm -rf "$dir" && mkdir -p "$dir"
	for b in /opt/k8s-single/binaries/*; do ln -s "$b" "$dir/"; done
	rm "$dir/containerd"
	cat >"$dir/containerd" <<'SH'
#!/bin/sh
[ "$1" = --version ] && exec /opt/k8s-single/binaries/containerd --version
echo "smoke failpoint: this containerd refuses to start" >&2
exit 1
SH
	chmod 0755 "$dir/containerd"
	sed "s#^  dir: .*#  dir: $dir#" "$CFG" >"$OUT/faulty-runtime.yaml"
	before=$(web_pods)
	if k8s runtime-fault up -c "$OUT/faulty-runtime.yaml"; then
		echo "up with a containerd that cannot start succeeded"
		return 1
	fi
	grep -q "containerd did not come up on the new files: put back" "$OUT/runtime-fault.out" ||
		{ echo "up does not say it put containerd's previous files back"; return 1; }
	grep -q "smoke failpoint" "$OUT/runtime-fault.out" || { echo "up's error lacks containerd's log lines"; return 1; }
	cmp -s /opt/kubernetes/bin/containerd /opt/k8s-single/binaries/containerd || { echo "the failed containerd binary stayed installed"; return 1; }
	runtime_is_ours || return 1
	[ "$(web_pods)" = "$before" ] || { echo "the Deployment's containers did not survive the failed containerd"; return 1; }
	# the kubelet, which requires containerd, went down with the failed start
	s_status >"$OUT/runtime-fault.status" 2>&1 || { cat "$OUT/runtime-fault.status"; return 1; }
	echo "up failed naming containerd with its log lines; the previous containerd runs again, every component is healthy (the kubelet started again), the containers kept running"
	k8s runtime-fixed up -c "$CFG" || return 1
	all_done
}

# upgrade-rollback (last: it takes the cluster back): the backup up took
# before the upgrade's first restart brings back the old release on the
# data it wrote; the objects written before it are there.
s_upgrade_rollback() {
	need upgrade || return 77
	k8s rollback upgrade rollback --yes || return 1
	grep -qF "rolling back to /var/lib/k8s-single/backups/" "$OUT/rollback.out" || { echo "rollback does not name the archive"; return 1; }
	all_done || return 1
	expect_running "$OLD_KUBERNETES_VERSION" "$OLD_ETCD_VERSION" || return 1
	day2_intact
}

# ---- main ----
# The steps in order: name and function.
SCENARIO_STEPS=(boot:s_boot
	up-old:s_up_old upgrade-refused:s_upgrade_refused upgrade-fault:s_upgrade_fault upgrade:s_upgrade runtime-fault:s_runtime_fault
	up:s_up phase-list:s_phase_list noop-up:s_noop kill-mid-phase:s_kill
	resume:s_resume etcd-health:s_etcd_health status:s_status nodes:s_nodes pods:s_pods image-volume:s_image_volume
	metrics:s_metrics dashboard:s_dashboard images:s_images cis:s_cis hardening:s_hardening kill-daemons:s_kill_daemons
	doctor:s_doctor renew:s_renew backup-timer:s_backup_timer backup-restore:s_backup_restore reset:s_reset up-after-reset:s_up_again
	disk-pressure:s_disk_pressure reboot:s_reboot ip-change:s_ip_change bench:s_bench
	upgrade-rollback:s_upgrade_rollback)
log "k8s-smoke scenario start (node $NODE_NAME $NODE_IP)"
unknown=0
for name in ${STEPS:-}; do
	if [[ " ${SCENARIO_STEPS[*]} " != *" $name:"* ]]; then
		echo "STEPS names an unknown step '$name'; the steps are: ${SCENARIO_STEPS[*]%%:*}"
		FAILED+=("STEPS:$name")
		unknown=1
	fi
done
# (FAILED may also hold a step that failed before a reboot: the steps after
# the reboot still run.)
if [ "$unknown" = 0 ]; then
	for s in "${SCENARIO_STEPS[@]}"; do step "${s%%:*}" "${s#*:}"; done
fi

printf '\n==== step durations\n'
printf '%-16s %-5s %8s\n' STEP RESULT SECONDS
for r in "${ROWS[@]}"; do
	IFS='|' read -r n res d <<<"$r"
	printf '%-16s %-5s %8s\n' "$n" "$res" "$d"
done
printf '%-16s %-5s %8s\n' total "" "$(since "$T_START")"
if [ -s "$SHARE/phases.up1" ]; then
	printf '\n==== phase durations (first up)\n'
	while IFS='|' read -r n d; do printf '%-16s %8s\n' "$n" "$d"; done <"$SHARE/phases.up1"
fi
printf '%s\n' "${ROWS[@]}" >"$SHARE/steps"
{
	if [ ${#FAILED[@]} -eq 0 ]; then echo "RESULT: PASS"; else echo "RESULT: FAIL"; fi
	echo "failed: ${FAILED[*]:-}"
	echo "skipped: ${SKIPPED[*]:-}"
} >"$SHARE/result.tmp"
mv "$SHARE/result.tmp" "$SHARE/result"
printf '\n'
cat "$SHARE/result"
log "scenario done (the unit powers the container off, or disables itself in a VM)"
sync
