# Multi-stage build: a static binary on a distroless, non-root base.
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY cmd/ cmd/
COPY pkg/ pkg/
ARG VERSION=v0.0.0-dev
ARG REVISION=unknown
RUN CGO_ENABLED=0 go build -trimpath \
    -ldflags "-s -w -X github.com/endpoints-controller/endpoints-controller/pkg/version.Version=${VERSION} -X github.com/endpoints-controller/endpoints-controller/pkg/version.Revision=${REVISION}" \
    -o /out/endpoints-controller ./cmd/endpoints-controller

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/endpoints-controller /endpoints-controller
USER 65532:65532
# HTTPS: /metrics (authorized), /healthz /readyz /livez.
EXPOSE 10267
ENTRYPOINT ["/endpoints-controller"]
