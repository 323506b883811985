# The image `make image` builds without Docker (hack/image), built with
# Docker: the same go build, files and config. `make image-test` checks this
# file against the image make image built (hack/image/dockerfile_test.go).
FROM --platform=$BUILDPLATFORM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY cmd/ cmd/
COPY pkg/ pkg/
ARG VERSION=v0.0.0-dev
ARG REVISION=unknown
ARG TARGETOS
ARG TARGETARCH
# The Makefile's GO_BUILD, cross-compiled for the target platform.
RUN CGO_ENABLED=0 GOOS=${TARGETOS} GOARCH=${TARGETARCH} go build -trimpath -buildvcs=false \
    -ldflags "-s -w -X github.com/endpoints-controller/endpoints-controller/pkg/version.Version=${VERSION} -X github.com/endpoints-controller/endpoints-controller/pkg/version.Revision=${REVISION}" \
    -o /out/endpoints-controller ./cmd/endpoints-controller

# What distroless/static's :nonroot would give this binary, no more: the user
# nonroot (65532) in /etc/passwd and /etc/group. No CA bundle (in a cluster
# the ServiceAccount's CA is used), no shell, no tzdata.
FROM scratch
COPY hack/image/rootfs/ /
COPY --from=build /out/endpoints-controller /endpoints-controller
USER 65532:65532
# HTTPS: /metrics (authorized), /healthz /readyz /livez.
EXPOSE 10267/tcp
ENTRYPOINT ["/endpoints-controller"]
ARG VERSION=v0.0.0-dev
ARG REVISION=unknown
ARG CREATED=1970-01-01T00:00:00Z
LABEL org.opencontainers.image.title="endpoints-controller" \
      org.opencontainers.image.source="https://github.com/endpoints-controller/endpoints-controller" \
      org.opencontainers.image.licenses="NOASSERTION" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.created="${CREATED}"
