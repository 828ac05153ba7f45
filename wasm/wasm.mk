# wasm/wasm.mk — the WebAssembly module and its JS host. Included by the
# top-level Makefile before its rules.
#
#   make wasm     rebuild wasm/stigaudit.wasm (committed; see README.md, "Using the core from other languages")
#   make test-js  run the Node tests of the JS loader (skipped without node)

WASM_MODULE := wasm/stigaudit.wasm
# Reproducible: no paths, no VCS stamp, no build id. The committed module
# must equal a fresh build (TestModuleIsReproducible checks it).
WASM_FLAGS  := -trimpath -buildvcs=false -buildmode=c-shared -ldflags='-s -w -buildid='
NODE        ?= node

.PHONY: wasm test-js

## wasm: build the WebAssembly module wasm/stigaudit.wasm
wasm:
	GOOS=wasip1 GOARCH=wasm $(GO) build $(WASM_FLAGS) -o $(WASM_MODULE) ./wasm/guest

## test-js: the JS loader's tests under Node (node --test); without Node they
## skip, unless STIGAUDIT_REQUIRE_NODE=1 (CI), which makes that a failure
test-js:
	@if command -v $(NODE) >/dev/null 2>&1; then \
	  $(NODE) --test wasm/js/test/; \
	elif [ "$$STIGAUDIT_REQUIRE_NODE" = 1 ]; then \
	  echo "test-js: FAILED — node is not installed and STIGAUDIT_REQUIRE_NODE=1"; exit 1; \
	else \
	  echo "test-js: SKIPPED — node is not installed (the JS loader was not tested)"; \
	fi

BUILD_PREREQS += wasm
TEST_EXTRA    += test-js
