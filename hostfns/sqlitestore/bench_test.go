package sqlitestore_test

import (
	"crypto/sha256"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stigaudit/stigaudit/core/event"
	"github.com/stigaudit/stigaudit/hostfns"
	"github.com/stigaudit/stigaudit/hostfns/sqlitestore"
	"github.com/stigaudit/stigaudit/hostfns/storetest"
	"github.com/stigaudit/stigaudit/migrations"
)

// benchAppenders is the number of concurrent appenders in the append
// benchmarks, each appending one event per call.
const benchAppenders = 64

// BenchmarkAppendParallel measures durable throughput (synchronous=FULL, a
// file under b.TempDir()) with 64 concurrent appenders of one event each,
// with the default group commit.
func BenchmarkAppendParallel(b *testing.B) {
	benchAppend(b, sqlitestore.Options{})
}

// BenchmarkAppendParallelNoGroupCommit is the same load with
// MaxBatchEvents=1: one transaction, hence one fsync, per event, as the
// seed did it. It is the baseline group commit is measured against.
func BenchmarkAppendParallelNoGroupCommit(b *testing.B) {
	benchAppend(b, sqlitestore.Options{MaxBatchEvents: 1})
}

// BenchmarkAppendParallelWait1ms shows what waiting for stragglers buys
// (MaxWait=1ms) over committing what is queued at once (the default).
func BenchmarkAppendParallelWait1ms(b *testing.B) {
	benchAppend(b, sqlitestore.Options{MaxWait: time.Millisecond})
}

// BenchmarkAppendSerial is one appender at a time: the latency of a lone
// durable append.
func BenchmarkAppendSerial(b *testing.B) {
	s, _ := open(b, sqlitestore.Options{})
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := s.Append(ctx, []event.Event{storetest.NewEvent(i)}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}

func benchAppend(b *testing.B, opts sqlitestore.Options) {
	var commits, grouped atomic.Int64
	opts.OnCommit = func(events, requests int, d time.Duration) {
		commits.Add(1)
		grouped.Add(int64(requests))
	}
	s, _ := open(b, opts)
	var next atomic.Int64
	var mu sync.Mutex
	var lat []time.Duration
	procs := runtime.GOMAXPROCS(0)
	b.SetParallelism((benchAppenders + procs - 1) / procs)
	b.ResetTimer()
	cpu0 := cpuTime()
	b.RunParallel(func(pb *testing.PB) {
		var mine []time.Duration
		for pb.Next() {
			e := storetest.NewEvent(int(next.Add(1)))
			start := time.Now()
			if _, err := s.Append(ctx, []event.Event{e}); err != nil {
				b.Error(err)
				return
			}
			mine = append(mine, time.Since(start))
		}
		mu.Lock()
		lat = append(lat, mine...)
		mu.Unlock()
	})
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
	b.ReportMetric(float64((cpuTime()-cpu0).Microseconds())/float64(b.N), "cpu-µs/event")
	if c := commits.Load(); c > 0 {
		b.ReportMetric(float64(grouped.Load())/float64(c), "appends/commit")
	}
	if len(lat) > 0 {
		slices.Sort(lat)
		b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
		b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
	}
}

// The query benchmark's log: benchLogSize events of benchEvent, built once
// and cached (building takes a minute) at $STIGAUDIT_BENCH_DB or under the
// system temp directory.
const benchLogSize = 1_000_000

var benchTenants = []struct {
	name   string
	weight int // percent
}{{"big", 50}, {"mid", 20}, {"t2", 4}, {"t3", 4}, {"t4", 4}, {"t5", 4}, {"t6", 4}, {"t7", 4}, {"t8", 3}, {"t9", 3}}

var benchTypes = []string{
	"fact_read", "fact_read", "fact_read", "fact_read", "fact_write", "fact_write", "fact_write",
	"capability_verified", "capability_verified", "auth_failed", "quarantine_admit", "admin_action",
	"api_key_create", "tombstone_created", "federation_connect", "manifest_publish", "key_rotation",
	"instruction_audit", "peer_approved", "quota_breach",
}

// splitmix64 is a stateless hash: event n's choices are a function of n.
func splitmix64(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// benchEvent is event n of a month-long, skewed log: ten tenants (one with
// half the events), twenty types, a thousand principals per tenant with a
// few very active ones, 40% of events about one of 200,000 facts, 1% denied.
func benchEvent(n int) event.Event {
	h := splitmix64(uint64(n))
	pick := func(bits uint) uint64 { v := h & (1<<bits - 1); h = splitmix64(h); return v }
	pct := int(pick(16) * 100 >> 16)
	tenant := benchTenants[len(benchTenants)-1].name
	for _, t := range benchTenants {
		if pct < t.weight {
			tenant = t.name
			break
		}
		pct -= t.weight
	}
	u := float64(pick(20)) / (1 << 20)
	principal := int(u * u * u * 1000) // skewed towards 0
	ts := time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC).
		Add(time.Duration(n) * 2592 * time.Millisecond).
		Add(time.Duration(pick(10)) * time.Millisecond) // up to 1s of emitter skew
	e := event.Event{
		Seq:       -1,
		ID:        fmt.Sprintf("01900000-0000-7000-8000-%012x", n),
		Type:      benchTypes[pick(16)%uint64(len(benchTypes))],
		TS:        ts.Format(storetest.TSFormat),
		Tenant:    tenant,
		EntityURI: fmt.Sprintf("urn:principal:%d", principal),
		Source:    []string{"api", "api", "api", "api", "api", "api", "api", "cli", "cli", ""}[pick(8)%10],
		Outcome:   event.OutcomeSuccess,
	}
	switch p := pick(8) % 100; {
	case p < 1:
		e.Outcome = event.OutcomeDenied
	case p < 5:
		e.Outcome = event.OutcomeFailure
	}
	if pick(8)%10 < 8 {
		e.OIDCSub = fmt.Sprintf("sub-%d", principal)
	}
	if pick(8)%10 < 4 {
		e.FactID = fmt.Sprintf("fact-%d", pick(20)%200_000)
	}
	if pick(8)%10 == 0 {
		e.AttestedKeyID = "key-1"
	}
	if pick(8)%20 == 0 {
		e.Scope = "facts:write"
	}
	if pick(1) == 0 {
		e.Detail = fmt.Appendf(nil, `{"bytes":%d,"note":"benchmark event with a detail of about a hundred bytes","path":"/v1/facts/%d"}`, pick(16), n)
	}
	e.LeafHash = sha256.Sum256([]byte(e.ID))
	return e
}

// benchLog returns the path of the cached query benchmark log, building it
// if needed.
func benchLog(b *testing.B) string {
	b.Helper()
	path := os.Getenv("STIGAUDIT_BENCH_DB")
	if path == "" {
		// Named after the schema, so a schema change builds a new log.
		ms, err := migrations.List(migrations.SQLiteFiles())
		if err != nil {
			b.Fatal(err)
		}
		h := sha256.New()
		for _, m := range ms {
			h.Write([]byte(m.SQL))
		}
		path = filepath.Join(os.TempDir(), "stigaudit-bench", fmt.Sprintf("query-%d-%x.db", benchLogSize, h.Sum(nil)[:6]))
	}
	if _, err := os.Stat(path); err == nil {
		return path
	}
	b.Logf("building %d-event benchmark log at %s (once)", benchLogSize, path)
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
			batch[i] = benchEvent(n + i)
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

// BenchmarkQuery measures one filtered page of 100 from the 1,000,000-event
// log, per kind of filter, reporting the 99th percentile latency.
func BenchmarkQuery(b *testing.B) {
	s, err := sqlitestore.Open(benchLog(b), sqlitestore.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	mid := int64(benchLogSize / 2)
	fact := "" // a fact of the big tenant
	for n := 0; fact == ""; n++ {
		if e := benchEvent(n); e.Tenant == "big" {
			fact = e.FactID
		}
	}
	day := func(d int) string {
		return time.Date(2026, 4, d, 0, 0, 0, 0, time.UTC).Format(storetest.TSFormat)
	}
	queries := []struct {
		name string
		q    hostfns.Query
	}{
		{"tenant/newest", hostfns.Query{Tenant: "big", Order: hostfns.Descending}},
		{"tenant/deep", hostfns.Query{Tenant: "big", Order: hostfns.Descending, After: mid}},
		{"small-tenant/oldest", hostfns.Query{Tenant: "t9"}},
		{"type", hostfns.Query{Tenant: "big", Types: []string{"auth_failed"}, Order: hostfns.Descending}},
		{"two-types", hostfns.Query{Tenant: "big", Types: []string{"key_rotation", "api_key_create"}, Order: hostfns.Descending}},
		{"entity", hostfns.Query{Tenant: "big", EntityURI: "urn:principal:700", Order: hostfns.Descending}},
		{"oidc-sub", hostfns.Query{Tenant: "big", OIDCSub: "sub-700", Order: hostfns.Descending}},
		{"fact-trail", hostfns.Query{Tenant: "big", FactID: fact}},
		{"denied", hostfns.Query{Tenant: "big", Outcome: event.OutcomeDenied, Order: hostfns.Descending}},
		{"scope", hostfns.Query{Tenant: "mid", Scope: "facts:write", Order: hostfns.Descending}},
		{"source", hostfns.Query{Tenant: "mid", Source: ptr("cli"), Order: hostfns.Descending}},
		{"attested", hostfns.Query{Tenant: "mid", Attested: ptr(true), Order: hostfns.Descending}},
		{"one-day", hostfns.Query{Tenant: "big", Since: day(10), Until: day(11)}},
		{"since-day", hostfns.Query{Tenant: "big", Since: day(10), Order: hostfns.Descending}},
		{"until-day", hostfns.Query{Tenant: "big", Until: day(10), Order: hostfns.Descending}},
		{"type-and-window", hostfns.Query{Tenant: "big", Types: []string{"fact_write"}, Since: day(3), Until: day(20), Order: hostfns.Descending}},
		{"admin-all-tenants", hostfns.Query{Order: hostfns.Descending}},
		{"admin-type", hostfns.Query{Types: []string{"auth_failed"}, Order: hostfns.Descending}},
	}
	for _, qc := range queries {
		b.Run(qc.name, func(b *testing.B) {
			q := qc.q
			q.Limit = 100
			if q.After == 0 {
				q.After = -1
			}
			lat := make([]time.Duration, 0, b.N)
			rows := 0
			for i := 0; i < b.N; i++ {
				start := time.Now()
				p, err := s.Query(ctx, q)
				if err != nil {
					b.Fatal(err)
				}
				lat = append(lat, time.Since(start))
				rows = len(p.Events)
			}
			slices.Sort(lat)
			b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
			b.ReportMetric(float64(rows), "rows")
		})
	}
}

func ptr[T any](v T) *T { return &v }

// cpuTime is the CPU time (user and system) the process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
