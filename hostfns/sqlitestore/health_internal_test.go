package sqlitestore

import (
	"path/filepath"
	"testing"
)

// BenchmarkCheckFile is what the writer pays before every COMMIT to know
// its database is still the file it opened: one stat. Compare with the
// group commit it guards (BenchmarkAppendParallel; the figures are in
// docs/decisions.md#17-one-history-the-signed-checkpoint-is-pinned-outside-the-database).
func BenchmarkCheckFile(b *testing.B) {
	s, err := Open(filepath.Join(b.TempDir(), "audit.db"), Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	b.ReportAllocs()
	for b.Loop() {
		if err := s.health.checkFile(); err != nil {
			b.Fatal(err)
		}
	}
}
