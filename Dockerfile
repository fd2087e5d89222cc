# syntax=docker/dockerfile:1

# Build:  docker build -t todo-backend .
# Run:    see docker-compose.yml (MongoDB replica set + PostgreSQL + the app).

# ---- build stage -----------------------------------------------------------
FROM golang:1.26-bookworm AS build
WORKDIR /src

# Modules first, in their own layer: it is rebuilt only when go.mod/go.sum change,
# not on every source edit.
COPY go.mod go.sum ./
RUN go mod download && go mod verify

COPY . .
# CGO off: a static binary (the embedded SQLite stores are pure Go) that runs on any base.
# The build cache mount keeps rebuilds incremental without landing in a layer.
RUN --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 GOFLAGS=-buildvcs=false \
    go build -trimpath -ldflags="-s -w" -o /out/todo ./cmd/todo

# DATA_DIR for the non-root user. Production keeps everything in MongoDB/PostgreSQL,
# but the directory must exist and be writable if anything falls back to it.
RUN mkdir -p /out/data

# ---- final stage -----------------------------------------------------------
# Alpine rather than distroless: the image needs an HTTP client for the container
# health check on /v1/health (busybox wget), and the binary has no health-check
# subcommand. Alpine also ships the CA bundle needed for Google sign-in over TLS.
FROM alpine:3.22

# A fixed, unprivileged uid/gid, so volume ownership is predictable.
RUN addgroup -S -g 10001 todo && adduser -S -D -H -u 10001 -G todo todo

COPY --from=build /out/todo /todo
COPY --from=build --chown=10001:10001 /out/data /data

ENV PORT=8000 \
    DATA_DIR=/data
WORKDIR /data
USER 10001:10001
EXPOSE 8000

HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
    CMD wget -q -O /dev/null "http://127.0.0.1:${PORT}/v1/health" || exit 1

ENTRYPOINT ["/todo"]
CMD ["serve"]
