package pgstore_test

import (
	"bytes"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stigaudit/stigaudit/core/auditerr"
	"github.com/stigaudit/stigaudit/hostfns/pgstore"
	"github.com/stigaudit/stigaudit/hostfns/pgstore/pgtest"
	"github.com/stigaudit/stigaudit/hostfns/storetest"
)

// syncBuffer is a log destination for concurrent writers.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// count returns the number of lines containing s.
func (b *syncBuffer) count(s string) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return strings.Count(b.buf.String(), s)
}

// terminateBackends ends every session of the store's database but the
// caller's (the cluster is the test's own: nobody else is connected) and
// waits until they are gone.
func terminateBackends(t *testing.T, dsn string) int {
	t.Helper()
	c := mustConn(t, dsn)
	var n int
	if err := c.QueryRow(ctx, `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
		WHERE datname = current_database() AND pid <> pg_backend_pid() AND backend_type = 'client backend'`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		var left int
		if err := c.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity
			WHERE datname = current_database() AND pid <> pg_backend_pid() AND backend_type = 'client backend'`).Scan(&left); err != nil {
			t.Fatal(err)
		}
		if left == 0 {
			return n
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d sessions still there 30 s after pg_terminate_backend", left)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestAppendSurvivesKilledConnection kills every session of the store
// (pg_terminate_backend, as an operator or a failover does) between
// appends: the writer's kept connection is then dead, and the next append
// is retried once on a fresh connection instead of failing.
func TestAppendSurvivesKilledConnection(t *testing.T) {
	cl := pgtest.NewCluster(t)
	for _, grouped := range []bool{true, false} {
		name := "grouped"
		opts := pgstore.Options{}
		if !grouped {
			name, opts.MaxBatchEvents = "one-by-one", 1
		}
		t.Run(name, func(t *testing.T) {
			opts.Schema = "killed_" + strings.ReplaceAll(name, "-", "_")
			s := open(t, cl.DSN(), opts)
			next := 0
			for round := range 5 {
				if _, err := s.Append(ctx, storetest.NewEvents(next, 3)); err != nil {
					t.Fatalf("round %d, before the kill: %v", round, err)
				}
				next += 3
				if n := terminateBackends(t, cl.DSN()); n == 0 {
					t.Fatalf("round %d: no session of the store to terminate", round)
				}
				got, err := s.Append(ctx, storetest.NewEvents(next, 2))
				if err != nil {
					t.Fatalf("round %d: the append after its connection was killed failed: %v", round, err)
				}
				if got[0].Seq != int64(next) {
					t.Fatalf("round %d: seq %d, want %d", round, got[0].Seq, next)
				}
				next += 2
			}
			if stored := storetest.Stored(t, s); len(stored) != next {
				t.Fatalf("%d events stored, want %d", len(stored), next)
			}
			storetest.CheckTree(t, s)
		})
	}
}

// TestDialsBackOffWhileDown stops PostgreSQL under 16 appending
// goroutines: appends fail fast with store_unavailable, the store dials at
// most about once a second however many appends it refuses, logs the
// outage once (then at most a line per 5 s), and appends succeed again
// within 2 s of PostgreSQL's return.
func TestDialsBackOffWhileDown(t *testing.T) {
	if testing.Short() {
		t.Skip("stops a PostgreSQL server for seconds")
	}
	cl := pgtest.NewCluster(t)
	logs := &syncBuffer{}
	s := open(t, cl.DSN(), pgstore.Options{Logger: slog.New(slog.NewJSONHandler(logs, nil))})
	if _, err := s.Append(ctx, storetest.NewEvents(0, 1)); err != nil {
		t.Fatal(err)
	}

	var next atomic.Int64
	next.Store(1)
	var acked, failed atomic.Int64
	var wrongErr atomic.Value
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				n := int(next.Add(1) - 1)
				_, err := s.Append(ctx, storetest.NewEvents(n, 1))
				switch {
				case err == nil:
					acked.Add(1)
				case errors.Is(err, auditerr.ErrStoreUnavailable):
					failed.Add(1)
				default:
					wrongErr.Store(err)
				}
			}
		})
	}
	time.Sleep(500 * time.Millisecond)
	before := s.ConnStats()
	stopped := time.Now()
	cl.Stop()
	time.Sleep(4 * time.Second)
	during := s.ConnStats()
	down := time.Since(stopped)
	failedDuring := failed.Load()
	ackedBefore := acked.Load()
	cl.Start()
	back := time.Now()
	for acked.Load() == ackedBefore {
		if time.Since(back) > 2*time.Second {
			t.Fatalf("no append succeeded within 2 s of PostgreSQL's return (stats %+v)", s.ConnStats())
		}
		time.Sleep(time.Millisecond)
	}
	recovery := time.Since(back)
	close(stop)
	wg.Wait()
	if err := wrongErr.Load(); err != nil {
		t.Fatalf("an append failed with something else than store_unavailable: %v", err)
	}

	dials := during.Dials - before.Dials
	t.Logf("down %v: %d dials, %d failed, %d refused without dialing, %d appends refused; recovery %v",
		down.Round(time.Millisecond), dials, during.Failures-before.Failures, during.Refused-before.Refused, failedDuring, recovery.Round(time.Millisecond))
	if !during.Down || during.Outages != 1 {
		t.Errorf("during the outage: %+v, want down, one outage", during)
	}
	// At most 20 a second, plus the pool's connections that found it
	// down at once.
	if max := uint64(20*down.Seconds()) + pgstore.DefaultMaxConns; dials > max {
		t.Errorf("%d dials in %v of outage, want at most %d", dials, down, max)
	}
	if failedDuring < 100 {
		t.Errorf("only %d appends failed during the outage: were they stuck instead of failing fast?", failedDuring)
	}
	if s.ConnStats().Down {
		t.Error("still down after an append succeeded")
	}
	if n := logs.count("PostgreSQL unreachable"); n != 1 {
		t.Errorf("the outage was announced %d times, want once", n)
	}
	if n := logs.count("PostgreSQL still unreachable"); n > 2 {
		t.Errorf("%d repeated outage lines in 4 s, want at most one per 5 s", n)
	}
	if n := logs.count("PostgreSQL reachable again"); n != 1 {
		t.Errorf("the return was announced %d times, want once", n)
	}
	storetest.CheckTree(t, s)
}
