package sqlitestore_test

import (
	"context"
	"crypto/sha256"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stigaudit/stigaudit"
	"github.com/stigaudit/stigaudit/core/event"
	"github.com/stigaudit/stigaudit/hostfns"
	"github.com/stigaudit/stigaudit/hostfns/sqlitestore"
	"github.com/stigaudit/stigaudit/migrations"
)

// statsDay is the day the stats benchmark's log covers.
var statsDay = time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC)

// benchDayEvent is benchEvent(n) (ten skewed tenants, twenty types, a
// thousand principals) stamped within one day: 1,000,000 events 86.4 ms
// apart, with up to a second of emitter skew.
func benchDayEvent(n int) event.Event {
	e := benchEvent(n)
	skew := time.Duration(splitmix64(uint64(n)^0x5a5a)%1000) * time.Millisecond
	e.TS = statsDay.Add(time.Duration(n)*86400*time.Microsecond + skew).Format("2006-01-02T15:04:05.000000Z")
	return e
}

// benchDayLog returns the path of the cached 1,000,000-event log of one
// day, building it if needed (as benchLog).
func benchDayLog(b *testing.B) string {
	b.Helper()
	ms, err := migrations.List(migrations.SQLiteFiles())
	if err != nil {
		b.Fatal(err)
	}
	h := sha256.New()
	for _, m := range ms {
		h.Write([]byte(m.SQL))
	}
	path := filepath.Join(os.TempDir(), "stigaudit-bench", fmt.Sprintf("day-%d-%x.db", benchLogSize, h.Sum(nil)[:6]))
	if _, err := os.Stat(path); err == nil {
		return path
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		b.Fatal(err)
	}
	b.Logf("building %d-event one-day log at %s (once)", benchLogSize, path)
	tmp := path + ".building"
	os.Remove(tmp)
	s, err := sqlitestore.Open(tmp, sqlitestore.Options{Synchronous: "OFF"})
	if err != nil {
		b.Fatal(err)
	}
	start := time.Now()
	for n := 0; n < benchLogSize; n += 1000 {
		batch := make([]event.Event, 1000)
		for i := range batch {
			batch[i] = benchDayEvent(n + i)
		}
		if _, err := s.Append(ctx, batch); err != nil {
			b.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		b.Fatal(err)
	}
	b.Logf("built in %v", time.Since(start).Round(time.Second))
	if err := os.Rename(tmp, path); err != nil {
		b.Fatal(err)
	}
	return path
}

// BenchmarkStats measures Stats over the whole day of the 1,000,000-event
// log, by minute (what GET /v1/audit/stats?bucket=1m asks of the store),
// reporting the 99th percentile latency and the rows returned. The rollup
// answers by tenant; one entity's counts, and counts by entity, come from
// the events table (docs/decisions.md §34).
func BenchmarkStats(b *testing.B) {
	s, err := sqlitestore.Open(benchDayLog(b), sqlitestore.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	day := func(q hostfns.StatsQuery) hostfns.StatsQuery {
		q.Since, q.Until = statsDay.Format("2006-01-02T15:04"), statsDay.Add(24*time.Hour).Format("2006-01-02T15:04")
		return q
	}
	queries := []struct {
		name string
		q    hostfns.StatsQuery
	}{
		{"big-tenant/outcome", day(hostfns.StatsQuery{Tenant: "big", Group: hostfns.GroupOutcome})},
		{"big-tenant/event_type", day(hostfns.StatsQuery{Tenant: "big", Group: hostfns.GroupEventType})},
		{"small-tenant/event_type", day(hostfns.StatsQuery{Tenant: "t9", Group: hostfns.GroupEventType})},
		{"all-tenants/outcome", day(hostfns.StatsQuery{Group: hostfns.GroupOutcome})},
		{"read-key/typical", day(hostfns.StatsQuery{Tenant: "big", EntityURI: "urn:principal:700", Group: hostfns.GroupOutcome})},
		{"read-key/busiest", day(hostfns.StatsQuery{Tenant: "big", EntityURI: "urn:principal:0", Group: hostfns.GroupOutcome})},
		{"small-tenant/entity_uri", day(hostfns.StatsQuery{Tenant: "t9", Group: hostfns.GroupEntityURI})},
		{"big-tenant/entity_uri", day(hostfns.StatsQuery{Tenant: "big", Group: hostfns.GroupEntityURI})},
	}
	for _, qc := range queries {
		b.Run(qc.name, func(b *testing.B) {
			lat := make([]time.Duration, 0, b.N)
			rows := 0
			for i := 0; i < b.N; i++ {
				start := time.Now()
				r, err := s.Stats(ctx, qc.q)
				if err != nil {
					b.Fatal(err)
				}
				lat = append(lat, time.Since(start))
				rows = len(r)
			}
			slices.Sort(lat)
			b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
			b.ReportMetric(float64(rows), "rows")
		})
	}
}

// BenchmarkEmitRollup measures in-process emit throughput (stigaudit.Log.Emit,
// 64 concurrent emitters, the default durable group commit) with the
// stats_minutes rollup on and off, alternating rounds in one run so both
// see the same machine; it reports each mode's events/s and CPU per event,
// and the rollup's cost in percent.
func BenchmarkEmitRollup(b *testing.B) {
	s, _ := open(b, sqlitestore.Options{})
	l, err := stigaudit.Open(stigaudit.Options{Store: s})
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	defer sqlitestore.SetRollup(true)
	types := []string{"fact_read", "fact_write", "admin_action", "capability_verified"}
	outcomes := []string{event.OutcomeSuccess, event.OutcomeSuccess, event.OutcomeSuccess, event.OutcomeFailure, event.OutcomeDenied}
	var next atomic.Int64
	round := func(n int) (time.Duration, time.Duration) {
		var wg sync.WaitGroup
		var done atomic.Int64
		cpu0, t0 := cpuTime(), time.Now()
		for range benchAppenders {
			wg.Go(func() {
				for done.Add(1) <= int64(n) {
					i := int(next.Add(1))
					d := event.Draft{Type: types[i%len(types)], Tenant: fmt.Sprintf("t%d", i%10),
						EntityURI: fmt.Sprintf("urn:principal:%d", i%100), Outcome: outcomes[i%len(outcomes)]}
					if d.Type == "fact_write" {
						d.FactID = fmt.Sprintf("f%d", i%1000)
					}
					if d.Type == "admin_action" {
						d.Detail = []byte(`{"action":"bench"}`)
					}
					if _, err := l.Emit(context.Background(), d); err != nil {
						b.Error(err)
						return
					}
				}
			})
		}
		wg.Wait()
		return time.Since(t0), cpuTime() - cpu0
	}
	const perRound = 5000
	var wall, cpu [2]time.Duration // [off, on]
	var events [2]int
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for _, on := range []int{1, 0, 0, 1} { // ABBA: neither mode always goes first
			sqlitestore.SetRollup(on == 1)
			w, c := round(perRound)
			wall[on] += w
			cpu[on] += c
			events[on] += perRound
		}
	}
	b.StopTimer()
	rate := func(m int) float64 { return float64(events[m]) / wall[m].Seconds() }
	cpuPer := func(m int) float64 { return float64(cpu[m].Microseconds()) / float64(events[m]) }
	b.ReportMetric(rate(1), "on-events/s")
	b.ReportMetric(rate(0), "off-events/s")
	b.ReportMetric(cpuPer(1), "on-cpu-µs/event")
	b.ReportMetric(cpuPer(0), "off-cpu-µs/event")
	b.ReportMetric(100*(1-rate(1)/rate(0)), "throughput-cost-%")
}
