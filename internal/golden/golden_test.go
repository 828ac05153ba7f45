package golden

import (
	"os"
	"path/filepath"
	"testing"
)

// recorder is a testing.TB that records a failure instead of stopping the
// test that uses it.
type recorder struct {
	testing.TB
	failed bool
}

func (r *recorder) Fatalf(string, ...any) { r.failed = true }
func (r *recorder) Fatal(...any)          { r.failed = true }
func (r *recorder) Helper()               {}

func TestCheck(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "v.json")
	for _, tc := range []struct {
		name     string
		content  string
		update   bool
		wantFail bool
	}{
		{"missing file", "a", false, true},
		{"update creates it", "a", true, false},
		{"same content", "a", false, false},
		{"different content", "b", false, true},
		{"update rewrites it", "b", true, false},
		{"now the same", "b", false, false},
	} {
		r := &recorder{TB: t}
		Check(r, path, []byte(tc.content), tc.update, "go test -update")
		if r.failed != tc.wantFail {
			t.Fatalf("%s: failed=%v, want %v", tc.name, r.failed, tc.wantFail)
		}
	}
	if b, _ := os.ReadFile(path); string(b) != "b" {
		t.Fatalf("file holds %q, want %q", b, "b")
	}
}
