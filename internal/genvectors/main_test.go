package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

const testdata = "../../core/testdata"

// TestVectorsUpToDate fails when the checked-in vectors differ from what the
// code produces now. Run `go run ./internal/genvectors` to rewrite them, and
// review the diff: a changed expected value is a changed contract.
func TestVectorsUpToDate(t *testing.T) {
	files, err := generate()
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range files {
		got, err := os.ReadFile(filepath.Join(testdata, name))
		if err != nil {
			t.Errorf("%s: %v (run go run ./internal/genvectors)", name, err)
			continue
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s is out of date: run go run ./internal/genvectors and review the diff", name)
		}
	}
}

// TestVectorsAgreeWithJavaScript replays the vectors with JavaScript's own
// JSON and number semantics (jscheck.mjs), an implementation independent of
// the Go core. It needs node; set STIGAUDIT_REQUIRE_NODE=1 to fail instead of
// skipping without it.
func TestVectorsAgreeWithJavaScript(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		if os.Getenv("STIGAUDIT_REQUIRE_NODE") != "" {
			t.Fatal("node not found")
		}
		t.Skip("node not found; set STIGAUDIT_REQUIRE_NODE=1 to require it")
	}
	out, err := exec.Command(node, "jscheck.mjs", testdata).CombinedOutput()
	if err != nil {
		t.Fatalf("jscheck: %v\n%s", err, out)
	}
	t.Logf("%s", out)
}
