package sink

import (
	"context"
	"flag"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stigaudit/stigaudit/core/event"
	"github.com/stigaudit/stigaudit/hostfns/sqlitestore"
	"github.com/stigaudit/stigaudit/hostfns/storetest"
)

// testLog is a real SQLite log in a temporary directory: the Dispatcher's
// Log and Cursors. Its events are storetest.NewEvent's, numbered by seq.
type testLog struct {
	*sqlitestore.Store
	path string
}

func openLog(t testing.TB) *testLog {
	t.Helper()
	path := filepath.Join(t.TempDir(), "audit.db")
	s, err := sqlitestore.Open(path, sqlitestore.Options{Synchronous: "NORMAL"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return &testLog{Store: s, path: path}
}

// add appends n events in commits of perCommit and offers each commit to
// d (if non-nil), as the log's observer does after each durable commit.
func (l *testLog) add(t testing.TB, d *Dispatcher, n, perCommit int) {
	t.Helper()
	ctx := context.Background()
	for done := 0; done < n; {
		size, err := l.Size(ctx)
		if err != nil {
			t.Fatal(err)
		}
		k := min(perCommit, n-done)
		stored, err := l.Append(ctx, storetest.NewEvents(int(size), k))
		if err != nil {
			t.Fatal(err)
		}
		if d != nil {
			d.Enqueue(stored)
		}
		done += k
	}
}

func (l *testLog) size(t testing.TB) int64 {
	t.Helper()
	n, err := l.Size(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func (l *testLog) cursor(t testing.TB, s Sink) int64 {
	t.Helper()
	n, err := l.Cursor(context.Background(), CursorName(s))
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// recorder is a Reporter that remembers what it was told.
type recorder struct {
	mu      sync.Mutex
	failed  map[string]int // failed Writes
	lag     map[string]int64
	maxLag  map[string]int64
	reports int
}

func newRecorder() *recorder {
	return &recorder{failed: map[string]int{}, lag: map[string]int64{}, maxLag: map[string]int64{}}
}

func (r *recorder) Failed(sink string, _ int, _ error) {
	r.mu.Lock()
	r.failed[sink]++
	r.mu.Unlock()
}

func (r *recorder) Lag(sink string, n int64) {
	r.mu.Lock()
	r.lag[sink] = n
	r.maxLag[sink] = max(r.maxLag[sink], n)
	r.reports++
	r.mu.Unlock()
}

func (r *recorder) failures(sink string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.failed[sink]
}

func (r *recorder) lagOf(sink string) (last, highest int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.lag[sink], r.maxLag[sink]
}

// checkSeqs fails unless got holds every seq of [from, to), in order: a
// seq may repeat (delivery is at least once) but none may be missing, and
// after a repeat delivery goes on in order.
func checkSeqs(t testing.TB, what string, got []int64, from, to int64) (dups int) {
	t.Helper()
	seen := map[int64]int{}
	for i, s := range got {
		if i > 0 && s <= got[i-1] && seen[s] == 0 {
			t.Errorf("%s: seq %d after %d: out of order", what, s, got[i-1])
			return
		}
		seen[s]++
		if seen[s] > 1 {
			dups++
		}
	}
	for s := from; s < to; s++ {
		if seen[s] == 0 {
			t.Errorf("%s: seq %d missing (of %d..%d; %d delivered)", what, s, from, to-1, len(got))
			return
		}
	}
	for s := range seen {
		if s < from || s >= to {
			t.Errorf("%s: seq %d delivered, outside %d..%d", what, s, from, to-1)
			return
		}
	}
	return dups
}

// seqsOf returns the seqs of events.
func seqsOf(evs []event.Event) []int64 {
	out := make([]int64, len(evs))
	for i := range evs {
		out[i] = evs[i].Seq
	}
	return out
}

// outage is how long the outage tests keep NATS or the webhook receiver
// down; shorten it while iterating with
//
//	go test ./server/sink/ -run Outage -args -sink.outage=2s
var outage = flag.Duration("sink.outage", 10*time.Second, "how long the outage tests stop NATS and the webhook receiver")

// loadGen appends perCommit events to a log every tick and offers each
// commit to a Dispatcher, as the server's emits do, timing each commit
// (Append and Enqueue) under the current phase's name.
type loadGen struct {
	l    *testLog
	d    *Dispatcher
	stop chan struct{}
	done chan struct{}

	mu    sync.Mutex
	phase string
	lat   map[string][]time.Duration
	err   error
}

func startLoad(l *testLog, d *Dispatcher, perCommit int, tick time.Duration) *loadGen {
	g := &loadGen{l: l, d: d, stop: make(chan struct{}), done: make(chan struct{}), phase: "up", lat: map[string][]time.Duration{}}
	go func() {
		defer close(g.done)
		ctx := context.Background()
		t := time.NewTicker(tick)
		defer t.Stop()
		for {
			select {
			case <-g.stop:
				return
			case <-t.C:
			}
			size, err := l.Size(ctx)
			if err != nil {
				g.fail(err)
				return
			}
			t0 := time.Now()
			stored, err := l.Append(ctx, storetest.NewEvents(int(size), perCommit))
			if err != nil {
				g.fail(err)
				return
			}
			d.Enqueue(stored)
			el := time.Since(t0)
			g.mu.Lock()
			g.lat[g.phase] = append(g.lat[g.phase], el)
			g.mu.Unlock()
		}
	}()
	return g
}

func (g *loadGen) fail(err error) {
	g.mu.Lock()
	g.err = err
	g.mu.Unlock()
}

func (g *loadGen) setPhase(p string) {
	g.mu.Lock()
	g.phase = p
	g.mu.Unlock()
}

// finish stops the load and fails the test if an append failed.
func (g *loadGen) finish(t testing.TB) {
	t.Helper()
	close(g.stop)
	<-g.done
	if g.err != nil {
		t.Fatal(g.err)
	}
}

// quantile returns the q-quantile of the commit latencies of phase, and
// how many there were.
func (g *loadGen) quantile(phase string, q float64) (time.Duration, int) {
	g.mu.Lock()
	lat := slices.Clone(g.lat[phase])
	g.mu.Unlock()
	if len(lat) == 0 {
		return 0, 0
	}
	slices.Sort(lat)
	return lat[min(int(q*float64(len(lat))), len(lat)-1)], len(lat)
}
