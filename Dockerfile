# Multi-stage build: a static binary on a distroless, non-root base.
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY cmd/ cmd/
COPY pkg/ pkg/
ARG VERSION=v0.0.0-dev
RUN CGO_ENABLED=0 go build -trimpath \
    -ldflags "-s -w -X github.com/endpoints-controller/endpoints-controller/pkg/version.Version=${VERSION}" \
    -o /out/endpoints-controller ./cmd/endpoints-controller

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/endpoints-controller /endpoints-controller
USER 65532:65532
EXPOSE 8080 8081
ENTRYPOINT ["/endpoints-controller"]
