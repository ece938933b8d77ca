# k8s-single: the two set-up commands are `make up` (a cluster with the defaults)
# and `make test` (the unit tests); see README.md for the rest.
GO        ?= go
CACHE_DIR ?= /var/cache/k8s-single
VERSION   ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)
LDFLAGS   := -X github.com/k8s-single/k8s-single/internal/version.Version=$(VERSION)
BIN       := bin/k8s-single

.PHONY: all build up down machine-test test lint integration binaries images kube-bench smoke smoke-upgrade vagrant bench-up bench bench-cli fuzz clean

all: build

# build: bin/k8s-single, the quick front (version, etcd health), and
# bin/k8s-single-full, every command; the front hands the rest to the binary beside it.
build:
	CGO_ENABLED=0 $(GO) build -ldflags '$(LDFLAGS)' -o bin/ ./cmd/k8s-single ./cmd/k8s-single-full

# up: a single-node cluster with the defaults (root): on this machine when systemd is
# PID 1, else in a systemd-nspawn machine (k8s-single machine up). Installs what the
# build needs first (apt-get, Go >= 1.26). down: undo it (reset, or machine down --purge).
up:
	CACHE_DIR=$(CACHE_DIR) hack/up.sh up

down:
	CACHE_DIR=$(CACHE_DIR) hack/up.sh down

# test: formatting, vet and every unit test (no root, no network).
test: lint
	$(GO) test -count=1 ./...

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needs to run on:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

# binaries: build the 8 binaries, containerd, runc and the CNI plugins from source into
# the cache (cold ~25 min on 2 cores, warm seconds).
binaries: build
	$(BIN) build --cache-dir $(CACHE_DIR)

# integration: real etcd and control plane from the rendered units (root).
integration: binaries
	K8S_SINGLE_BIN_DIR=$$($(BIN) build --cache-dir $(CACHE_DIR) --print-dir) \
		$(GO) test -count=1 -tags integration -v -timeout 30m ./test/integration/

# images: the offline image bundle (pause, CoreDNS, metrics-server, agent) built from source.
images: build
	$(BIN) images build --out $(CACHE_DIR)/images --cache-dir $(CACHE_DIR)

# kube-bench: the CIS benchmark tool the smoke tier's cis step runs, built from
# the Go module proxy into $(CACHE_DIR)/kube-bench/<version> (cold minutes, warm < 0.1 s).
kube-bench:
	CACHE_DIR=$(CACHE_DIR) test/smoke/kube-bench/build.sh

# smoke: the whole cluster under real systemd in a `k8s-single machine` (systemd-nspawn;
# root): machine up --no-up from the smoke rootfs, the scenario, machine down --purge.
smoke: binaries images kube-bench
	test/smoke/run.sh

# smoke-upgrade: the upgrade tier (root): the nspawn node installs the release of
# test/smoke/upgrade-from.yaml (built once into the cache like the other), refuses a
# two-minor jump and a downgrade, survives an apiserver that cannot start on the new
# release (rolled back), upgrades to the defaults and checks the cluster, then
# returns to the backup taken before the upgrade (upgrade rollback).
UPGRADE_FROM = test/smoke/upgrade-from.yaml
smoke-upgrade: binaries images
	OLD_BIN_DIR=$$($(BIN) -c $(UPGRADE_FROM) build --cache-dir $(CACHE_DIR) --print-dir) \
	OLD_KUBERNETES_VERSION=$$(sed -n 's/^kubernetesVersion: //p' $(UPGRADE_FROM)) \
	OLD_ETCD_VERSION=$$(sed -n 's/^etcdVersion: //p' $(UPGRADE_FROM)) \
	STEPS="boot up-old upgrade-refused upgrade-fault upgrade runtime-fault noop-up status nodes pods image-volume metrics upgrade-rollback" \
	test/smoke/run.sh

# machine-test: `k8s-single machine` end to end (root): up, the host's kubectl through
# the forwarded port, status, shell, down and up again, down --purge, host clean.
machine-test: binaries images
	test/machine/run.sh

# vagrant: the same scenario in a VM driven by vagrant + vagrant-libvirt (root;
# qemu under TCG here: slow, see test/vagrant/README.md). SCENARIO=full|minimal.
vagrant: binaries images
	test/vagrant/run.sh

# bench-up: BENCH (5) fresh `up`s in the nspawn tier, each after `reset --purge`, with
# BENCH_SERIAL=1 (the default) each also with `up --serial`: medians and spreads of the
# verified time, Node Ready, every phase and the components' own waits (root).
bench-up: binaries images kube-bench
	STEPS="boot up bench" BENCH=$${BENCH:-5} BENCH_SERIAL=$${BENCH_SERIAL:-1} TIMEOUT=$${TIMEOUT:-3600} test/smoke/run.sh

bench:
	$(GO) test -run '^$$' -bench . -benchtime 5x ./internal/...

# bench-cli: start-up figures (root; a real etcd): `k8s-single etcd health`
# against `etcdctl endpoint health` on the same etcd, and `k8s-single version`
# with its Go package initialisation; medians of 3 x 20 runs. With
# K8S_SINGLE_BASELINE=/path/to/another/k8s-single (e.g. main's build), that one
# runs in the same rotation: a before/after figure from one run.
bench-cli: binaries
	K8S_SINGLE_BIN_DIR=$$($(BIN) build --cache-dir $(CACHE_DIR) --print-dir) \
		$(GO) test -count=3 -tags integration -run '^$$' -bench 'CLI$$' -benchtime 20x ./test/integration/

fuzz:
	$(GO) test -run '^$$' -fuzz FuzzParse -fuzztime 60s ./internal/config/

clean:
	rm -rf bin
