package exportapi_test

import (
	"bufio"
	"crypto/sha256"
	"encoding/csv"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"strconv"
	"testing"
	"time"

	"github.com/stigaudit/stigaudit/hostfns/sqlitestore"
	"github.com/stigaudit/stigaudit/server/export"
)

// largeExport is the size of the large-export tests: STIGAUDIT_EXPORT_EVENTS,
// or 100,000 by default so that a plain `go test` stays quick on a shared
// machine (STIGAUDIT_EXPORT_EVENTS=1000000 go test -run Large
// ./server/exportapi for a million). It is skipped with -short.
func largeExport(t testing.TB) int {
	if testing.Short() {
		t.Skip("the large export is skipped with -short")
	}
	if v := os.Getenv("STIGAUDIT_EXPORT_EVENTS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			t.Fatalf("STIGAUDIT_EXPORT_EVENTS=%q", v)
		}
		return n
	}
	return 100_000
}

// heapPeak samples the live heap every few milliseconds until stopped and
// returns the largest value seen.
type heapPeak struct {
	stop chan struct{}
	done chan uint64
}

func heapNow() uint64 {
	s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

func startHeapPeak() *heapPeak {
	h := &heapPeak{stop: make(chan struct{}), done: make(chan uint64, 1)}
	go func() {
		var peak uint64
		tick := time.NewTicker(2 * time.Millisecond)
		defer tick.Stop()
		for {
			peak = max(peak, heapNow())
			select {
			case <-h.stop:
				h.done <- peak
				return
			case <-tick.C:
			}
		}
	}()
	return h
}

func (h *heapPeak) end() uint64 {
	close(h.stop)
	return <-h.done
}

// rowDigest accumulates the identity of exported records (seq and leaf
// hash) in order, so two exports compare without holding either.
type rowDigest struct {
	n    int
	hash [32]byte
	last int64
}

func (d *rowDigest) add(seq int64, leaf string) {
	h := sha256.New()
	h.Write(d.hash[:])
	h.Write(strconv.AppendInt(nil, seq, 10))
	h.Write([]byte(leaf))
	h.Sum(d.hash[:0])
	d.n++
	d.last = seq
}

// readCSVDigest reads up to max records (-1: all) of a CSV export.
func readCSVDigest(t testing.TB, body io.Reader, d *rowDigest, max int) {
	t.Helper()
	r := csv.NewReader(bufio.NewReaderSize(body, 64<<10))
	r.ReuseRecord = true
	if d.n == 0 {
		if _, err := r.Read(); err != nil {
			t.Fatal(err)
		}
	} else if _, err := r.Read(); err != nil { // a resumed export has its own header
		t.Fatal(err)
	}
	for i := 0; max < 0 || i < max; i++ {
		rec, err := r.Read()
		if err == io.EOF {
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		seq, err := strconv.ParseInt(rec[0], 10, 64)
		if err != nil {
			t.Fatal(err)
		}
		d.add(seq, rec[15])
	}
}

// readNDJSONDigest reads up to max events (-1: all) of an NDJSON export.
func readNDJSONDigest(t testing.TB, body io.Reader, d *rowDigest, max int) {
	t.Helper()
	r := export.NewReader(body)
	for i := 0; (max < 0 || i < max) && r.Next(); i++ {
		e := r.Event()
		d.add(e.Seq, string(e.LeafHash[:]))
	}
	if max < 0 && (r.Err() != nil || r.Trailer() == nil) {
		t.Fatalf("ndjson: %v, trailer %v", r.Err(), r.Trailer())
	}
}

// TestExportLargeFlatHeap exports 100,000 events (a million with
// STIGAUDIT_EXPORT_EVENTS=1000000) as CSV and as NDJSON: the heap stays
// flat, and an export interrupted and resumed with after_seq
// yields exactly the records of an uninterrupted one.
func TestExportLargeFlatHeap(t *testing.T) {
	total := largeExport(t)
	start := time.Now()
	n := newNode(t, nodeOpts{fill: total, tenants: []string{"acme"}})
	t.Logf("filled %d events in %v", total, time.Since(start))
	auditor := n.key(t, "acme", "urn:auditor", "audit.read")
	admin := n.key(t, "ops", "urn:root", "admin")
	// The tenant's export is a selection (proofs in NDJSON); the admin's
	// export of every tenant is complete (no proofs needed).
	// The heap of server and client together (both run here) stays flat:
	// a few pages and buffers live, plus the garbage the collector lets
	// pile up (GOGC). A million events held at once would be ~1 GiB.
	const bound = 48 << 20
	for _, tc := range []struct {
		format, key, query string
		read               func(testing.TB, io.Reader, *rowDigest, int)
	}{
		{"csv", auditor, "&until=" + url.QueryEscape(fillEnd), readCSVDigest},
		{"ndjson", admin, "&until=" + url.QueryEscape(fillEnd), readNDJSONDigest},
	} {
		t.Run(tc.format, func(t *testing.T) {
			path := "/v1/audit/export?format=" + tc.format + tc.query
			runtime.GC()
			base := heapNow()
			peak := startHeapPeak()
			began := time.Now()
			var whole rowDigest
			resp := n.do(t, "GET", path, tc.key, nil)
			tc.read(t, resp.Body, &whole, -1)
			resp.Body.Close()
			elapsed := time.Since(began)
			top := peak.end()
			t.Logf("%s: %d events in %v (%.0f events/s), heap %d MiB before, peak %d MiB",
				tc.format, whole.n, elapsed, float64(whole.n)/elapsed.Seconds(), base>>20, top>>20)
			if whole.n != total {
				t.Fatalf("exported %d events, want %d", whole.n, total)
			}
			if top > base+bound {
				t.Fatalf("heap grew from %d to %d MiB during the export (bound %d MiB)", base>>20, top>>20, bound>>20)
			}

			// Interrupt at 40%, resume after the last whole record.
			var parts rowDigest
			resp = n.do(t, "GET", path, tc.key, nil)
			tc.read(t, resp.Body, &parts, total*2/5)
			resp.Body.Close()
			resp = n.do(t, "GET", path+"&after_seq="+strconv.FormatInt(parts.last, 10), tc.key, nil)
			tc.read(t, resp.Body, &parts, -1)
			resp.Body.Close()
			if parts.n != whole.n || parts.hash != whole.hash {
				t.Fatalf("interrupted + resumed: %d records, whole: %d; digests equal: %v", parts.n, whole.n, parts.hash == whole.hash)
			}
		})
	}
}

// TestWriteFixture writes a data directory holding a log of
// STIGAUDIT_EXPORT_EVENTS filled events (tenant acme) to
// STIGAUDIT_FIXTURE_DIR, for measuring the stigaudit binary (peak RSS of
// `serve` during an export); it is skipped unless that is set.
func TestWriteFixture(t *testing.T) {
	dir := os.Getenv("STIGAUDIT_FIXTURE_DIR")
	if dir == "" {
		t.Skip("set STIGAUDIT_FIXTURE_DIR to write a fixture")
	}
	total := largeExport(t)
	store, err := sqlitestore.Open(filepath.Join(dir, "stigaudit.db"), sqlitestore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	fill(t, rawSQLite(t, filepath.Join(dir, "stigaudit.db")), total, []string{"acme"})
}
