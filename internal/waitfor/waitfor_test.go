package waitfor

import (
	"fmt"
	"runtime"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
)

// fatalTB records the first Fatalf and stops its goroutine, as testing.T
// does, so a test can check how Until fails.
type fatalTB struct {
	testing.TB
	msg string
}

func (f *fatalTB) Helper() {}

func (f *fatalTB) Fatalf(format string, args ...any) {
	f.msg = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

// runUntil runs Until against a fatalTB on its own goroutine and returns
// the failure message, "" when Until returned.
func runUntil(t *testing.T, within time.Duration, what string, cond func() bool) string {
	f := &fatalTB{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		Until(f, within, what, cond)
	}()
	<-done
	return f.msg
}

func TestUntilReturnsOnceTheConditionHolds(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var ready atomic.Bool
		time.AfterFunc(300*time.Millisecond, func() { ready.Store(true) })
		start := time.Now()
		if msg := runUntil(t, time.Second, "ready", ready.Load); msg != "" {
			t.Fatalf("Until failed: %s", msg)
		}
		// It returns within one interval of the condition becoming true.
		if waited := time.Since(start); waited < 300*time.Millisecond || waited > 300*time.Millisecond+Interval {
			t.Fatalf("Until returned after %v, want 300ms..%v", waited, 300*time.Millisecond+Interval)
		}
	})
}

func TestUntilChecksBeforeWaiting(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		if msg := runUntil(t, time.Second, "true", func() bool { return true }); msg != "" {
			t.Fatalf("Until failed: %s", msg)
		}
		if waited := time.Since(start); waited != 0 {
			t.Fatalf("Until waited %v for a condition already true", waited)
		}
	})
}

func TestUntilFailsNamingWhatAndTheTimeWaited(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var checks int
		msg := runUntil(t, 2*time.Second, "the sink to drain", func() bool { checks++; return false })
		want := "timed out after 2s (limit 2s) waiting for the sink to drain"
		if msg != want {
			t.Fatalf("Until failed with %q, want %q", msg, want)
		}
		// It polled every Interval, the last time at the deadline.
		if wantChecks := int(2*time.Second/Interval) + 1; checks != wantChecks {
			t.Fatalf("Until checked the condition %d times, want %d", checks, wantChecks)
		}
	})
}

func TestUntilChecksOnceMoreAtTheDeadline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		cond := func() bool { return time.Since(start) >= time.Second }
		if msg := runUntil(t, time.Second, "the deadline", cond); msg != "" {
			t.Fatalf("a condition true at the deadline failed: %s", msg)
		}
	})
}
