package tlog_test

import (
	"context"
	"crypto/rand"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stigaudit/stigaudit/core/checkpoint"
	"github.com/stigaudit/stigaudit/hostfns/memstore"
	"github.com/stigaudit/stigaudit/server/tlog"
)

// memCheckpoints is tlog.Checkpoints in memory, for tests on a fake clock.
type memCheckpoints struct {
	mu  sync.Mutex
	all []tlog.Signed
}

func (m *memCheckpoints) Latest(context.Context) (tlog.Signed, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.all) == 0 {
		return tlog.Signed{}, false, nil
	}
	return m.all[len(m.all)-1], true, nil
}

func (m *memCheckpoints) Add(_ context.Context, s tlog.Signed, check func(*tlog.Signed) error) (tlog.Signed, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var last *tlog.Signed
	if len(m.all) > 0 {
		last = &m.all[len(m.all)-1]
	}
	if err := check(last); err != nil {
		return tlog.Signed{}, err
	}
	if last != nil && last.Size >= s.Size {
		return *last, nil
	}
	m.all = append(m.all, s)
	return s, nil
}

// TestDefaultCadence pins the README's promise with the default settings,
// on a fake clock: while the log grows a checkpoint is signed once a
// second, not more often, and an acknowledged event is covered within
// about 1.1 s (the interval plus one poll), and at most one poll (100 ms)
// after a quiet spell.
func TestDefaultCadence(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		skey, _, err := checkpoint.GenerateKey(rand.Reader, "stigaudit/cadence")
		if err != nil {
			t.Fatal(err)
		}
		key, err := tlog.ParseKey(skey)
		if err != nil {
			t.Fatal(err)
		}
		st := memstore.New()
		var mu sync.Mutex
		var signed []time.Time
		cp, err := tlog.New(context.Background(), tlog.Config{Tree: st, Checkpoints: &memCheckpoints{}, Key: key, Logger: quiet,
			OnSign: func(tlog.Signed) { mu.Lock(); signed = append(signed, time.Now()); mu.Unlock() }})
		if err != nil {
			t.Fatal(err)
		}
		cp.Start()
		start := time.Now()
		var worst time.Duration
		pending := map[int64]time.Time{} // size → when the event that made it was acknowledged
		next := 0
		for time.Since(start) < 10*time.Second {
			if _, err := st.Append(context.Background(), testEvents(next, 1)); err != nil {
				t.Fatal(err)
			}
			next++
			pending[int64(next)] = time.Now()
			time.Sleep(50 * time.Millisecond)
			synctest.Wait()
			if s, ok := cp.Latest(); ok {
				for size, at := range pending {
					if uint64(size) <= s.Size {
						worst = max(worst, time.Since(at))
						delete(pending, size)
					}
				}
			}
		}
		// An event after a quiet spell is signed at the next poll.
		time.Sleep(3*time.Second + 10*time.Millisecond)
		if _, err := st.Append(context.Background(), testEvents(next, 1)); err != nil {
			t.Fatal(err)
		}
		next++
		at := time.Now()
		for s, _ := cp.Latest(); s.Size < uint64(next); s, _ = cp.Latest() {
			time.Sleep(time.Millisecond)
			synctest.Wait()
		}
		if d := time.Since(at); d > 100*time.Millisecond {
			t.Errorf("an event after a quiet spell waited %v to be covered; want at most one poll, 100 ms", d)
		}
		cp.Stop(context.Background())
		mu.Lock()
		defer mu.Unlock()
		signed = signed[:len(signed)-1] // the quiet spell's
		if len(signed) < 9 || len(signed) > 11 {
			t.Fatalf("%d checkpoints in 10 s of growth; want one a second", len(signed))
		}
		for i := 1; i < len(signed)-1; i++ { // the last is Stop's
			if d := signed[i].Sub(signed[i-1]); d < time.Second || d > 1100*time.Millisecond {
				t.Errorf("checkpoints %d and %d are %v apart; want 1 s", i-1, i, d)
			}
		}
		if worst > 1150*time.Millisecond || worst < 900*time.Millisecond {
			t.Errorf("an acknowledged event waited up to %v to be covered; want about 1.1 s", worst)
		}
	})
}
