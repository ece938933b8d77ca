#!/bin/bash
# test/smoke/kube-bench/build.sh: builds kube-bench (github.com/aquasecurity/kube-bench)
# from the Go module proxy into $CACHE_DIR/kube-bench/$KUBE_BENCH_VERSION/ (the
# binary `kube-bench` and its `cfg/` directory, copied from the module) and
# prints that directory last. Cached: a second run only checks the files (< 0.1 s).
#
#   CACHE_DIR=/var/cache/k8s-single   KUBE_BENCH_VERSION=v0.15.6
#
# The proxy serves kube-bench by exact version only (v0.15.6 is the newest it
# serves). Its dependencies have no checksum-database entries here, so it is
# built in a throwaway module with GOSUMDB=off and GOFLAGS=-mod=mod (the
# module's own go.sum still pins what it lists). The Go caches are k8s-single's
# (GOMODCACHE/GOCACHE under $CACHE_DIR, as `k8s-single build` uses them).
set -euo pipefail
CACHE_DIR=${CACHE_DIR:-/var/cache/k8s-single}
VERSION=${KUBE_BENCH_VERSION:-v0.15.6}
MOD=github.com/aquasecurity/kube-bench
OUT=$CACHE_DIR/kube-bench/$VERSION

if [ -x "$OUT/kube-bench" ] && [ -s "$OUT/cfg/config.yaml" ] && [ -e "$OUT/.complete" ]; then
	echo "$OUT"
	exit 0
fi

command -v go >/dev/null || { echo "kube-bench build: no go in PATH" >&2; exit 1; }
t0=$EPOCHREALTIME
mkdir -p "$CACHE_DIR/kube-bench"
exec 7>"$CACHE_DIR/kube-bench/.lock"
flock 7
if [ -e "$OUT/.complete" ]; then # built by another run while we waited
	echo "$OUT"
	exit 0
fi
tmp=$(mktemp -d "$CACHE_DIR/kube-bench/.build-XXXXXX")
trap 'chmod -R u+w "$tmp" 2>/dev/null; rm -rf "$tmp"' EXIT
export GOMODCACHE=$CACHE_DIR/gomodcache GOCACHE=$CACHE_DIR/gocache
export GOSUMDB=off GOFLAGS=-mod=mod CGO_ENABLED=0 GOTOOLCHAIN=${GOTOOLCHAIN:-local}
echo "kube-bench build: $MOD@$VERSION into $OUT (cold: a few minutes)" >&2
(
	cd "$tmp"
	go mod init kube-bench-build >/dev/null 2>&1
	go get "$MOD@$VERSION" >/dev/null 2>&1 || go get "$MOD@$VERSION"
	go build -trimpath -ldflags "-s -w -X $MOD/cmd.KubeBenchVersion=$VERSION" -o "$tmp/out/kube-bench" "$MOD"
)
dir=$(cd "$tmp" && go list -m -f '{{.Dir}}' "$MOD")
cp -r "$dir/cfg" "$tmp/out/cfg"
chmod -R u+w,go-w "$tmp/out"
"$tmp/out/kube-bench" version >/dev/null
rm -rf "$OUT"
mv "$tmp/out" "$OUT"
touch "$OUT/.complete"
echo "kube-bench build: $("$OUT/kube-bench" version 2>/dev/null | head -n 1) in $(awk -v a="$EPOCHREALTIME" -v b="$t0" 'BEGIN { printf "%.1f", a - b }')s" >&2
echo "$OUT"
