# endpoints-controller — the two commands a newcomer needs are `make run`
# (a local cluster with this controller and examples) and `make test`.
SHELL := /usr/bin/env bash
.SHELLFLAGS := -euo pipefail -c

VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo v0.0.0-dev)
REVISION ?= $(shell git rev-parse HEAD 2>/dev/null || echo unknown)
LDFLAGS := -s -w -X github.com/endpoints-controller/endpoints-controller/pkg/version.Version=$(VERSION) -X github.com/endpoints-controller/endpoints-controller/pkg/version.Revision=$(REVISION)
# The one go build of the controller: bin/, the image's binaries, and (checked
# by hack/image's test) the Dockerfile's. -buildvcs=false: the Docker build has
# no .git, so neither build stamps VCS data and both binaries say the same.
GO_BUILD = CGO_ENABLED=0 go build -trimpath -buildvcs=false -ldflags '$(LDFLAGS)'
# The image: registry/name:tag, the tag from the version, never latest.
REGISTRY ?= ghcr.io/endpoints-controller
IMG ?= $(REGISTRY)/endpoints-controller:$(VERSION)
IMAGE_PLATFORMS ?= linux/amd64 linux/arm64
IMAGE_DIR := _output/image
IMAGE_BIN := _output/image-bin
# The commit's time: the same commit builds the same image, byte for byte.
CREATED ?= $(shell TZ=UTC0 git log -1 --date=format-local:%Y-%m-%dT%H:%M:%SZ --format=%cd 2>/dev/null || echo 1970-01-01T00:00:00Z)
# What make image built, for hack/image's tests.
IMAGE_ENV = IMAGE_LAYOUT=$(abspath $(IMAGE_DIR)) IMAGE_REF=$(IMG) IMAGE_VERSION=$(VERSION) IMAGE_REVISION=$(REVISION) IMAGE_CREATED=$(CREATED)
BIN := bin/endpoints-controller
# Real etcd, kube-apiserver, kube-controller-manager, kwok… built from Go modules.
TESTBIN = $(shell hack/install-testbin.sh | tail -n1)
GO_TEST_FLAGS ?=

.PHONY: all build test unit integration e2e parity parity-slices consumers vet fmt testbin run bench bench-scale image image-env image-test image-docker image-push set-image clean help

all: build

help: ## Show the targets.
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'

build: ## Build bin/endpoints-controller.
	$(GO_BUILD) -o $(BIN) ./cmd/endpoints-controller

testbin: ## Build the real control plane binaries into _output/testbin.
	hack/install-testbin.sh

vet: ## go vet and gofmt.
	go vet ./...
	go -C hack/image vet ./...
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed: $$out"; exit 1; fi

unit: ## Unit tests (no control plane).
	go test $(GO_TEST_FLAGS) ./pkg/... ./cmd/...

test: vet build image-test ## Every test: unit, integration, parity, e2e and consumers against a real control plane; the image.
	@# deploy/recipes against kubeadm's and kind's types; the testbin's build
	@# flags, so kubeadm's packages come from its build cache.
	cd hack/tools && CGO_ENABLED=0 go test -trimpath -count=1 $(GO_TEST_FLAGS) ./recipes/
	TESTBIN_DIR=$(TESTBIN) go test -count=1 $(GO_TEST_FLAGS) -p 1 -timeout 40m ./...
	@# The suites that prove Endpoints again, with the non-default pod decoder.
	ENDPOINTS_CONTROLLER_TEST_POD_DECODER=standard TESTBIN_DIR=$(TESTBIN) \
		go test -count=1 $(GO_TEST_FLAGS) -p 1 -timeout 30m ./test/integration/... ./test/parity/...
	@# The differential suite with ours reading EndpointSlices (~40 s).
	$(MAKE) --no-print-directory parity-slices PARITY_FLAGS=
	@# Consumers of Endpoints, in their own module (Prometheus' dependencies).
	cd test/consumers && go vet ./... && TESTBIN_DIR=$(TESTBIN) go test -count=1 $(GO_TEST_FLAGS) -timeout 10m ./...

integration: build ## Integration tests only.
	TESTBIN_DIR=$(TESTBIN) go test -count=1 $(GO_TEST_FLAGS) -timeout 20m ./test/integration/...

parity: build ## Differential test against the built-in controller.
	TESTBIN_DIR=$(TESTBIN) go test -count=1 $(GO_TEST_FLAGS) -timeout 20m -v -run Parity ./test/parity/...

PARITY_FLAGS ?= -v
parity-slices: ## The differential test with --source=endpointslices, beside the built-in EndpointSlice controller (~40 s).
	ENDPOINTS_CONTROLLER_TEST_SOURCE=endpointslices TESTBIN_DIR=$(TESTBIN) \
		go test -count=1 $(GO_TEST_FLAGS) -timeout 10m $(PARITY_FLAGS) -run 'TestParity$$' ./test/parity/

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

bench-scale: build ## The built-in vs ours (pods and EndpointSlices as the source) at 2k, 20k and 100k pods (~22 min on 2 cores, 16 of them the 100k point; BENCH_SCALE_POINTS=2k,20k to pick); writes docs/benchmarks-scale.md.
	BENCH_SCALE=1 TESTBIN_DIR=$(TESTBIN) go test -timeout 120m -count=1 -v -run '^TestBenchScale$$' ./test/bench/

image: ## Build the image $(IMG) for $(IMAGE_PLATFORMS) into _output/image (OCI layout; no Docker needed).
	for p in $(IMAGE_PLATFORMS); do \
		GOOS=$${p%/*} GOARCH=$${p#*/} $(GO_BUILD) -o $(IMAGE_BIN)/$${p%/*}_$${p#*/}/endpoints-controller ./cmd/endpoints-controller; \
	done
	go -C hack/image run . -o $(abspath $(IMAGE_DIR)) -ref $(IMG) -version $(VERSION) -revision $(REVISION) \
		-created $(CREATED) -binaries $(abspath $(IMAGE_BIN)) -platforms $$(echo $(IMAGE_PLATFORMS) | tr ' ' ,)

image-env: ## Print what make image builds, as the environment hack/image's tests read.
	@echo $(IMAGE_ENV)

image-test: image ## Build the image and check it: config, labels, both binaries, the Dockerfile, deploy/'s reference.
	$(IMAGE_ENV) go -C hack/image test -count=1 $(GO_TEST_FLAGS) ./...

image-docker: ## The same image with a Docker engine (this host's platform), tagged $(IMG).
	docker build --build-arg VERSION=$(VERSION) --build-arg REVISION=$(REVISION) --build-arg CREATED=$(CREATED) -t $(IMG) .

image-push: ## Push what make image built (both platforms) to $(IMG); log in first with `go -C hack/image tool crane auth login`.
	go -C hack/image tool crane push $(abspath $(IMAGE_DIR)) $(IMG)

KUSTOMIZATION ?= deploy/base/kustomization.yaml
set-image: ## Point deploy/base at $(IMG) (at a release: make set-image VERSION=vX.Y.Z).
	sed -i.bak -E 's|^(    newName: ).*|\1$(REGISTRY)/endpoints-controller|; s|^(    newTag: ).*|\1$(VERSION)|' $(KUSTOMIZATION)
	rm $(KUSTOMIZATION).bak

clean: ## Remove build outputs (keeps the testbin cache).
	rm -rf bin $(IMAGE_DIR) $(IMAGE_BIN)
