#!/bin/bash
# test/vagrant/provision-build.sh: the Vagrant provisioner "build" of the users'
# VM (debian/bookworm64). Runs as root in the guest: installs the packages a
# node and the build need, and Go $GO_VERSION in /usr/local/go (Debian 12's Go
# is 1.19; go.mod wants 1.26). The "up" provisioner then runs `make up`.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
GO_VERSION=${GO_VERSION:-1.26.8}
say() { printf '[build %s] %s\n' "$(date +%T)" "$*"; }

say "apt-get install: build tools and what a node needs"
apt-get update -qq
apt-get install -y -qq --no-install-recommends \
	make git ca-certificates curl jq \
	iptables conntrack socat iproute2 kmod procps util-linux mount \
	gcc pkg-config libseccomp-dev >/dev/null # runc's build (cgo, libseccomp); containerd is k8s-single's own
# the kubelet refuses swap
swapoff -a
sed -i '/\sswap\s/s/^/#/' /etc/fstab

if /usr/local/go/bin/go version 2>/dev/null | grep -q "go$GO_VERSION "; then
	say "Go $GO_VERSION already in /usr/local/go"
else
	say "Go $GO_VERSION from go.dev into /usr/local/go"
	curl -fsSL "https://go.dev/dl/go$GO_VERSION.linux-amd64.tar.gz" -o /tmp/go.tgz
	rm -rf /usr/local/go
	tar -C /usr/local -xzf /tmp/go.tgz
	rm -f /tmp/go.tgz
fi
echo 'export PATH=/usr/local/go/bin:$PATH' >/etc/profile.d/go.sh
/usr/local/go/bin/go version
