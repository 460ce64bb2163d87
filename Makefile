SHELL := /bin/bash
# liveswap — build, test, demo.
# VERSION is stamped into both binaries; later steps build an "old" and a
# "new" liveswapd from the same tree by changing it.
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
GO      ?= go
LDFLAGS  = -X main.version=$(VERSION)
# The shim runs once per container: no symbol tables, no build paths.
SHIMFLAGS = -trimpath -ldflags "-s -w $(LDFLAGS)"
BIN     ?= bin
PREFIX  ?= /usr/local

.PHONY: all build install test unit e2e demo demo-liveswapd lint deps bench clean

all: build

build:
	$(GO) build -ldflags "$(LDFLAGS)" -o $(BIN)/liveswap ./cmd/liveswap
	$(GO) build -ldflags "$(LDFLAGS)" -o $(BIN)/liveswapd ./cmd/liveswapd
	$(GO) build $(SHIMFLAGS) -o $(BIN)/liveswapd-shim ./cmd/liveswapd-shim

# install puts liveswap, liveswapd and liveswapd-shim in $(PREFIX)/bin, where
# runtime/liveswapd.service runs liveswapd; liveswapd starts containers with
# the liveswapd-shim beside it, so the two go together.
install: build
	install -o root -m 0755 $(BIN)/liveswap $(BIN)/liveswapd $(BIN)/liveswapd-shim $(PREFIX)/bin/

# deps installs the Debian packages the end-to-end tests and the demo use.
deps:
	bash e2e/install-deps.sh

# test runs every test, end-to-end ones included; LIVESWAP_E2E=require turns
# a missing prerequisite into a failure instead of a skip.
# Packages run one at a time (-p 1): the end-to-end ones start daemons and
# time their readiness, which two packages at once on two cores would skew.
test: deps lint
	@mkdir -p $(BIN)
	LIVESWAP_E2E=require $(GO) test -p 1 -count=1 -timeout 60m -v ./... 2>&1 | tee $(BIN)/test.log; exit $${PIPESTATUS[0]}

unit:
	$(GO) test -count=1 ./...

e2e: deps
	LIVESWAP_E2E=require $(GO) test -count=1 -timeout 60m -v ./e2e/...

# demo plays the live-restore case study on real Debian builds: dockerd
# 20.10.5 with live restore off -> enable-live-restore -> patch upgrade to
# 20.10.24 with nginx and redis serving -> the negative control. It runs
# under Debian's own units in a namespace of its own and cleans up after
# itself.
demo: deps build
	$(BIN)/liveswap demo docker

# demo-liveswapd upgrades the bundled liveswapd 1.0.0 -> 1.0.1 the same way.
demo-liveswapd: deps build
	$(GO) build -ldflags "-X main.version=1.0.0" -o $(BIN)/demo/liveswapd-1.0.0 ./cmd/liveswapd
	$(GO) build -ldflags "-X main.version=1.0.1" -o $(BIN)/demo/liveswapd-1.0.1 ./cmd/liveswapd
	$(GO) build -trimpath -ldflags "-s -w -X main.version=1.0.0" -o $(BIN)/demo/liveswapd-shim ./cmd/liveswapd-shim
	$(BIN)/liveswap demo --old $(BIN)/demo/liveswapd-1.0.0 --new $(BIN)/demo/liveswapd-1.0.1

# bench runs the Go micro-benchmarks, then measures `liveswap apply` beside a
# bare restart on liveswapd and dockerd (e2e/bench/upgrade: root, about 5
# minutes); tables on stdout and in bin/bench-upgrade.md, JSON in
# bin/bench-upgrade.json. It exits 1 when a sanity check fails (failed
# probes, no bare-restart baseline); BENCHFLAGS=-strict fails on a missed
# target too. Then e2e/bench/runtime (root, about 5 minutes): liveswapd's
# restore time with up to 1000 live containers beside dockerd's, and the
# footprint per container of liveswapd's shim, conmon and
# containerd-shim-runc-v2 (bin/bench-runtime.md).
BENCHFLAGS ?=
bench: deps
	@mkdir -p $(BIN)
	$(GO) test -run '^$$' -bench . -benchtime 1000x ./upgrade/ ./internal/host/probe/
	$(GO) run ./e2e/bench/upgrade -json $(BIN)/bench-upgrade.json $(BENCHFLAGS) | tee $(BIN)/bench-upgrade.md; exit $${PIPESTATUS[0]}
	$(GO) run ./e2e/bench/runtime | tee $(BIN)/bench-runtime.md; exit $${PIPESTATUS[0]}

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

clean:
	rm -rf $(BIN)
