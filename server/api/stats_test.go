package api

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/stigaudit/stigaudit/hostfns"
	"github.com/stigaudit/stigaudit/hostfns/pgstore"
	"github.com/stigaudit/stigaudit/hostfns/sqlitestore"
	"github.com/stigaudit/stigaudit/hostfns/storetest"
	"github.com/stigaudit/stigaudit/server/redact"
)

// statsStores are the stores that keep counts (the memory store does not).
var statsStores = []string{"sqlite", "postgres"}

// statsBase is the first minute of the stats tests' events.
var statsBase = time.Date(2026, 6, 1, 10, 0, 0, 0, time.UTC)

// fillStats emits 400 events into tenants a, b and c whose ts jump back
// and forth over two hours (emitters with skewed clocks), some by
// urn:a:alice, of three types and every outcome.
func fillStats(h *harness) {
	r := rand.New(rand.NewPCG(1, 2))
	entities := []string{"urn:a:alice", "urn:a:bob", "urn:x:carol"}
	outcomes := []string{"success", "success", "failure", "denied"}
	for range 40 {
		h.clock.set(statsBase.Add(time.Duration(r.IntN(120*60_000_000)) * time.Microsecond))
		var evs []map[string]any
		for range 10 {
			typ := []string{"fact_write", "fact_read", "admin_action"}[r.IntN(3)]
			e := ev(typ, entities[r.IntN(len(entities))], "tenant_id", []string{"a", "b", "c"}[r.IntN(3)], "outcome", outcomes[r.IntN(len(outcomes))])
			if typ == "fact_write" {
				e["fact_id"] = fmt.Sprintf("f%d", r.IntN(10))
			}
			if typ == "admin_action" {
				e["detail"] = map[string]any{"action": "test"}
			}
			evs = append(evs, e)
		}
		h.mustEmit(h.admin, map[string]any{"events": evs})
	}
}

// purgeStats purges the events before cutoff with the store's retention SQL.
func purgeStats(t *testing.T, h *harness, cutoff time.Time) {
	t.Helper()
	var p storetest.Purger
	switch st := h.store.Store.(type) {
	case *sqlitestore.Store:
		p = st.Purging()
	case *pgstore.Store:
		p = st.Purging()
	default:
		t.Fatalf("no purge for %T", st)
	}
	ctx := context.Background()
	c := cutoff.Format(tsLayout)
	ranges, err := p.Plan(ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	var n int64
	for _, pr := range ranges {
		k, err := p.Purge(ctx, pr.Tenant, pr.FirstSeq, pr.LastSeq+1, "2027-01-01T00:00:00.000000Z", c)
		if err != nil {
			t.Fatal(err)
		}
		n += k
	}
	p.Purged(ctx, c)
	if n == 0 {
		t.Fatal("the purge purged nothing")
	}
}

// listed counts, per bucket start and group key, what the list answers key
// for the window: the oracle the counts must match.
func (h *harness) listed(key, tenant, group string, since, until time.Time, width time.Duration) (map[string]map[string]float64, map[string]float64) {
	h.t.Helper()
	buckets, totals := map[string]map[string]float64{}, map[string]float64{}
	v := url.Values{"since": {since.Format(time.RFC3339)}, "until": {until.Format(time.RFC3339)}, "limit": {"1000"}}
	if tenant != "" {
		v.Set("tenant_id", tenant)
	}
	for {
		a := h.do(http.MethodGet, "/v1/audit?"+v.Encode(), key, nil)
		if a.status != http.StatusOK {
			h.t.Fatalf("list: %d %s", a.status, a.raw)
		}
		for _, e := range a.events() {
			ts, err := time.Parse(time.RFC3339Nano, e["ts"].(string))
			if err != nil {
				h.t.Fatal(err)
			}
			start := since.Add(ts.Sub(since) / width * width).Format(time.RFC3339)
			k, _ := e[group].(string)
			if buckets[start] == nil {
				buckets[start] = map[string]float64{}
			}
			buckets[start][k]++
			totals[k]++
		}
		next, _ := a.body["next_cursor"].(string)
		if next == "" {
			return buckets, totals
		}
		v.Set("cursor", next)
	}
}

func TestStatsMatchList(t *testing.T) {
	for _, kind := range statsStores {
		t.Run(kind, func(t *testing.T) { testStatsMatchList(t, kind) })
	}
}

// The counts equal counting what the list answers the same key, for
// admin (each tenant, and all), audit.read and read keys, before and after
// a purge inside the window; the purge keeps the counts by type and
// outcome.
func testStatsMatchList(t *testing.T, kind string) {
	h := newHarnessOn(t, kind)
	fillStats(h)
	auditA := h.key("auditA", "a", "urn:a:auditor", "audit.read")
	readAlice := h.key("readAlice", "a", "urn:a:alice", "read")
	type call struct {
		name, key, tenant string
	}
	calls := []call{
		{"admin a", h.admin, "a"}, {"admin b", h.admin, "b"}, {"admin c", h.admin, "c"}, {"admin all", h.admin, ""},
		{"audit.read a", auditA, ""}, {"read alice", readAlice, ""},
	}
	windows := []struct {
		bucket       string
		width        time.Duration
		since, until time.Time
	}{
		{"1m", time.Minute, statsBase.Add(50 * time.Minute), statsBase.Add(70 * time.Minute)},
		{"5m", 5 * time.Minute, statsBase, statsBase.Add(2 * time.Hour)},
		{"1h", time.Hour, statsBase.Add(-time.Hour), statsBase.Add(3 * time.Hour)},
		{"1d", 24 * time.Hour, statsBase.Truncate(24 * time.Hour), statsBase.Truncate(24 * time.Hour).Add(48 * time.Hour)},
	}
	check := func(when string) map[string]any {
		answers := map[string]any{}
		for _, c := range calls {
			for _, group := range []string{"event_type", "outcome", "entity_uri"} {
				for _, w := range windows {
					v := url.Values{"since": {w.since.Format(time.RFC3339)}, "until": {w.until.Format(time.RFC3339)},
						"bucket": {w.bucket}, "group": {group}}
					if c.tenant != "" {
						v.Set("tenant_id", c.tenant)
					}
					a := h.do(http.MethodGet, StatsRoute+"?"+v.Encode(), c.key, nil)
					if a.status != http.StatusOK {
						t.Fatalf("%s: %s %v: %d %s", when, c.name, v, a.status, a.raw)
					}
					wantBuckets, wantTotals := h.listed(c.key, c.tenant, group, w.since, w.until, w.width)
					gotBuckets := map[string]map[string]float64{}
					bs := a.body["buckets"].([]any)
					if len(bs) != int(w.until.Sub(w.since)/w.width) {
						t.Errorf("%s: %s %v: %d buckets", when, c.name, v, len(bs))
					}
					for _, b := range bs {
						b := b.(map[string]any)
						cs := map[string]float64{}
						for k, n := range b["counts"].(map[string]any) {
							cs[k] = n.(float64)
						}
						if len(cs) > 0 {
							gotBuckets[b["start"].(string)] = cs
						}
					}
					gotTotals := map[string]float64{}
					for k, n := range a.body["totals"].(map[string]any) {
						gotTotals[k] = n.(float64)
					}
					if !reflect.DeepEqual(gotBuckets, wantBuckets) || !reflect.DeepEqual(gotTotals, wantTotals) {
						t.Errorf("%s: %s %v:\n totals %v\n listed %v", when, c.name, v, gotTotals, wantTotals)
					}
					answers[c.name+" "+v.Encode()] = a.body["totals"]
				}
			}
		}
		return answers
	}
	before := check("before the purge")
	// A read key counts its own entity's events only.
	for k, totals := range before {
		if strings.HasPrefix(k, "read alice") && strings.Contains(k, "group=entity_uri") {
			for entity := range totals.(map[string]any) {
				if entity != "urn:a:alice" {
					t.Errorf("%s: a read key of urn:a:alice counts %s's events", k, entity)
				}
			}
		}
	}
	purgeStats(t, h, statsBase.Add(60*time.Minute+30*time.Second))
	after := check("after the purge")
	for k, b := range before {
		if (!strings.Contains(k, "group=entity_uri") && !strings.HasPrefix(k, "read alice")) && !reflect.DeepEqual(b, after[k]) {
			t.Errorf("%s: totals changed with the purge: %v, then %v", k, b, after[k])
		}
	}
	if reflect.DeepEqual(before, after) {
		t.Error("the purge changed no count, not even a read key's (its purged events no longer name it)")
	}
}

// Every parameter is checked: a bad one is 400 invalid_parameter, another
// tenant 403, and the answer's shape is the documented one.
func TestStatsParameters(t *testing.T) {
	h := newHarnessOn(t, "sqlite")
	auditA := h.key("auditA", "a", "urn:a:auditor", "audit.read")
	write := h.key("writer", "a", "urn:a:writer", "audit.write")
	const ok = "since=2026-06-01T10:00:00Z&until=2026-06-01T10:03:00Z"
	tests := []struct {
		name, query, key string
		status           int
		code             string
	}{
		{"defaults", ok, auditA, 400, "invalid_parameter"}, // 1h buckets: 10:03 is not at one's start
		{"1m", ok + "&bucket=1m", auditA, 200, ""},
		{"offset", "since=2026-06-01T12:00:00%2B02:00&until=2026-06-01T11:00:00Z", auditA, 200, ""},
		{"no since", "until=2026-06-01T10:00:00Z", auditA, 400, "invalid_parameter"},
		{"no until", "since=2026-06-01T10:00:00Z", auditA, 400, "invalid_parameter"},
		{"empty since", "since=&until=2026-06-01T10:00:00Z", auditA, 400, "invalid_parameter"},
		{"bad time", "since=yesterday&until=2026-06-01T10:00:00Z", auditA, 400, "invalid_parameter"},
		{"since after until", "since=2026-06-01T11:00:00Z&until=2026-06-01T10:00:00Z", auditA, 400, "invalid_parameter"},
		{"since equals until", "since=2026-06-01T10:00:00Z&until=2026-06-01T10:00:00Z", auditA, 400, "invalid_parameter"},
		{"not aligned", "since=2026-06-01T10:00:30Z&until=2026-06-01T11:00:00Z&bucket=1m", auditA, 400, "invalid_parameter"},
		{"not aligned 5m", "since=2026-06-01T10:01:00Z&until=2026-06-01T11:00:00Z&bucket=5m", auditA, 400, "invalid_parameter"},
		{"not a UTC day", "since=2026-06-01T00:00:00%2B02:00&until=2026-06-03T00:00:00Z&bucket=1d", auditA, 400, "invalid_parameter"},
		{"too many buckets", "since=2026-06-01T00:00:00Z&until=2026-06-08T00:01:00Z&bucket=1m", auditA, 400, "invalid_parameter"},
		{"a week of minutes", "since=2026-06-01T00:00:00Z&until=2026-06-08T00:00:00Z&bucket=1m", auditA, 200, ""},
		{"bad bucket", ok + "&bucket=2m", auditA, 400, "invalid_parameter"},
		{"bad group", ok + "&bucket=1m&group=source", auditA, 400, "invalid_parameter"},
		{"repeated group", ok + "&bucket=1m&group=outcome&group=outcome", auditA, 400, "invalid_parameter"},
		{"unknown parameter", ok + "&bucket=1m&limit=10", auditA, 400, "invalid_parameter"},
		{"entity filter", ok + "&bucket=1m&entity_uri=urn:a:x", auditA, 400, "invalid_parameter"},
		{"own tenant", ok + "&bucket=1m&tenant_id=a", auditA, 200, ""},
		{"other tenant", ok + "&bucket=1m&tenant_id=b", auditA, 403, "forbidden"},
		{"bad tenant", ok + "&bucket=1m&tenant_id=%20", h.admin, 400, "invalid_parameter"},
		{"write key", ok + "&bucket=1m", write, 403, "forbidden"},
		{"no key", ok + "&bucket=1m", "", 401, "unauthorized"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := h.do(http.MethodGet, StatsRoute+"?"+tc.query, tc.key, nil)
			if a.status != tc.status || a.code() != tc.code {
				t.Fatalf("%d %q, want %d %q: %s", a.status, a.code(), tc.status, tc.code, a.raw)
			}
		})
	}

	h.clock.set(time.Date(2026, 6, 1, 10, 1, 5, 0, time.UTC))
	h.mustEmit(write, ev("fact_read", "urn:a:alice"))
	h.mustEmit(write, ev("fact_read", "urn:a:alice", "outcome", "denied"))
	a := h.do(http.MethodGet, StatsRoute+"?"+ok+"&bucket=1m", auditA, nil)
	const want = `{"bucket":"1m","group":"outcome","since":"2026-06-01T10:00:00Z","until":"2026-06-01T10:03:00Z",` +
		`"buckets":[{"start":"2026-06-01T10:00:00Z","counts":{}},{"start":"2026-06-01T10:01:00Z","counts":{"denied":1,"success":1}},` +
		`{"start":"2026-06-01T10:02:00Z","counts":{}}],"totals":{"denied":1,"success":1}}`
	if string(a.raw) != want {
		t.Errorf("answer\n%s\nwant\n%s", a.raw, want)
	}
}

// With redaction, the keys of group=entity_uri are redacted as the list's
// entity_uri is; other groups are not.
func TestStatsRedacted(t *testing.T) {
	h := newHarnessOn(t, "sqlite")
	hasher, err := redact.NewHasher(make([]byte, 32))
	if err != nil {
		t.Fatal(err)
	}
	profile, err := redact.ParseProfile(redact.DefaultFields)
	if err != nil {
		t.Fatal(err)
	}
	pol := redact.NewPolicy(hasher, profile, nil)
	h.e = mount(Config{Log: h.log, Keys: h.keys, Logger: quiet, Stats: h.store.Store.(StatsReader), Redaction: pol}, nil)
	h.clock.set(statsBase.Add(time.Minute))
	h.mustEmit(h.admin, ev("fact_read", "urn:a:alice", "tenant_id", "a"))
	q := StatsRoute + "?since=2026-06-01T10:00:00Z&until=2026-06-01T11:00:00Z&tenant_id=a"
	list := h.do(http.MethodGet, "/v1/audit?redact=hmac&tenant_id=a", h.admin, nil)
	redacted := list.events()[0]["entity_uri"].(string)
	if !strings.HasPrefix(redacted, "hmac-sha256:") {
		t.Fatalf("the list's entity_uri %q is not redacted", redacted)
	}
	for _, tc := range []struct{ query, key string }{
		{q + "&group=entity_uri&redact=hmac", redacted},
		{q + "&group=entity_uri", "urn:a:alice"},
		{q + "&group=event_type&redact=hmac", "fact_read"},
	} {
		a := h.do(http.MethodGet, tc.query, h.admin, nil)
		if totals, _ := a.body["totals"].(map[string]any); a.status != http.StatusOK || totals[tc.key] != 1.0 || len(totals) != 1 {
			t.Errorf("%s: %d %s, want the one count under %s", tc.query, a.status, a.raw, tc.key)
		}
	}
}

// BenchmarkStatsAnswer measures what the handler adds to the store's
// Stats for a day in 1-minute buckets: bucketing 20,160 minute rows (20
// types × 1,440 minutes) and writing the answer.
func BenchmarkStatsAnswer(b *testing.B) {
	since := statsBase.Truncate(24 * time.Hour)
	req := statsRequest{q: hostfns.StatsQuery{Group: hostfns.GroupEventType}, since: since, until: since.Add(24 * time.Hour), bucket: "1m", width: time.Minute}
	var rows []hostfns.StatsRow
	for m := range 1440 {
		for k := range 20 {
			rows = append(rows, hostfns.StatsRow{Minute: minuteKey(since.Add(time.Duration(m) * time.Minute)), Key: fmt.Sprintf("type_%02d", k), Count: int64(m + k + 1)})
		}
	}
	b.ReportAllocs()
	for b.Loop() {
		appendStats(nil, req, rows)
	}
}
