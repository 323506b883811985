# endpoints-controller — the two commands a newcomer needs are `make run`
# (a local cluster with this controller and examples) and `make test`.
SHELL := /usr/bin/env bash
.SHELLFLAGS := -euo pipefail -c

VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo v0.0.0-dev)
REVISION ?= $(shell git rev-parse HEAD 2>/dev/null || echo unknown)
LDFLAGS := -s -w -X github.com/endpoints-controller/endpoints-controller/pkg/version.Version=$(VERSION) -X github.com/endpoints-controller/endpoints-controller/pkg/version.Revision=$(REVISION)
IMAGE ?= endpoints-controller:$(VERSION)
BIN := bin/endpoints-controller
# Real etcd, kube-apiserver, kube-controller-manager, kwok… built from Go modules.
TESTBIN = $(shell hack/install-testbin.sh | tail -n1)
GO_TEST_FLAGS ?=

.PHONY: all build test unit integration e2e parity consumers vet fmt testbin run bench image clean help

all: build

help: ## Show the targets.
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'

build: ## Build bin/endpoints-controller.
	CGO_ENABLED=0 go build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/endpoints-controller

testbin: ## Build the real control plane binaries into _output/testbin.
	hack/install-testbin.sh

vet: ## go vet and gofmt.
	go vet ./...
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed: $$out"; exit 1; fi

unit: ## Unit tests (no control plane).
	go test $(GO_TEST_FLAGS) ./pkg/... ./cmd/...

test: vet build ## Every test: unit, integration, parity, e2e and consumers against a real control plane.
	@# deploy/recipes against kubeadm's and kind's types; the testbin's build
	@# flags, so kubeadm's packages come from its build cache.
	cd hack/tools && CGO_ENABLED=0 go test -trimpath -count=1 $(GO_TEST_FLAGS) ./recipes/
	TESTBIN_DIR=$(TESTBIN) go test -count=1 $(GO_TEST_FLAGS) -p 1 -timeout 40m ./...
	@# The suites that prove Endpoints again, with the non-default pod decoder.
	ENDPOINTS_CONTROLLER_TEST_POD_DECODER=standard TESTBIN_DIR=$(TESTBIN) \
		go test -count=1 $(GO_TEST_FLAGS) -p 1 -timeout 30m ./test/integration/... ./test/parity/...
	@# Consumers of Endpoints, in their own module (Prometheus' dependencies).
	cd test/consumers && go vet ./... && TESTBIN_DIR=$(TESTBIN) go test -count=1 $(GO_TEST_FLAGS) -timeout 10m ./...

integration: build ## Integration tests only.
	TESTBIN_DIR=$(TESTBIN) go test -count=1 $(GO_TEST_FLAGS) -timeout 20m ./test/integration/...

parity: build ## Differential test against the built-in controller.
	TESTBIN_DIR=$(TESTBIN) go test -count=1 $(GO_TEST_FLAGS) -timeout 20m -v -run Parity ./test/parity/...

consumers: ## Prometheus' Kubernetes SD (role endpoints) reads the same with the built-in and ours (own module: test/consumers).
	cd test/consumers && go vet ./... && TESTBIN_DIR=$(TESTBIN) go test -count=1 $(GO_TEST_FLAGS) -timeout 10m -v ./...

e2e: build ## End-to-end tests: our binary in a local cluster with kwok nodes.
	TESTBIN_DIR=$(TESTBIN) go test -count=1 $(GO_TEST_FLAGS) -timeout 10m -v ./test/e2e/...

run: build ## Local cluster + this controller + examples (Ctrl-C stops everything; DEMO_EXIT_AFTER=60s to stop by itself).
	@# Built with the controller's flags (-trimpath, no cgo) so that the
	@# client-go packages compiled for bin/ are reused, not compiled again.
	CGO_ENABLED=0 go build -trimpath -o bin/run-local ./hack/run-local
	TESTBIN_DIR=$$(hack/install-testbin.sh --demo | tail -n1) bin/run-local -controller=$(BIN)

bench: build ## Side-by-side benchmarks with the built-in (~30 min on 2 cores; BENCH_WORKLOADS=small,... and BENCH_OURS=ours,ours-standard,ours-speed to pick); writes docs/benchmarks.md.
	BENCH=1 TESTBIN_DIR=$(TESTBIN) go test -timeout 60m -count=1 -v -run '^TestBench$$' ./test/bench/

image: ## Build the container image (needs a Docker engine).
	docker build --build-arg VERSION=$(VERSION) --build-arg REVISION=$(REVISION) -t $(IMAGE) .

clean: ## Remove build outputs (keeps the testbin cache).
	rm -rf bin
