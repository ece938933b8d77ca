#!/bin/bash
# hack/go-toolchain.sh prints the bin dir of a Go >= 1.26 (nothing when the
# one on PATH will do). On a bare Debian 12, which ships Go 1.19, it installs
# golang-1.19-go and uses it to fetch the Go toolchain module from the Go
# module proxy (a complete prebuilt Go) into $CACHE_DIR/bootstrap.
# Used by .ci/run and `make up`: PATH=$(hack/go-toolchain.sh):$PATH.
set -euo pipefail
CACHE_DIR=${CACHE_DIR:-/var/cache/k8s-single}
want_go=go1.26.8
PATH=/usr/local/go/bin:$PATH
if command -v go >/dev/null && go version | grep -Eq 'go1\.(2[6-9]|[3-9][0-9])'; then
	dirname "$(command -v go)"
	exit 0
fi
echo "no Go >= 1.26 here: fetching $want_go from the Go module proxy (once, into $CACHE_DIR/bootstrap)" >&2
[ -x /usr/lib/go-1.19/bin/go ] || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq golang-1.19-go >&2
dir=$(GOPATH=$CACHE_DIR/bootstrap GOFLAGS=-mod=mod /usr/lib/go-1.19/bin/go mod download -json \
	"golang.org/toolchain@v0.0.1-$want_go.linux-amd64" | sed -n 's/.*"Dir": "\(.*\)".*/\1/p')
[ -n "$dir" ] || { echo "could not fetch $want_go from the Go module proxy (GOPROXY=$(/usr/lib/go-1.19/bin/go env GOPROXY))" >&2; exit 1; }
chmod -R u+w "$dir" && chmod +x "$dir"/bin/* "$dir"/pkg/tool/*/* # module zips carry no exec bits
echo "$dir/bin"
