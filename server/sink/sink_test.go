package sink

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stigaudit/stigaudit/core/auditerr"
	"github.com/stigaudit/stigaudit/core/event"
	"github.com/stigaudit/stigaudit/hostfns/memstore"
	"github.com/stigaudit/stigaudit/hostfns/storetest"
	"github.com/stigaudit/stigaudit/internal/waitfor"
)

// memSink collects the seqs it is given. While down, every Write fails
// (panics, with panics); with gate set every Write waits on it first.
type memSink struct {
	name   string
	gate   chan struct{}
	panics bool
	down   atomic.Bool

	mu     sync.Mutex
	got    []int64
	writes int
	closed bool
}

func (s *memSink) Name() string { return s.name }

func (s *memSink) Write(ctx context.Context, evs []event.Event) error {
	if s.gate != nil {
		select {
		case <-s.gate:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	s.mu.Lock()
	s.writes++
	s.mu.Unlock()
	if s.down.Load() {
		if s.panics {
			panic("boom")
		}
		return errors.New("destination unreachable")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.got = append(s.got, seqsOf(evs)...)
	return nil
}

func (s *memSink) Close() error {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	return nil
}

func (s *memSink) seqs() []int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]int64(nil), s.got...)
}

func (s *memSink) isClosed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}

var quiet = slog.New(slog.DiscardHandler)

// fast are Options for tests: short pauses, so that tests do not wait.
func fast(l *testLog, rec Reporter) Options {
	return Options{Log: l, Cursors: l, Reporter: rec, Logger: quiet,
		Backoff: 5 * time.Millisecond, MaxBackoff: 50 * time.Millisecond, Poll: 20 * time.Millisecond, SaveInterval: 10 * time.Millisecond}
}

func TestDispatcherDeliversInOrderFromCursor(t *testing.T) {
	l := openLog(t)
	l.add(t, nil, 5, 5) // before the sinks existed: not theirs
	a, b := &memSink{name: "a"}, &memSink{name: "b"}
	opt := fast(l, newRecorder())
	opt.MaxBatch = 7
	d, err := NewDispatcher(context.Background(), []Sink{a, b}, opt)
	if err != nil {
		t.Fatal(err)
	}
	l.add(t, d, 100, 10)
	if err := d.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, s := range []*memSink{a, b} {
		if dups := checkSeqs(t, s.name, s.seqs(), 5, 105); dups != 0 {
			t.Errorf("sink %s: %d events delivered twice without any failure", s.name, dups)
		}
		if !s.isClosed() {
			t.Errorf("sink %s not closed", s.name)
		}
		if got := l.cursor(t, s); got != 105 {
			t.Errorf("sink %s: saved cursor %d after a graceful close, want 105", s.name, got)
		}
	}
}

// A sink that is down loses nothing: the log is its buffer. Emits (Enqueue)
// never wait for it, the other sinks go on, its failed writes and its lag
// are reported, and once it is back it gets every event in order.
func TestDownSinkLosesNothing(t *testing.T) {
	l := openLog(t)
	rec := newRecorder()
	down := &memSink{name: "down"}
	down.down.Store(true)
	healthy := &memSink{name: "healthy"}
	opt := fast(l, rec)
	opt.Tail = 64 // far less than the outage: the worker must read the log back
	d, err := NewDispatcher(context.Background(), []Sink{down, healthy}, opt)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close(context.Background())

	var slowest time.Duration
	ctx := context.Background()
	for range 100 {
		size := l.size(t)
		stored, err := l.Append(ctx, storetest.NewEvents(int(size), 20))
		if err != nil {
			t.Fatal(err)
		}
		t0 := time.Now()
		d.Enqueue(stored)
		slowest = max(slowest, time.Since(t0))
	}
	if slowest > time.Second { // generous on a loaded machine: it takes microseconds
		t.Errorf("the slowest Enqueue took %v behind a sink that is down", slowest)
	}
	waitfor.Until(t, 10*time.Second, "the healthy sink to receive 2000 events", func() bool { return len(healthy.seqs()) == 2000 })
	waitfor.Until(t, 10*time.Second, "the down sink's lag to reach 2000", func() bool { _, high := rec.lagOf("down"); return high == 2000 })
	if rec.failures("down") == 0 {
		t.Error("no failed write reported for the sink that is down")
	}
	if len(down.seqs()) != 0 {
		t.Fatal("the sink that is down received events")
	}

	down.down.Store(false)
	waitfor.Until(t, 10*time.Second, "the sink back up to catch up on 2000 events", func() bool { n, _ := d.Lag("down"); return n == 0 && len(down.seqs()) >= 2000 })
	checkSeqs(t, "down", down.seqs(), 0, 2000)
	checkSeqs(t, "healthy", healthy.seqs(), 0, 2000)
	if last, _ := rec.lagOf("down"); last != 0 {
		t.Errorf("lag reported %d after catching up, want 0", last)
	}
}

// A panicking Write is a failed Write: retried, reported, nothing lost.
func TestPanickingSinkIsRetried(t *testing.T) {
	l := openLog(t)
	rec := newRecorder()
	p := &memSink{name: "panicky", panics: true}
	p.down.Store(true)
	d, err := NewDispatcher(context.Background(), []Sink{p}, fast(l, rec))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close(context.Background())
	l.add(t, d, 30, 3)
	waitfor.Until(t, 5*time.Second, "3 failed writes reported for the panicking sink", func() bool { return rec.failures("panicky") >= 3 })
	p.down.Store(false)
	waitfor.Until(t, 5*time.Second, "30 events delivered after the panics stop", func() bool { return len(p.seqs()) >= 30 })
	checkSeqs(t, "panicky", p.seqs(), 0, 30)
}

// A new Dispatcher on the same log resumes from the saved cursor: what was
// committed while no process delivered is delivered, nothing twice.
func TestRestartResumesFromCursor(t *testing.T) {
	l := openLog(t)
	s := &memSink{name: "s"}
	d, err := NewDispatcher(context.Background(), []Sink{s}, fast(l, nil))
	if err != nil {
		t.Fatal(err)
	}
	l.add(t, d, 50, 10)
	if err := d.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	l.add(t, nil, 70, 7) // the server is down; the log grows (EmitTx, the CLI)

	s2 := &memSink{name: "s"}
	rec := newRecorder()
	d2, err := NewDispatcher(context.Background(), []Sink{s2}, fast(l, rec))
	if err != nil {
		t.Fatal(err)
	}
	defer d2.Close(context.Background())
	if _, high := rec.lagOf("s"); high != 70 {
		t.Errorf("lag reported at start %d, want the 70 events committed while down", high)
	}
	waitfor.Until(t, 5*time.Second, "the restarted dispatcher to deliver 70 events with no lag", func() bool { n, _ := d2.Lag("s"); return len(s2.seqs()) >= 70 && n == 0 })
	if dups := checkSeqs(t, "restarted", append(s.seqs(), s2.seqs()...), 0, 120); dups != 0 {
		t.Errorf("%d events delivered twice across a graceful restart", dups)
	}
}

// Events committed behind the Dispatcher's back (never offered) are found
// by its poll of the log.
func TestEventsNotOfferedAreDelivered(t *testing.T) {
	l := openLog(t)
	s := &memSink{name: "s"}
	d, err := NewDispatcher(context.Background(), []Sink{s}, fast(l, nil))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close(context.Background())
	l.add(t, d, 10, 10)
	l.add(t, nil, 10, 10) // not offered
	l.add(t, d, 10, 10)
	waitfor.Until(t, 5*time.Second, "30 events delivered, 10 of them never offered", func() bool { return len(s.seqs()) >= 30 })
	checkSeqs(t, "s", s.seqs(), 0, 30)
}

// While not Active (another replica delivers), a worker delivers nothing
// and reports the lag of the cursor saved in the database; once Active, it
// resumes from that cursor.
func TestInactiveWaitsAndReportsSavedLag(t *testing.T) {
	l := openLog(t)
	rec := newRecorder()
	var active atomic.Bool
	s := &memSink{name: "s"}
	opt := fast(l, rec)
	opt.Active = active.Load
	d, err := NewDispatcher(context.Background(), []Sink{s}, opt)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close(context.Background())
	l.add(t, d, 40, 10)
	waitfor.Until(t, 5*time.Second, "the inactive worker to report a lag of 40", func() bool { last, _ := rec.lagOf("s"); return last == 40 })
	if n := len(s.seqs()); n != 0 {
		t.Fatalf("an inactive dispatcher delivered %d events", n)
	}
	// Another replica delivered the first 15 and saved its cursor.
	if err := l.SaveCursor(context.Background(), CursorName(s), 15); err != nil {
		t.Fatal(err)
	}
	active.Store(true)
	waitfor.Until(t, 5*time.Second, "25 events delivered from the saved cursor with no lag", func() bool { n, _ := d.Lag("s"); return len(s.seqs()) >= 25 && n == 0 })
	checkSeqs(t, "s", s.seqs(), 15, 40)
}

// Close gives up on a sink that never finishes, saying so; its cursor stays
// where delivery got to, and the next start delivers the rest.
func TestCloseGivesUpButLosesNothing(t *testing.T) {
	l := openLog(t)
	stuck := &memSink{name: "s", gate: make(chan struct{})}
	d, err := NewDispatcher(context.Background(), []Sink{stuck}, fast(l, nil))
	if err != nil {
		t.Fatal(err)
	}
	l.add(t, d, 20, 5)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := d.Close(ctx); err == nil {
		t.Error("Close returned nil although a sink never caught up")
	}
	if got := l.cursor(t, stuck); got != 0 {
		t.Fatalf("cursor %d after nothing was written, want 0", got)
	}
	s := &memSink{name: "s"}
	d2, err := NewDispatcher(context.Background(), []Sink{s}, fast(l, nil))
	if err != nil {
		t.Fatal(err)
	}
	if err := d2.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	checkSeqs(t, "s", s.seqs(), 0, 20)
}

func TestNewDispatcherRefuses(t *testing.T) {
	l := openLog(t)
	if _, err := NewDispatcher(context.Background(), []Sink{&memSink{name: "a"}}, Options{}); err == nil {
		t.Error("a Dispatcher without a log started")
	}
	_, err := NewDispatcher(context.Background(), []Sink{&memSink{name: "a"}, &memSink{name: "a"}}, fast(l, nil))
	if !errors.Is(err, auditerr.ErrInvalidConfig) {
		t.Errorf("the same sink twice: %v, want invalid_config", err)
	}
}

func TestParse(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		spec string
		ok   bool
	}{
		{"file:" + dir + "/events.jsonl", true},
		{"file:", false},
		{"file:" + dir + "/missing/dir/events.jsonl", false},
		{"nats://localhost:4222/audit", false},
		{"https://example.org/hook", false},
		{"kafka:topic", false},
		{"events.jsonl", false},
	} {
		s, err := Parse(tc.spec)
		if (err == nil) != tc.ok {
			t.Errorf("Parse(%q) error = %v, want ok=%v", tc.spec, err, tc.ok)
			continue
		}
		if err != nil {
			if !errors.Is(err, auditerr.ErrInvalidConfig) {
				t.Errorf("Parse(%q) error %v does not wrap invalid_config", tc.spec, err)
			}
			continue
		}
		if s.Name() != tc.spec {
			t.Errorf("Parse(%q).Name() = %q", tc.spec, s.Name())
		}
		s.Close()
	}
}

// memCursors keeps cursors in memory over a memstore log, so that a
// Dispatcher runs on goroutines and timers alone (inside a synctest bubble).
type memCursors struct {
	log *memstore.Store
	mu  sync.Mutex
	at  map[string]int64
}

func (c *memCursors) Cursor(ctx context.Context, name string) (int64, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if n, ok := c.at[name]; ok {
		return n, nil
	}
	n, err := c.log.Size(ctx)
	if err != nil {
		return 0, err
	}
	if c.at == nil {
		c.at = map[string]int64{}
	}
	c.at[name] = n
	return n, nil
}

func (c *memCursors) SaveCursor(_ context.Context, name string, next int64) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.at[name] = max(c.at[name], next)
	return nil
}

// While the log cannot be read (the database is down), a worker waits
// with backoff and delivers everything once it is back. The log is in
// memory and the clock is synctest's, so "nothing was delivered during the
// outage" is checked after many polls, with every worker idle.
func TestLogOutageIsRetried(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		store := memstore.New()
		faulty := storetest.NewFaulty(store)
		s := &memSink{name: "s"}
		opt := Options{Log: faulty, Cursors: &memCursors{log: store}, Logger: quiet,
			Backoff: 5 * time.Millisecond, MaxBackoff: 50 * time.Millisecond, Poll: 20 * time.Millisecond, SaveInterval: 10 * time.Millisecond}
		d, err := NewDispatcher(ctx, []Sink{s}, opt)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { // inside the bubble: its workers must exit with it
			if err := d.Close(ctx); err != nil {
				t.Error(err)
			}
		})
		faulty.SetDown(true)
		for i := range 4 { // committed, never offered: only the log has them
			if _, err := store.Append(ctx, storetest.NewEvents(10*i, 10)); err != nil {
				t.Fatal(err)
			}
		}
		time.Sleep(time.Second) // 50 polls of a log that cannot be read
		synctest.Wait()
		if n := len(s.seqs()); n != 0 {
			t.Fatalf("%d events delivered while the log could not be read", n)
		}
		faulty.SetDown(false)
		time.Sleep(time.Second) // far longer than the longest backoff and a poll
		synctest.Wait()
		checkSeqs(t, "s", s.seqs(), 0, 40)
	})
}
