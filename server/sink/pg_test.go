package sink

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stigaudit/stigaudit/hostfns/pgstore"
	"github.com/stigaudit/stigaudit/hostfns/pgstore/pgtest"
	"github.com/stigaudit/stigaudit/hostfns/storetest"
	"github.com/stigaudit/stigaudit/internal/waitfor"
)

// Two replicas of one PostgreSQL log, each with a Dispatcher for the same
// sink, Active in turn (as the "sinks" feed's leadership moves): the first
// delivers from the cursor created at start, hands over by saving it, and
// the second resumes exactly there, reading what it was never offered back
// from the log.
func TestDispatcherHandOverOnPostgres(t *testing.T) {
	dsn := pgtest.DSN(t)
	ctx := context.Background()
	open := func() *pgstore.Store {
		s, err := pgstore.Open(ctx, dsn, pgstore.Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
	storeA, storeB := open(), open()
	if _, err := storeA.Append(ctx, storetest.NewEvents(0, 5)); err != nil { // before the sink: not its
		t.Fatal(err)
	}
	var activeA, activeB atomic.Bool
	activeA.Store(true)
	start := func(s *pgstore.Store, active *atomic.Bool) (*Dispatcher, *memSink) {
		m := &memSink{name: "file:/shared/sink.jsonl"}
		d, err := NewDispatcher(ctx, []Sink{m}, Options{Log: s, Cursors: s, Active: active.Load, Logger: quiet,
			Poll: 20 * time.Millisecond, SaveInterval: 10 * time.Millisecond, Backoff: 5 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { d.Close(ctx) })
		return d, m
	}
	dA, sinkA := start(storeA, &activeA)
	dB, sinkB := start(storeB, &activeB)
	appendVia := func(s *pgstore.Store, d *Dispatcher, n int) {
		size, err := s.Size(ctx)
		if err != nil {
			t.Fatal(err)
		}
		stored, err := s.Append(ctx, storetest.NewEvents(int(size), n))
		if err != nil {
			t.Fatal(err)
		}
		d.Enqueue(stored)
	}
	cursor := func() int64 {
		n, err := storeA.Cursor(ctx, CursorName(sinkA))
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	for range 5 {
		appendVia(storeA, dA, 10)
	}
	waitfor.Until(t, 10*time.Second, "replica A to deliver 50 events", func() bool { return len(sinkA.seqs()) >= 50 })
	activeA.Store(false) // A loses the lead: it saves where it got to
	waitfor.Until(t, 10*time.Second, "replica A to save cursor 55 on losing the lead", func() bool { return cursor() == 55 })
	activeB.Store(true)
	for range 3 {
		appendVia(storeB, dB, 10)
	}
	waitfor.Until(t, 10*time.Second, "replica B to deliver 30 events with no lag", func() bool { n, _ := dB.Lag(sinkB.name); return len(sinkB.seqs()) >= 30 && n == 0 })
	if dups := checkSeqs(t, "both replicas", append(sinkA.seqs(), sinkB.seqs()...), 5, 85); dups != 0 {
		t.Errorf("%d events delivered twice across a graceful hand-over", dups)
	}
	waitfor.Until(t, 10*time.Second, "replica B to save cursor 85", func() bool { return cursor() == 85 })
}
