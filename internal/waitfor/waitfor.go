package waitfor

import (
	"testing"
	"time"
)

// Interval is how often Until checks its condition.
const Interval = 5 * time.Millisecond

// Until returns as soon as cond is true, checking it every Interval. When
// cond is still false after within, it fails the test with t.Fatalf,
// naming what and the time waited. The condition is checked once more at
// the deadline, so a slow scheduler cannot fail a condition that became
// true during the last sleep.
func Until(t testing.TB, within time.Duration, what string, cond func() bool) {
	t.Helper()
	start := time.Now()
	deadline := start.Add(within)
	for !cond() {
		if !time.Now().Before(deadline) {
			t.Fatalf("timed out after %v (limit %v) waiting for %s", time.Since(start).Round(time.Millisecond), within, what)
		}
		time.Sleep(Interval)
	}
}
