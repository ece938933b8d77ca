#!/bin/sh
# PID 1 of the smoke container (installed as /usr/local/sbin/nsinit by run.sh):
# fix what systemd-nspawn leaves unusable for a node, then exec systemd.
#
# 1. systemd-nspawn (no user namespace) bind-remounts every cgroup-v1
#    controller hierarchy read-only. runc and the kubelet must create cgroups
#    in them, and systemd only uses the controllers it can write at startup,
#    so they are made read-write here, before systemd starts.
# 2. The kubelet insists on vm.overcommit_memory=1, kernel.panic=10 and
#    kernel.panic_on_oops=1 and writes them when they differ. /proc/sys is
#    read-only here and those knobs are host-global, so each one that differs
#    is shadowed by a small file holding the wanted value, bind-mounted over
#    the /proc/sys entry inside this mount namespace only. The host's values
#    are never changed.
for d in /sys/fs/cgroup/*; do
	[ -L "$d" ] && continue
	mountpoint -q "$d" && mount -o remount,bind,rw "$d"
done
mkdir -p /run/fake-sysctl
for kv in vm/overcommit_memory=1 vm/panic_on_oom=0 kernel/panic=10 kernel/panic_on_oops=1 \
	kernel/keys/root_maxkeys=1000000 kernel/keys/root_maxbytes=25000000; do
	k=${kv%=*} v=${kv#*=}
	if [ "$(cat "/proc/sys/$k")" != "$v" ]; then
		f=/run/fake-sysctl/$(echo "$k" | tr / _)
		echo "$v" >"$f" && mount --bind "$f" "/proc/sys/$k"
	fi
done
exec /lib/systemd/systemd "$@"
