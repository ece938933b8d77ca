#!/bin/bash
# test/vagrant/mkbox.sh: builds (once, cached) the local libvirt box of the
# Vagrant tier from the same debootstrapped Debian 12 rootfs as the nspawn
# smoke tier, and prints the box directory on its last line.
#
#   test/vagrant/mkbox.sh            (root; run.sh calls it)
#
# The base is the smoke tier's rootfs ($SMOKE_CACHE/rootfs-<key>, made and
# cached by test/smoke/lib.sh's smoke_rootfs, the function the nspawn tier
# uses, when it is not there yet). On a copy of it this adds what a VM needs and a container does
# not (a kernel, udev, sshd, networkd/resolved), configures it for a headless
# direct-kernel boot with Vagrant's insecure key for root, and packs it:
#
#   $VAGRANT_CACHE/box-<key>/k8s-single-smoke.box   the box (box.img qcow2, metadata.json, Vagrantfile)
#   $VAGRANT_CACHE/box-<key>/vmlinuz, initrd.img    for direct kernel boot (the image has no boot loader)
#   $VAGRANT_CACHE/box-<key>/manifest               package versions, size, build time
# (<key>: the base rootfs's key, EXTRA, DISK_GB and BOX_RECIPE; a new key
# replaces the older box.)
#
# Environment (all optional):
#   VAGRANT_CACHE=/var/cache/k8s-single/vagrant   where boxes are cached
#   SMOKE_CACHE=/var/cache/k8s-single/smoke       the nspawn tier's rootfs cache
#   MIRROR=url      Debian mirror (default: the one the base rootfs was made from)
#   DISK_GB=10      the guest's root file system size
#   REBUILD=1       build even when the box is cached
set -euo pipefail

# ---- hidden helper: __chroot ROOT CMD... (run under unshare --mount)
if [ "${1:-}" = __chroot ]; then
	r=$2
	shift 2
	mount -t proc proc "$r/proc"
	mount -t sysfs sysfs "$r/sys"
	mount --rbind /dev "$r/dev"
	exec chroot "$r" "$@"
fi

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SELF=$HERE/$(basename "${BASH_SOURCE[0]}")
REPO=$(cd "$HERE/../.." && pwd)
CACHE_DIR=${CACHE_DIR:-/var/cache/k8s-single}
VCACHE=${VAGRANT_CACHE:-$CACHE_DIR/vagrant}
SMOKE=${SMOKE_CACHE:-$CACHE_DIR/smoke}
DISK_GB=${DISK_GB:-10}
TIER=mkbox
. "$REPO/test/smoke/lib.sh"
# progress goes to stderr; stdout (fd 3) gets only the box directory
exec 3>&1 1>&2
# What a VM needs on top of the container rootfs. systemd-resolved: the
# kubelet then reads /run/systemd/resolve/resolv.conf (k8s-single detects it),
# as on a stock Debian cloud VM with networkd.
EXTRA=(linux-image-amd64 udev openssh-server systemd-resolved e2fsprogs less)

[ "$(id -u)" = 0 ] || die "run as root (debootstrap, chroot)"
for c in debootstrap mke2fs qemu-img chroot; do command -v $c >/dev/null || die "$c missing (run.sh installs: debootstrap e2fsprogs qemu-utils)"; done

# ---- the smoke tier's rootfs key
BASE_KEY=$(smoke_rootfs_key)
# The box's key: the base's, the extra packages, the disk size and BOX_RECIPE
# (bump it when what this script does to the rootfs changes).
BOX_RECIPE=1
KEY=$(printf '%s\n' "base $BASE_KEY" "recipe $BOX_RECIPE" "disk $DISK_GB" "$(printf '%s\n' "${EXTRA[@]}" | sort)" | sha256sum | cut -c1-16)
OUT=$VCACHE/box-$KEY
mkdir -p "$VCACHE"
exec 7>"$VCACHE/.box.lock"
flock 7
if [ -z "${REBUILD:-}" ] && [ -s "$OUT/k8s-single-smoke.box" ] && [ -s "$OUT/vmlinuz" ] && [ -s "$OUT/initrd.img" ]; then
	say "box cached: $OUT"
	echo "$OUT" >&3
	exit 0
fi

TMP=$OUT.tmp
R=$TMP/rootfs
cleanup() {
	local rc=$?
	[ "$rc" = 0 ] || say "failed; partial build left for inspection in $TMP (removed by the next build)"
	exit "$rc"
}
trap cleanup EXIT
rm -rf "$TMP"
mkdir -p "$TMP"
T0=$EPOCHREALTIME

# ---- 1. the base rootfs: the smoke tier's (built and cached now if it is not there)
smoke_rootfs
say "base: the smoke tier's rootfs $ROOTFS"
cp -a --reflink=auto "$ROOTFS" "$R"
MIRROR=${MIRROR:-$(sed -n 's/^# k8s-single smoke rootfs [^:]*: debootstrap --variant=minbase [^ ]* //p' "$R/etc/k8s-smoke-rootfs" 2>/dev/null)}
say "base ready in $(awk -v a="$EPOCHREALTIME" -v b="$T0" 'BEGIN { printf "%.1f", a - b }')s"

# ---- 2. what a VM needs: kernel, udev, sshd, networkd + resolved
say "adding ${EXTRA[*]} (apt in a chroot, from ${MIRROR:-the sources.list of the base})"
[ -n "$MIRROR" ] && echo "deb $MIRROR $SMOKE_SUITE main" >"$R/etc/apt/sources.list"
rm -f "$R/etc/resolv.conf"
cp -L /etc/resolv.conf "$R/etc/resolv.conf"
# no service may start in the chroot (it would run on the host)
printf '#!/bin/sh\nexit 101\n' >"$R/usr/sbin/policy-rc.d"
chmod 0755 "$R/usr/sbin/policy-rc.d"
# the initramfs only needs what a virtio guest boots from (small and fast to unpack under TCG)
mkdir -p "$R/etc/initramfs-tools"
printf 'virtio_pci\nvirtio_blk\nvirtio_net\next4\n9p\n9pnet_virtio\n' >"$R/etc/initramfs-tools/modules"
in_chroot() { # /proc, /sys and /dev mounted in a private mount namespace that dies with the command
	unshare --mount --propagation private "$SELF" __chroot "$R" "$@"
}
if ! in_chroot /bin/sh -c "export DEBIAN_FRONTEND=noninteractive LC_ALL=C
	apt-get update -qq &&
	apt-get install -y -qq --no-install-recommends ${EXTRA[*]}" >"$TMP/apt.log" 2>&1; then
	tail -n 30 "$TMP/apt.log" >&2
	die "apt-get install in the chroot failed (log: $TMP/apt.log)"
fi
sed -i 's/^MODULES=.*/MODULES=list/' "$R/etc/initramfs-tools/initramfs.conf"
in_chroot update-initramfs -u -k all >>"$TMP/apt.log" 2>&1 || die "update-initramfs failed (log: $TMP/apt.log)"
in_chroot apt-get clean
rm -f "$R/usr/sbin/policy-rc.d"
rm -rf "$R"/var/lib/apt/lists/* "$R"/var/log/*.log "$R"/var/log/apt/*

# ---- 3. configure: headless, DHCP, root over ssh with Vagrant's insecure key
echo k8s-single-vm >"$R/etc/hostname"
printf '127.0.0.1 localhost\n127.0.1.1 k8s-single-vm\n' >"$R/etc/hosts"
printf '/dev/vda / ext4 defaults,noatime 0 0\n' >"$R/etc/fstab"
cat >"$R/etc/systemd/network/10-dhcp.network" <<'EOF'
[Match]
Name=en* eth*

[Network]
DHCP=yes
EOF
# resolved owns /etc/resolv.conf (its stub), as on a stock networkd VM
ln -sf ../run/systemd/resolve/stub-resolv.conf "$R/etc/resolv.conf"
systemctl --root="$R" enable systemd-networkd.service systemd-resolved.service ssh.service >/dev/null 2>&1
# nothing waits for a network that is up anyway; no ifupdown
systemctl --root="$R" mask systemd-networkd-wait-online.service >/dev/null 2>&1
# containerd is started by k8s-single's runtime phase, not at boot
systemctl --root="$R" disable containerd.service >/dev/null 2>&1 || true
mkdir -p "$R/etc/ssh/sshd_config.d"
printf 'PermitRootLogin prohibit-password\nUseDNS no\nPasswordAuthentication no\n' >"$R/etc/ssh/sshd_config.d/k8s-single-vagrant.conf"
KEY_PUB=$(find /usr/share/rubygems-integration /usr/share/vagrant /usr/lib/ruby -path '*vagrant*/keys/vagrant.pub' 2>/dev/null | head -n 1 || true)
[ -n "$KEY_PUB" ] || die "Vagrant's insecure public key (keys/vagrant.pub of the vagrant package) not found: apt-get install vagrant"
install -d -m 0700 "$R/root/.ssh"
install -m 0600 "$KEY_PUB" "$R/root/.ssh/authorized_keys"
chroot "$R" passwd -l root >/dev/null
# journald keeps the journal across the kill/resume and for the failure dump
mkdir -p "$R/var/log/journal"
{
	echo "# k8s-single Vagrant smoke box $KEY (base: smoke rootfs $BASE_KEY; mirror ${MIRROR:-?})"
	chroot "$R" dpkg-query -W -f='${Package} ${Version}\n' "${SMOKE_PKGS[@]}" "${EXTRA[@]}"
} >"$R/etc/k8s-smoke-rootfs"

# ---- 4. pack: raw ext4 (no partition table, root=/dev/vda) -> compressed qcow2 -> .box
cp "$(ls "$R"/boot/vmlinuz-* | sort -V | tail -n 1)" "$TMP/vmlinuz"
cp "$(ls "$R"/boot/initrd.img-* | sort -V | tail -n 1)" "$TMP/initrd.img"
say "mke2fs -d rootfs (${DISK_GB}G sparse) and qemu-img convert -c"
mke2fs -q -t ext4 -L root -d "$R" -E root_owner=0:0 "$TMP/disk.raw" "${DISK_GB}G"
mkdir -p "$TMP/box"
qemu-img convert -O qcow2 -c "$TMP/disk.raw" "$TMP/box/box.img"
rm -f "$TMP/disk.raw"
printf '{"provider":"libvirt","format":"qcow2","virtual_size":%s}\n' "$DISK_GB" >"$TMP/box/metadata.json"
cat >"$TMP/box/Vagrantfile" <<'EOF'
# the k8s-single smoke box: root over ssh with Vagrant's insecure key, no sudo
Vagrant.configure("2") do |c|
  c.ssh.username = "root"
  c.ssh.insert_key = false
  c.vm.provider :libvirt do |lv|
    lv.driver = "qemu"
  end
end
EOF
tar -C "$TMP/box" -cf "$TMP/k8s-single-smoke.box" metadata.json Vagrantfile box.img
rm -rf "$TMP/box"
{
	cat "$R/etc/k8s-smoke-rootfs"
	echo "# kernel $(basename "$(ls "$R"/boot/vmlinuz-* | sort -V | tail -n 1)"); box $(du -h "$TMP/k8s-single-smoke.box" | cut -f1); built in $(awk -v a="$EPOCHREALTIME" -v b="$T0" 'BEGIN { printf "%.0f", a - b }')s on $(date -u +%FT%TZ)"
} >"$TMP/manifest"
rm -rf "$R"
rm -rf "$OUT"
mv "$TMP" "$OUT"
# older builds (another key) and their leftovers
for d in "$VCACHE"/box-*; do
	[ "$d" = "$OUT" ] || rm -rf "$d"
done
say "box built in $(awk -v a="$EPOCHREALTIME" -v b="$T0" 'BEGIN { printf "%.0f", a - b }')s: $OUT ($(tail -n 1 "$OUT/manifest"))"
echo "$OUT" >&3
