package exportapi_test

import (
	"bytes"
	"io"
	"net/url"
	"os"
	"strconv"
	"testing"
	"time"
)

// lineCounter discards what it is given and counts lines.
type lineCounter struct{ lines int }

func (w *lineCounter) Write(p []byte) (int, error) {
	w.lines += bytes.Count(p, []byte{'\n'})
	return len(p), nil
}

// BenchmarkExport measures export throughput from SQLite over HTTP: the
// client only counts lines, so the numbers are the server's. The log holds
// STIGAUDIT_BENCH_EVENTS events (default 1,000,000) of one tenant; a
// tenant export of NDJSON carries an inclusion proof per line, an admin
// export of the whole log none. The ocsf cases export the same log as
// OCSF records, so the two formats' rates compare in one run.
func BenchmarkExport(b *testing.B) {
	total := 1_000_000
	if v := os.Getenv("STIGAUDIT_BENCH_EVENTS"); v != "" {
		total, _ = strconv.Atoi(v)
	}
	n := newNode(b, nodeOpts{fill: total, tenants: []string{"acme"}})
	auditor := n.key(b, "acme", "urn:auditor", "audit.read")
	admin := n.key(b, "ops", "urn:root", "admin")
	until := "until=" + url.QueryEscape(fillEnd)
	for _, bc := range []struct {
		name, key, query string
	}{
		{"csv/tenant", auditor, "format=csv&" + until},
		{"csv/redacted", auditor, "format=csv&redact=hmac&" + until},
		{"ndjson/all", admin, "format=ndjson"},
		{"ndjson/tenant-proofs", auditor, "format=ndjson&" + until},
		{"ocsf/all", admin, "format=ocsf"},
		{"ocsf/tenant-proofs", auditor, "format=ocsf&" + until},
	} {
		b.Run(bc.name, func(b *testing.B) {
			events := 0
			var elapsed time.Duration
			for b.Loop() {
				start := time.Now()
				resp := n.do(b, "GET", "/v1/audit/export?"+bc.query, bc.key, nil)
				var lc lineCounter
				if _, err := io.Copy(&lc, resp.Body); err != nil {
					b.Fatal(err)
				}
				resp.Body.Close()
				elapsed += time.Since(start)
				events += lc.lines - 1 // the header row or the checkpoint line
			}
			b.ReportMetric(float64(events)/elapsed.Seconds(), "events/s")
		})
	}
}
