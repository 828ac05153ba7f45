// Package golden is test support for generated files that are committed —
// the vectors every host replays: a test generates the file's content,
// and Check either compares it with the committed file or, when the test
// runs with -update, rewrites the file.
package golden

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// Check compares want with the file at path and fails the test when they
// differ, naming rerun, the command that rewrites the file. With update
// it writes want to path (creating its directory) instead.
func Check(t testing.TB, path string, want []byte, update bool, rerun string) {
	t.Helper()
	if update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, want, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run `%s` to create it)", err, rerun)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s differs from what the test generates; run `%s` and review the diff", path, rerun)
	}
}
