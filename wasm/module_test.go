package wasm

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// TestModuleIsReproducible rebuilds the module with the flags of wasm.mk
// and fails when the committed wasm/stigaudit.wasm differs: the embedded
// module must always be the build of the current source.
func TestModuleIsReproducible(t *testing.T) {
	if testing.Short() {
		t.Skip("rebuilding the module takes a while; skipped with -short")
	}
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command to rebuild the module with")
	}
	out := filepath.Join(t.TempDir(), "stigaudit.wasm")
	cmd := exec.Command(gobin, "build", "-trimpath", "-buildvcs=false", "-buildmode=c-shared",
		"-ldflags=-s -w -buildid=", "-o", out, "./guest")
	cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm")
	if msg, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, msg)
	}
	built, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(built, Module()) {
		t.Fatalf("wasm/stigaudit.wasm (%d bytes) is not the build of the current source (%d bytes): run `make wasm` and commit it", len(Module()), len(built))
	}
}

// TestModuleExports: the module has every export of ABI v1.
func TestModuleExports(t *testing.T) {
	r := newRuntime(t, Config{PoolSize: 1})
	exports := r.compiled.ExportedFunctions()
	for _, name := range []string{"_initialize", "abi_version", "alloc", "free", "build_event", "emit", "classify",
		"merge_detail", "canonicalize", "leaf_hash", "merkle_root", "verify_inclusion", "verify_consistency", "verify_checkpoint"} {
		if _, ok := exports[name]; !ok {
			t.Errorf("the module does not export %s", name)
		}
	}
	imports := map[string]bool{}
	for _, f := range r.compiled.ImportedFunctions() {
		mod, name, _ := f.Import()
		imports[mod+"."+name] = true
	}
	for _, name := range []string{"stigaudit.clock_now", "stigaudit.store_append", "wasi_snapshot_preview1.random_get"} {
		if !imports[name] {
			t.Errorf("the module does not import %s", name)
		}
	}
}
