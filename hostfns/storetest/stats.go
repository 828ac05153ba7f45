package storetest

import (
	"cmp"
	"context"
	"crypto/sha256"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/stigaudit/stigaudit/core/event"
	"github.com/stigaudit/stigaudit/hostfns"
	"github.com/stigaudit/stigaudit/hostfns/sqlquery"
)

// StatsStore is a store that counts events per minute (GET /v1/audit/stats).
type StatsStore interface {
	hostfns.Store
	Stats(ctx context.Context, q hostfns.StatsQuery) ([]hostfns.StatsRow, error)
}

// Purger is a store's retention SQL (retention.Purging's planning and
// purging methods), which RunStats drives to purge old events.
type Purger interface {
	Plan(ctx context.Context, cutoff string) ([]hostfns.PurgeRange, error)
	Purge(ctx context.Context, tenant string, from, to int64, stamp, cutoff string) (int64, error)
	Purged(ctx context.Context, cutoff string)
}

// statsBase is the first minute of RunStats's events.
var statsBase = time.Date(2026, 6, 1, 10, 0, 0, 0, time.UTC)

// StatsEvents returns n events of three tenants whose ts are spread over
// the three hours from statsBase and out of seq order (emitters with
// skewed clocks), with every type, outcome and five entities, in a fixed
// pseudo-random order (seed).
func StatsEvents(n int, seed uint64) []event.Event {
	r := rand.New(rand.NewPCG(seed, 1))
	out := make([]event.Event, n)
	for i := range out {
		ts := statsBase.Add(time.Duration(r.IntN(3*3600*1_000_000)) * time.Microsecond)
		e := event.Event{
			Seq:       -1,
			ID:        fmt.Sprintf("01910000-0000-7000-8000-%012x", seed<<32|uint64(i)),
			Type:      types[r.IntN(len(types))],
			TS:        ts.Format(TSFormat),
			Tenant:    []string{"acme", "globex", "initech"}[r.IntN(3)],
			EntityURI: fmt.Sprintf("urn:principal:%d", r.IntN(5)),
			Outcome:   outcomes[r.IntN(len(outcomes))],
		}
		e.LeafHash = sha256.Sum256([]byte("leaf:" + e.ID))
		out[i] = e
	}
	return out
}

// Minute returns the minute key of t.
func Minute(t time.Time) string { return t.UTC().Format(TSFormat)[:hostfns.MinuteLen] }

// CountStats counts events the way a store's Stats does: per minute of
// their ts and value of the grouped column, in (minute, key) order.
func CountStats(evs []event.Event, group string) []hostfns.StatsRow {
	counts := map[[2]string]int64{}
	for _, e := range evs {
		var k string
		switch group {
		case hostfns.GroupEventType:
			k = e.Type
		case hostfns.GroupOutcome:
			k = e.Outcome
		case hostfns.GroupEntityURI:
			k = e.EntityURI
		}
		counts[[2]string{e.TS[:hostfns.MinuteLen], k}]++
	}
	out := make([]hostfns.StatsRow, 0, len(counts))
	for k, n := range counts {
		out = append(out, hostfns.StatsRow{Minute: k[0], Key: k[1], Count: n})
	}
	slices.SortFunc(out, func(a, b hostfns.StatsRow) int {
		if a.Minute != b.Minute {
			return cmp.Compare(a.Minute, b.Minute)
		}
		return cmp.Compare(a.Key, b.Key)
	})
	return out
}

// statsQueries are the queries RunStats compares with counting the events
// a Query returns.
func statsQueries() []hostfns.StatsQuery {
	var qs []hostfns.StatsQuery
	windows := [][2]time.Time{
		{statsBase, statsBase.Add(3 * time.Hour)},                          // everything
		{statsBase.Add(30 * time.Minute), statsBase.Add(95 * time.Minute)}, // across the purge's cutoff
		{statsBase.Add(-time.Hour), statsBase.Add(time.Minute)},            // the first minute, and none before
		{statsBase.Add(4 * time.Hour), statsBase.Add(5 * time.Hour)},       // empty
	}
	for _, tenant := range []string{"acme", "globex", "initech", ""} {
		for _, entity := range []string{"", "urn:principal:3"} {
			for _, group := range []string{hostfns.GroupEventType, hostfns.GroupOutcome, hostfns.GroupEntityURI} {
				for _, w := range windows {
					qs = append(qs, hostfns.StatsQuery{Tenant: tenant, EntityURI: entity, Group: group,
						Since: Minute(w[0]), Until: Minute(w[1])})
				}
			}
		}
	}
	return qs
}

// RunStats checks a store's Stats against counting the events its Query
// returns: for three tenants with skewed clocks, grouped by event type,
// outcome and entity, for one entity or all, in windows that cross a
// retention purge; before and after the purge, which must keep the counts
// by type and outcome and remove the purged events from the counts of an
// entity (a purged event no longer names one). open returns a new, empty
// store and its retention SQL.
func RunStats(t *testing.T, open func(t *testing.T) (StatsStore, Purger)) {
	s, p := open(t)
	evs := StatsEvents(1500, 7)
	r := rand.New(rand.NewPCG(8, 9))
	for i := 0; i < len(evs); {
		n := min(1+r.IntN(60), len(evs)-i)
		mustAppend(t, s, evs[i:i+n])
		i += n
	}
	// An idempotent re-send is not counted again.
	mustAppend(t, s, evs[100:140])

	check := func(when string) map[string][]hostfns.StatsRow {
		t.Helper()
		got := map[string][]hostfns.StatsRow{}
		for _, q := range statsQueries() {
			rows, err := s.Stats(ctx, q)
			if err != nil {
				t.Fatalf("%s: Stats(%+v): %v", when, q, err)
			}
			listed := PageAll(t, s, hostfns.Query{Tenant: q.Tenant, EntityURI: q.EntityURI,
				Since: sqlquery.MinuteTS(q.Since), Until: sqlquery.MinuteTS(q.Until), After: -1, Limit: hostfns.MaxQueryLimit})
			if want := CountStats(listed, q.Group); !slices.Equal(rows, want) {
				t.Errorf("%s: Stats(%+v) = %d rows, counting the %d events listed gives %d rows:\n got %v\nwant %v",
					when, q, len(rows), len(listed), len(want), head(rows), head(want))
			}
			got[fmt.Sprintf("%+v", q)] = rows
		}
		return got
	}
	before := check("before the purge")

	cutoff := statsBase.Add(60*time.Minute + 30*time.Second).Format(TSFormat)
	ranges, err := p.Plan(ctx, cutoff)
	if err != nil {
		t.Fatalf("Plan: %v", err)
	}
	var purged int64
	for _, pr := range ranges {
		n, err := p.Purge(ctx, pr.Tenant, pr.FirstSeq, pr.LastSeq+1, "2027-01-01T00:00:00.000000Z", cutoff)
		if err != nil {
			t.Fatalf("Purge: %v", err)
		}
		purged += n
	}
	p.Purged(ctx, cutoff)
	if purged == 0 {
		t.Fatalf("the purge purged nothing (plan %+v)", ranges)
	}
	after := check("after the purge")
	for _, q := range statsQueries() {
		k := fmt.Sprintf("%+v", q)
		if q.FromEvents() {
			continue
		}
		if !slices.Equal(before[k], after[k]) {
			t.Errorf("Stats(%+v) changed with the purge of %d events:\nbefore %v\n after %v", q, purged, head(before[k]), head(after[k]))
		}
	}
}

func head(rows []hostfns.StatsRow) []hostfns.StatsRow { return rows[:min(len(rows), 5)] }
