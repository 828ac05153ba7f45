package export_test

import (
	"io"
	"testing"

	"github.com/stigaudit/stigaudit/hostfns/memstore"
	"github.com/stigaudit/stigaudit/server/export"
)

// BenchmarkFormats writes the same 100,000 events from memory through
// Write as NDJSON and as OCSF, so that the two rates compare in one run
// without a store or HTTP in the way (BenchmarkExport in server/exportapi
// measures them over HTTP from SQLite).
func BenchmarkFormats(b *testing.B) {
	const n = 100_000
	s := memstore.New()
	for i := 0; i < n; i += 1000 {
		if _, err := s.Append(ctx, testEvents(i, 1000)); err != nil {
			b.Fatal(err)
		}
	}
	for _, bc := range []struct {
		name string
		f    func(io.Writer) export.Format
	}{
		{"ndjson", func(w io.Writer) export.Format { return export.NewNDJSON(w) }},
		{"ocsf", func(w io.Writer) export.Format { return export.NewOCSF(w, "stigaudit/bench") }},
	} {
		b.Run(bc.name, func(b *testing.B) {
			var events int64
			for b.Loop() {
				st, err := export.Write(ctx, s, bc.f(io.Discard), export.Options{Checkpoint: []byte("cp"), Size: n})
				if err != nil {
					b.Fatal(err)
				}
				events += st.Events
			}
			b.ReportMetric(float64(events)/b.Elapsed().Seconds(), "events/s")
		})
	}
}
