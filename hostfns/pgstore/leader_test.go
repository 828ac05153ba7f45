package pgstore_test

import (
	"context"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stigaudit/stigaudit/hostfns/pgstore"
	"github.com/stigaudit/stigaudit/hostfns/pgstore/pgtest"
	"github.com/stigaudit/stigaudit/internal/waitfor"
)

const interval = 50 * time.Millisecond

// leaders returns the indexes of the leaders that lead now.
func leaders(ls []*pgstore.Leader) []int {
	var out []int
	for i, l := range ls {
		if l != nil && l.IsLeader() {
			out = append(out, i)
		}
	}
	return out
}

// waitOneLeader waits until exactly one of ls leads and returns it, failing
// if two ever lead at once once settled.
func waitOneLeader(t *testing.T, ls []*pgstore.Leader) int {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	// Every replica has tried the lock once: "one leads" is not merely
	// "the others have not tried yet".
	for i, l := range ls {
		if l == nil {
			continue
		}
		select {
		case <-l.Settled():
		case <-time.After(time.Until(deadline)):
			t.Fatalf("replica %d never tried the lock within 5s", i)
		}
	}
	for time.Now().Before(deadline) {
		if got := leaders(ls); len(got) == 1 {
			// Stable for a few intervals: nobody else joins. A bounded
			// sleep: a failed try of the lock (on a real database) leaves
			// no event to wait for.
			time.Sleep(3 * interval)
			if again := leaders(ls); len(again) != 1 || again[0] != got[0] {
				t.Fatalf("leaders changed from %v to %v without a failure", got, again)
			}
			return got[0]
		} else if len(got) > 1 {
			t.Fatalf("replicas %v lead at once", got)
		}
		time.Sleep(interval / 2)
	}
	t.Fatalf("no leader after 5s")
	return -1
}

func TestLeaderElection(t *testing.T) {
	dsn := pgtest.DSN(t)
	s := open(t, dsn, pgstore.Options{})
	var ls []*pgstore.Leader
	for range 3 {
		l := s.NewLeader("checkpointer", pgstore.LeaderOptions{Interval: interval, Logger: quiet})
		t.Cleanup(func() { l.Close() })
		ls = append(ls, l)
	}
	first := waitOneLeader(t, ls)

	// Resigning hands over to another.
	ch := ls[first].Changed()
	ls[first].Close()
	select {
	case <-ch:
	case <-time.After(time.Second):
		t.Fatal("Changed not closed when the leader resigned")
	}
	if ls[first].IsLeader() {
		t.Fatal("a closed Leader still leads")
	}
	ls[first] = nil
	second := waitOneLeader(t, ls)

	// A leader whose session dies (here: killed by the server, as when its
	// process or host dies) steps down, and another takes over.
	ch = ls[second].Changed()
	if _, err := mustConn(t, dsn).Exec(ctx, `SELECT pg_terminate_backend(l.pid) FROM pg_locks l
		WHERE l.locktype = 'advisory' AND l.granted AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
		AND l.pid <> pg_backend_pid()
		AND ((l.classid::bigint << 32) | l.objid::bigint) = hashtextextended(current_schema() || '/stigaudit/checkpointer', 0)`); err != nil {
		t.Fatal(err)
	}
	select {
	case <-ch:
	case <-time.After(5 * time.Second):
		t.Fatal("the leader whose session was killed did not step down")
	}
	third := waitOneLeader(t, ls)
	if third == second {
		// The killed session's Leader may legitimately win the next round
		// after reconnecting, but only after stepping down in between.
		t.Logf("the same replica (%d) was re-elected after its session was killed", third)
	}

	// Another name, or another schema, elects independently.
	other := s.NewLeader("sinks", pgstore.LeaderOptions{Interval: interval, Logger: quiet})
	t.Cleanup(func() { other.Close() })
	s2 := open(t, pgtest.DSN(t), pgstore.Options{})
	elsewhere := s2.NewLeader("checkpointer", pgstore.LeaderOptions{Interval: interval, Logger: quiet})
	t.Cleanup(func() { elsewhere.Close() })
	waitOneLeader(t, []*pgstore.Leader{other})
	waitOneLeader(t, []*pgstore.Leader{elsewhere})
}

// TestLeaderRun checks that Run's function runs only while leading and is
// cancelled on losing the role.
func TestLeaderRun(t *testing.T) {
	dsn := pgtest.DSN(t)
	s := open(t, dsn, pgstore.Options{})
	a := s.NewLeader("checkpointer", pgstore.LeaderOptions{Interval: interval, Logger: quiet})
	b := s.NewLeader("checkpointer", pgstore.LeaderOptions{Interval: interval, Logger: quiet})
	t.Cleanup(func() { a.Close(); b.Close() })

	var running, maxRunning, starts atomic.Int32
	work := func(ctx context.Context) {
		starts.Add(1)
		n := running.Add(1)
		for {
			m := maxRunning.Load()
			if n <= m || maxRunning.CompareAndSwap(m, n) {
				break
			}
		}
		<-ctx.Done()
		running.Add(-1)
	}
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{}, 2)
	for _, l := range []*pgstore.Leader{a, b} {
		go func() { l.Run(rctx, work); done <- struct{}{} }()
	}
	first := waitOneLeader(t, []*pgstore.Leader{a, b})
	waitfor.Until(t, 5*time.Second, "the leader's task to run", func() bool { return running.Load() == 1 })
	[]*pgstore.Leader{a, b}[first].Close()
	waitfor.Until(t, 5*time.Second, "the task to start again, once", func() bool { return starts.Load() == 2 && running.Load() == 1 })
	cancel()
	<-done
	<-done
	if running.Load() != 0 || maxRunning.Load() != 1 {
		t.Fatalf("running %d after cancel, at most %d at once; want 0 and 1", running.Load(), maxRunning.Load())
	}
}

var quiet = slog.New(slog.DiscardHandler)
