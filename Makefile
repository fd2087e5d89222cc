# The project's vocabulary. `make test` is the test command CI runs.
GO ?= go

.PHONY: run test test-short lint generate bench build tidy

run: ## start the service with embedded stores (no MongoDB or PostgreSQL needed)
	$(GO) run ./cmd/todo

build: ## build the todo binary into ./bin
	$(GO) build -trimpath -o bin/todo ./cmd/todo

test: ## every test, against real MongoDB-wire and PostgreSQL servers
	$(GO) test -race -count=1 -timeout 15m ./...

lint: ## formatting, vet and golangci-lint (config in .golangci.yml)
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || (gofmt -l $$(git ls-files '*.go'); exit 1)
	$(GO) vet ./...
	golangci-lint run ./...

generate: ## regenerate gqlgen code (graph/, models/models_gen.go, resolver stubs)
	$(GO) generate ./...

bench: ## throughput, latency, CPU and memory against real servers (SPEC §7); see BENCHMARKS.md
	$(GO) run ./cmd/bench

tidy:
	$(GO) mod tidy
