# stigaudit — one target, one job. `make run` and `make test` are the two
# commands a new user needs; the rest are for the people who build it.

GO        ?= go
BIN       := bin/stigaudit
DATA_DIR  ?= ./data
LISTEN    ?= 127.0.0.1:8470
FUZZTIME  ?= 20s
# Packages whose own concurrency (group commit, notifier, pools, caches,
# fan-out) is tested again under the race detector. Packages whose tests
# mostly drive subprocesses, a browser or a million rows are left out: the
# detector would only make them slow.
RACE_PKGS := . ./server ./hostfns/appendq ./hostfns/memstore ./hostfns/sqlitestore ./hostfns/storetest \
	./server/api ./server/auth ./server/metrics ./server/sink ./server/stream \
	./server/tlog ./server/redact ./server/retention ./hostfns/pgstore ./wasm/

.PHONY: all build run test test-race bench bench-peers lint fuzz check clean

.DEFAULT_GOAL := build

# The WebAssembly module and its JS host add their own targets and append
# to BUILD_PREREQS (built before the server, which embeds the module) and
# TEST_EXTRA (run by `make test` after the Go tests).
BUILD_PREREQS :=
TEST_EXTRA    :=
-include wasm/wasm.mk

all: build

## build: compile the server binary into bin/
build: $(BUILD_PREREQS)
	$(GO) build -trimpath -o $(BIN) ./server/cmd/stigaudit

## run: build, then serve on the embedded SQLite default (prints where the admin key is)
run: build
	$(BIN) serve --listen $(LISTEN) --data-dir $(DATA_DIR)

## test: every test, then the concurrent packages again under -race
test:
	$(GO) vet ./...
	$(GO) test -count=1 ./...
	$(GO) test -count=1 -race $(RACE_PKGS)
	@for t in $(TEST_EXTRA); do $(MAKE) --no-print-directory $$t || exit 1; done

## bench: Go benchmarks, then the end-to-end emit benchmark with its baseline
bench: build
	$(GO) test -run '^$$' -bench . -benchmem ./core/... ./hostfns/...
	$(BIN) bench emit --concurrency 64 --events 50000 --baseline --json

## bench-peers: stigaudit side by side with the seed's emit path and tessera's POSIX log (same disk, fsync, event; a few minutes)
PEERS_FLAGS ?=
bench-peers:
	cd bench/peers && $(GO) run . $(PEERS_FLAGS)

## lint: gofmt, goimports, vet and staticcheck (pinned; fetched by go run)
GOIMPORTS   ?= $(GO) run golang.org/x/tools/cmd/goimports@v0.52.0
STATICCHECK ?= $(GO) run honnef.co/go/tools/cmd/staticcheck@v0.8.2
lint:
	@out=$$(gofmt -l $$(git ls-files '*.go') 2>&1); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	@out=$$($(GOIMPORTS) -local github.com/stigaudit/stigaudit -l $$(git ls-files '*.go') 2>&1); if [ -n "$$out" ]; then echo "goimports needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(STATICCHECK) ./...

## fuzz: each fuzz target for FUZZTIME
fuzz:
	@for pkg in $$($(GO) list ./...); do \
	  for f in $$($(GO) test -list '^Fuzz' $$pkg 2>/dev/null | grep '^Fuzz'); do \
	    echo "== $$pkg $$f"; $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; \
	  done; \
	done

## check: lint, regenerate the test vectors and the SHA-256 block function, and fail when anything drifted
check: lint
	$(GO) run ./internal/genvectors
	$(GO) run ./internal/gensha256 -o core/sha256s/block.go
	git diff --exit-code -- core/testdata core/sha256s

clean:
	rm -rf bin
