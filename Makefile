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

# The linter and graphql-js come from test/schema-lint's lockfile; npm ci runs
# again only when the lockfile is newer than what it installed.
SCHEMA_LINT := test/schema-lint
.PHONY: schema-lint
schema-lint: $(SCHEMA_LINT)/node_modules/.package-lock.json ## graphql-schema-linter over the introspected schema, 0 findings (rules in test/schema-lint/)
	node $(SCHEMA_LINT)/lint.mjs

$(SCHEMA_LINT)/node_modules/.package-lock.json: $(SCHEMA_LINT)/package.json $(SCHEMA_LINT)/package-lock.json
	cd $(SCHEMA_LINT) && npm ci --no-audit --no-fund

# GraphiQL for /playground, from the npm packages pinned in web/playground:
# `npm ci` fetches each at its lockfile version and checks it against the
# lockfile's sha512 `integrity` (no install scripts run), then build.mjs
# bundles them into internal/server/playground/, which the binary embeds and
# git keeps (`go build` needs no network). The -check target rebuilds in
# memory and fails unless the result matches the committed SHA256SUMS.
PLAYGROUND := web/playground
.PHONY: playground-assets playground-assets-check
playground-assets: ## fetch (integrity-checked) and bundle the playground's GraphiQL into internal/server/playground/
	cd $(PLAYGROUND) && npm ci --ignore-scripts --no-audit --no-fund
	node $(PLAYGROUND)/build.mjs

playground-assets-check: ## rebuild the playground's assets from the lockfile; fail unless they match what is committed
	cd $(PLAYGROUND) && npm ci --ignore-scripts --no-audit --no-fund
	node $(PLAYGROUND)/build.mjs --check

generate: ## regenerate gqlgen code (graph/, models/models_gen.go, resolver stubs)
	$(GO) generate ./...

bench: ## throughput, latency, CPU and memory against real servers (SPEC §7); see BENCHMARKS.md
	$(GO) run ./cmd/bench

tidy:
	$(GO) mod tidy
