package storetest

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/stigaudit/stigaudit/core/auditerr"
	"github.com/stigaudit/stigaudit/core/event"
	"github.com/stigaudit/stigaudit/hostfns"
)

// Run runs the conformance suite. open must return a new, empty store for
// each call and arrange for it to be closed (t.Cleanup); the suite may also
// close it itself, so Close must be safe to call twice.
func Run(t *testing.T, open func(t *testing.T) hostfns.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s hostfns.Store)
	}{
		{"Empty", testEmpty},
		{"SeqsContiguousFromZero", testSeqs},
		{"BatchAtomic", testBatchAtomic},
		{"IdempotentResend", testIdempotent},
		{"IDConflict", testIDConflict},
		{"DuplicatesInOneCall", testDuplicatesInCall},
		{"IDsScopedToTenant", testTenantScopedIDs},
		{"Filters", testFilters},
		{"SinceUntilBoundaries", testSinceUntil},
		{"InvalidQuery", testInvalidQuery},
		{"PagingWhileAppending", testPagingWhileAppending},
		{"ConcurrentAppends", testConcurrentAppends},
		{"CanceledContext", testCanceled},
		{"Close", testClose},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.fn(t, open(t))
		})
	}
}

var ctx = context.Background()

func mustAppend(t *testing.T, s hostfns.Store, evs []event.Event) []event.Event {
	t.Helper()
	got, err := s.Append(ctx, evs)
	if err != nil {
		t.Fatalf("Append(%d events): %v", len(evs), err)
	}
	if len(got) != len(evs) {
		t.Fatalf("Append returned %d events for %d", len(got), len(evs))
	}
	return got
}

func mustSize(t *testing.T, s hostfns.Store, want int64) {
	t.Helper()
	got, err := s.Size(ctx)
	if err != nil {
		t.Fatalf("Size: %v", err)
	}
	if got != want {
		t.Fatalf("Size = %d, want %d", got, want)
	}
}

// sameEvent reports whether a and b are equal in every field.
func sameEvent(a, b *event.Event) bool {
	return a.SameContent(b) && a.Seq == b.Seq && a.TS == b.TS && a.LeafHash == b.LeafHash
}

func withSeq(e event.Event, seq int64) event.Event {
	e.Seq = seq
	return e
}

// checkEvents fails unless got equals want, field by field.
func checkEvents(t *testing.T, what string, got, want []event.Event) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d events %v, want %d %v", what, len(got), seqs(got), len(want), seqs(want))
	}
	for i := range got {
		if !sameEvent(&got[i], &want[i]) {
			t.Fatalf("%s: event %d is\n  %+v\nwant\n  %+v", what, i, got[i], want[i])
		}
	}
}

func seqs(evs []event.Event) []int64 {
	out := make([]int64, len(evs))
	for i := range evs {
		out[i] = evs[i].Seq
	}
	return out
}

// want is the reference implementation of Query over the whole log (in seq
// order), without the limit.
func want(log []event.Event, q hostfns.Query) []event.Event {
	var out []event.Event
	for _, e := range log {
		if q.After >= 0 && (q.Order == hostfns.Ascending && e.Seq <= q.After || q.Order == hostfns.Descending && e.Seq >= q.After) {
			continue
		}
		if q.Tenant != "" && e.Tenant != q.Tenant ||
			len(q.Types) > 0 && !slices.Contains(q.Types, e.Type) ||
			q.EntityURI != "" && e.EntityURI != q.EntityURI ||
			q.OIDCSub != "" && e.OIDCSub != q.OIDCSub ||
			q.Source != nil && e.Source != *q.Source ||
			q.FactID != "" && e.FactID != q.FactID ||
			q.Outcome != "" && e.Outcome != q.Outcome ||
			q.Scope != "" && e.Scope != q.Scope ||
			q.Attested != nil && *q.Attested != (e.AttestedKeyID != "") ||
			q.Since != "" && e.TS < q.Since ||
			q.Until != "" && e.TS >= q.Until {
			continue
		}
		out = append(out, e)
	}
	if q.Order == hostfns.Descending {
		slices.Reverse(out)
	}
	return out
}

func testEmpty(t *testing.T, s hostfns.Store) {
	mustSize(t, s, 0)
	for _, o := range []hostfns.Order{hostfns.Ascending, hostfns.Descending} {
		p, err := s.Query(ctx, hostfns.Query{Order: o, After: -1, Limit: 10})
		if err != nil || len(p.Events) != 0 || p.HasMore {
			t.Fatalf("Query on an empty store: %+v, %v", p, err)
		}
	}
	if err := s.Ping(ctx); err != nil {
		t.Fatalf("Ping: %v", err)
	}
	if g, ok := s.(hostfns.Getter); ok {
		if _, err := g.Get(ctx, NewEvent(0).Tenant, NewEvent(0).ID); !errors.Is(err, auditerr.ErrNotFound) {
			t.Fatalf("Get on an empty store: %v, want ErrNotFound", err)
		}
	}
	CheckTree(t, s)
}

func testSeqs(t *testing.T, s hostfns.Store) {
	in := NewEvents(0, 9)
	var got []event.Event
	got = append(got, mustAppend(t, s, in[0:1])...)
	got = append(got, mustAppend(t, s, in[1:6])...)
	for i := 6; i < 9; i++ {
		got = append(got, mustAppend(t, s, in[i:i+1])...)
	}
	var wantLog []event.Event
	for i, e := range in {
		wantLog = append(wantLog, withSeq(e, int64(i)))
	}
	checkEvents(t, "Append answers", got, wantLog)
	mustSize(t, s, 9)
	checkEvents(t, "stored log", Stored(t, s), wantLog)
	if g, ok := s.(hostfns.Getter); ok {
		for _, e := range wantLog {
			ge, err := g.Get(ctx, e.Tenant, e.ID)
			if err != nil || !sameEvent(&ge, &e) {
				t.Fatalf("Get(%s) = %+v, %v; want %+v", e.ID, ge, err, e)
			}
		}
	}
	if got, err := s.Append(ctx, nil); err != nil || len(got) != 0 {
		t.Fatalf("Append(nil) = %v, %v; want nothing", got, err)
	}
	mustSize(t, s, 9)
	CheckTree(t, s)
}

// errIndex returns the batch index an error names, or -1.
func errIndex(err error) int {
	var ae *auditerr.Error
	if errors.As(err, &ae) {
		return ae.Index
	}
	return -1
}

func testBatchAtomic(t *testing.T, s hostfns.Store) {
	mustAppend(t, s, NewEvents(0, 2))
	bad := []struct {
		name  string
		tweak func(*event.Event)
		code  *auditerr.Error
	}{
		{"no id", func(e *event.Event) { e.ID = "" }, auditerr.ErrMissingField},
		{"no tenant", func(e *event.Event) { e.Tenant = "" }, auditerr.ErrMissingField},
		{"bad outcome", func(e *event.Event) { e.Outcome = "maybe" }, auditerr.ErrInvalidOutcome},
		{"empty detail object", func(e *event.Event) { e.Detail = []byte("{}") }, auditerr.ErrInvalidDetail},
	}
	for _, tc := range bad {
		batch := NewEvents(10, 4)
		tc.tweak(&batch[2])
		_, err := s.Append(ctx, batch)
		if !errors.Is(err, tc.code) || errIndex(err) != 2 {
			t.Fatalf("%s: Append = %v (index %d), want %s at index 2", tc.name, err, errIndex(err), tc.code.Code)
		}
		mustSize(t, s, 2)
	}
	if g, ok := s.(hostfns.Getter); ok {
		if _, err := g.Get(ctx, NewEvent(10).Tenant, NewEvent(10).ID); !errors.Is(err, auditerr.ErrNotFound) {
			t.Fatalf("event 0 of a refused batch: Get = %v, want ErrNotFound", err)
		}
	}
	// The log goes on from where it was.
	got := mustAppend(t, s, NewEvents(10, 4))
	if got[0].Seq != 2 || got[3].Seq != 5 {
		t.Fatalf("after refused batches, seqs %v, want 2..5", seqs(got))
	}
	CheckTree(t, s)
}

func testIdempotent(t *testing.T, s hostfns.Store) {
	first := mustAppend(t, s, NewEvents(0, 2))
	// A re-send is built later: another ts, hence another leaf hash.
	resend := NewEvent(0)
	resend.TS = "2027-01-01T00:00:00.000000Z"
	resend.LeafHash[0] ^= 0xff
	got := mustAppend(t, s, []event.Event{resend})
	checkEvents(t, "re-send", got, first[:1])
	mustSize(t, s, 2)

	// Mixed: one new, one re-sent.
	got = mustAppend(t, s, []event.Event{NewEvent(2), NewEvent(1)})
	checkEvents(t, "mixed call", got, []event.Event{withSeq(NewEvent(2), 2), first[1]})
	mustSize(t, s, 3)
	checkEvents(t, "stored log", Stored(t, s), []event.Event{first[0], first[1], withSeq(NewEvent(2), 2)})
	CheckTree(t, s)
}

func testIDConflict(t *testing.T, s hostfns.Store) {
	mustAppend(t, s, NewEvents(0, 2))
	tweaks := []struct {
		name  string
		tweak func(*event.Event)
	}{
		{"outcome", func(e *event.Event) { e.Outcome = event.OutcomeDenied }},
		{"detail", func(e *event.Event) { e.Detail = []byte(`{"n":999}`) }},
		{"optional field set", func(e *event.Event) { e.Scope = "other" }},
	}
	for _, tc := range tweaks {
		changed := NewEvent(1)
		tc.tweak(&changed)
		_, err := s.Append(ctx, []event.Event{NewEvent(5), changed})
		if !errors.Is(err, auditerr.ErrIDConflict) || errIndex(err) != 1 {
			t.Fatalf("%s: Append = %v (index %d), want id_conflict at index 1", tc.name, err, errIndex(err))
		}
		mustSize(t, s, 2)
	}
	if g, ok := s.(hostfns.Getter); ok {
		if _, err := g.Get(ctx, NewEvent(5).Tenant, NewEvent(5).ID); !errors.Is(err, auditerr.ErrNotFound) {
			t.Fatalf("new event of a conflicting call: Get = %v, want ErrNotFound", err)
		}
	}
}

// inTenant returns e as another tenant's event: the same id, another
// tenant (and so another leaf hash).
func inTenant(e event.Event, tenant string) event.Event {
	e.Tenant = tenant
	e.LeafHash = sha256.Sum256([]byte("leaf:" + tenant + ":" + e.ID))
	return e
}

// testTenantScopedIDs: ids are unique per tenant (docs/event-format.md#ids). The same id in
// another tenant is another event — stored, never answered with the first
// tenant's event, never a conflict naming its seq — and each tenant's
// re-sends, conflicts and Get see only their own.
func testTenantScopedIDs(t *testing.T, s hostfns.Store) {
	a := NewEvent(0)
	b := inTenant(a, "tenant-b")
	if a.Tenant == b.Tenant {
		t.Fatal("test events share a tenant")
	}
	first := mustAppend(t, s, []event.Event{a})
	got := mustAppend(t, s, []event.Event{b})
	checkEvents(t, "the same id in another tenant", got, []event.Event{withSeq(b, 1)})

	// Another tenant's content under the id is its own business too.
	c := inTenant(NewEvent(1), "tenant-c")
	c.ID = a.ID
	c.Outcome = event.OutcomeDenied
	got = mustAppend(t, s, []event.Event{c})
	checkEvents(t, "the same id, other content, a third tenant", got, []event.Event{withSeq(c, 2)})

	// Both tenants of one call, and each one's re-send.
	d := NewEvent(3)
	got = mustAppend(t, s, []event.Event{d, inTenant(d, "tenant-b"), a, b})
	checkEvents(t, "one id in two tenants in one call", got, []event.Event{withSeq(d, 3), withSeq(inTenant(d, "tenant-b"), 4), first[0], withSeq(b, 1)})
	mustSize(t, s, 5)

	// A conflict names the caller's own tenant's seq only.
	changed := b
	changed.Outcome = event.OutcomeFailure
	_, err := s.Append(ctx, []event.Event{changed})
	if !errors.Is(err, auditerr.ErrIDConflict) {
		t.Fatalf("changed re-send in tenant-b: %v, want id_conflict", err)
	}
	if want := "(seq 1)"; !strings.Contains(err.Error(), want) {
		t.Errorf("the conflict in tenant-b says %q; want it to name tenant-b's %s only", err, want)
	}
	mustSize(t, s, 5)

	if g, ok := s.(hostfns.Getter); ok {
		for _, want := range []event.Event{withSeq(a, 0), withSeq(b, 1), withSeq(c, 2)} {
			ge, err := g.Get(ctx, want.Tenant, want.ID)
			if err != nil || !sameEvent(&ge, &want) {
				t.Fatalf("Get(%s, %s) = %+v, %v; want %+v", want.Tenant, want.ID, ge, err, want)
			}
		}
		if _, err := g.Get(ctx, "tenant-z", a.ID); !errors.Is(err, auditerr.ErrNotFound) {
			t.Fatalf("Get in a tenant without the id: %v, want ErrNotFound", err)
		}
	}
	CheckTree(t, s)
}

func testDuplicatesInCall(t *testing.T, s hostfns.Store) {
	x := NewEvent(0)
	got := mustAppend(t, s, []event.Event{x, x})
	checkEvents(t, "same event twice", got, []event.Event{withSeq(x, 0), withSeq(x, 0)})
	mustSize(t, s, 1)

	z, w := NewEvent(1), NewEvent(2)
	z2 := z
	z2.TS = "2027-01-01T00:00:00.000000Z"
	got = mustAppend(t, s, []event.Event{z, w, z2})
	checkEvents(t, "z, w, z again", got, []event.Event{withSeq(z, 1), withSeq(w, 2), withSeq(z, 1)})
	mustSize(t, s, 3)

	y, y2 := NewEvent(3), NewEvent(3)
	y2.Outcome = event.OutcomeDenied
	_, err := s.Append(ctx, []event.Event{y, NewEvent(4), y2})
	if !errors.Is(err, auditerr.ErrIDConflict) || errIndex(err) != 2 {
		t.Fatalf("same id, different content in one call: %v (index %d), want id_conflict at 2", err, errIndex(err))
	}
	mustSize(t, s, 3)
	CheckTree(t, s)
}

func ptr[T any](v T) *T { return &v }

// filterQueries are the queries of the filter tests, each against a log of
// NewEvents(0, n).
func filterQueries(log []event.Event) []struct {
	name string
	q    hostfns.Query
} {
	mid := log[len(log)/2].TS
	late := log[3*len(log)/4].TS
	return []struct {
		name string
		q    hostfns.Query
	}{
		{"everything", hostfns.Query{}},
		{"tenant", hostfns.Query{Tenant: "acme"}},
		{"unknown tenant", hostfns.Query{Tenant: "nobody"}},
		{"one type", hostfns.Query{Tenant: "acme", Types: []string{"fact_write"}}},
		{"two types", hostfns.Query{Tenant: "globex", Types: []string{"fact_read", "admin_action"}}},
		{"type across tenants", hostfns.Query{Types: []string{"admin_action"}}},
		{"entity", hostfns.Query{Tenant: "acme", EntityURI: "urn:principal:2"}},
		{"oidc_sub", hostfns.Query{Tenant: "acme", OIDCSub: "sub-1"}},
		{"source empty", hostfns.Query{Tenant: "acme", Source: ptr("")}},
		{"source api", hostfns.Query{Tenant: "globex", Source: ptr("api")}},
		{"fact_id", hostfns.Query{Tenant: "acme", FactID: "fact-4"}},
		{"outcome denied", hostfns.Query{Tenant: "acme", Outcome: event.OutcomeDenied}},
		{"scope", hostfns.Query{Tenant: "globex", Scope: "facts:write"}},
		{"attested", hostfns.Query{Tenant: "acme", Attested: ptr(true)}},
		{"not attested", hostfns.Query{Tenant: "acme", Attested: ptr(false)}},
		{"since", hostfns.Query{Tenant: "acme", Since: mid}},
		{"until", hostfns.Query{Tenant: "acme", Until: mid}},
		{"since and until", hostfns.Query{Tenant: "globex", Since: mid, Until: late}},
		{"empty time range", hostfns.Query{Tenant: "globex", Since: mid, Until: mid}},
		{"combined", hostfns.Query{Tenant: "acme", Types: []string{"fact_write", "fact_read"}, Outcome: event.OutcomeSuccess, Attested: ptr(false), Since: log[10].TS}},
		{"no match", hostfns.Query{Tenant: "acme", EntityURI: "urn:principal:2", FactID: "fact-nope"}},
	}
}

func testFilters(t *testing.T, s hostfns.Store) {
	var log []event.Event
	for i := 0; i < 240; i += 40 {
		log = append(log, mustAppend(t, s, NewEvents(i, 40))...)
	}
	for _, fq := range filterQueries(log) {
		for _, order := range []hostfns.Order{hostfns.Ascending, hostfns.Descending} {
			q := fq.q
			q.Order = order
			q.After = -1
			all := want(log, q)
			if fq.name != "no match" && fq.name != "unknown tenant" && fq.name != "empty time range" {
				if len(all) == 0 || len(all) == len(log) && fq.name != "everything" {
					t.Fatalf("%s: the reference selects %d of %d events; the test data does not exercise the filter", fq.name, len(all), len(log))
				}
			}
			name := fmt.Sprintf("%s order %d", fq.name, order)
			// One big page.
			q.Limit = hostfns.MaxQueryLimit
			p, err := s.Query(ctx, q)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			checkEvents(t, name, p.Events, all)
			if p.HasMore {
				t.Fatalf("%s: HasMore on the last page", name)
			}
			// Small pages, following After.
			q.Limit = 7
			q.After = -1
			checkEvents(t, name+" in pages of 7", PageAll(t, s, q), all)
			// A page starting in the middle.
			if len(all) > 3 {
				q.After = all[2].Seq
				q.Limit = 2
				p, err := s.Query(ctx, q)
				if err != nil {
					t.Fatalf("%s after %d: %v", name, q.After, err)
				}
				checkEvents(t, fmt.Sprintf("%s after %d", name, q.After), p.Events, all[3:5])
				if p.HasMore != (len(all) > 5) {
					t.Fatalf("%s after %d: HasMore %v with %d more", name, q.After, p.HasMore, len(all)-5)
				}
			}
		}
	}
}

func testSinceUntil(t *testing.T, s hostfns.Store) {
	log := mustAppend(t, s, NewEvents(0, 40))
	// Events 20 and 21 share a timestamp; 19 is skewed a second early.
	at := log[20].TS
	if log[21].TS != at || log[19].TS >= at {
		t.Fatalf("test data: ts %s %s %s", log[19].TS, log[20].TS, log[21].TS)
	}
	q := hostfns.Query{Since: at, After: -1, Limit: 100}
	since := PageAll(t, s, q)
	q = hostfns.Query{Until: at, After: -1, Limit: 100}
	until := PageAll(t, s, q)
	in := func(evs []event.Event, seq int64) bool {
		return slices.ContainsFunc(evs, func(e event.Event) bool { return e.Seq == seq })
	}
	if !in(since, 20) || !in(since, 21) || in(since, 19) {
		t.Fatalf("since %s (inclusive) returned seqs %v", at, seqs(since))
	}
	if in(until, 20) || in(until, 21) || !in(until, 19) {
		t.Fatalf("until %s (exclusive) returned seqs %v", at, seqs(until))
	}
	if len(since)+len(until) != len(log) {
		t.Fatalf("since and until %s split %d events into %d + %d", at, len(log), len(since), len(until))
	}
}

func testInvalidQuery(t *testing.T, s hostfns.Store) {
	mustAppend(t, s, NewEvents(0, 3))
	for _, q := range []hostfns.Query{
		{Limit: 0, After: -1},
		{Limit: hostfns.MaxQueryLimit + 1, After: -1},
		{Limit: 10, After: -2},
		{Limit: 10, After: -1, Order: 7},
		{Limit: 10, After: -1, Since: "2026-05-04T00:00:00.000000Z", Until: "2026-05-03T00:00:00.000000Z"},
	} {
		if _, err := s.Query(ctx, q); !errors.Is(err, auditerr.ErrInvalidParameter) {
			t.Errorf("Query(%+v) = %v, want invalid_parameter", q, err)
		}
	}
}

// testPagingWhileAppending pages through one tenant in both orders while
// other goroutines append. Every event that matched when paging began must
// be seen exactly once, and nothing that does not match.
func testPagingWhileAppending(t *testing.T, s hostfns.Store) {
	const before, during = 300, 300
	for i := 0; i < before; i += 100 {
		mustAppend(t, s, NewEvents(i, 100))
	}
	for _, order := range []hostfns.Order{hostfns.Ascending, hostfns.Descending} {
		initial := want(Stored(t, s), hostfns.Query{Tenant: "acme", After: -1, Order: order})
		start, _ := s.Size(ctx)

		var wg sync.WaitGroup
		errs := make(chan error, 4)
		for g := 0; g < 4; g++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := g; i < during; i += 4 {
					n := int(start) + i
					if _, err := s.Append(ctx, []event.Event{NewEvent(n)}); err != nil {
						errs <- err
						return
					}
				}
			}()
		}
		seen := PageAll(t, s, hostfns.Query{Tenant: "acme", Order: order, After: -1, Limit: 9})
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatalf("concurrent Append: %v", err)
		}

		ids := make(map[string]bool, len(seen))
		for i, e := range seen {
			if ids[e.ID] {
				t.Fatalf("order %d: event %s (seq %d) seen twice", order, e.ID, e.Seq)
			}
			ids[e.ID] = true
			if e.Tenant != "acme" {
				t.Fatalf("order %d: event of tenant %s in an acme query", order, e.Tenant)
			}
			if i > 0 && (order == hostfns.Ascending) != (e.Seq > seen[i-1].Seq) {
				t.Fatalf("order %d: seq %d after %d", order, e.Seq, seen[i-1].Seq)
			}
		}
		for _, e := range initial {
			if !ids[e.ID] {
				t.Fatalf("order %d: event seq %d, stored before paging began, was never seen", order, e.Seq)
			}
		}
		if order == hostfns.Ascending {
			// Following the cursor again after the appenders stopped reaches
			// exactly the events appended meanwhile.
			last := seen[len(seen)-1].Seq
			rest := PageAll(t, s, hostfns.Query{Tenant: "acme", Order: order, Limit: 9, After: last})
			all := append(seen, rest...)
			checkEvents(t, "ascending, resumed after the appends", all, want(Stored(t, s), hostfns.Query{Tenant: "acme", After: -1}))
		}
	}
	mustSize(t, s, before+2*during)
	CheckTree(t, s)
}

func testConcurrentAppends(t *testing.T, s hostfns.Store) {
	const goroutines, calls = 64, 6
	type ack struct {
		in  []event.Event
		out []event.Event
	}
	acks := make(chan ack, goroutines*calls)
	errs := make(chan error, goroutines)
	var wg sync.WaitGroup
	for g := 0; g < goroutines; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for c := 0; c < calls; c++ {
				n := (g*calls + c) * 3
				in := NewEvents(n, 1+c%3) // 1, 2 or 3 events per call
				out, err := s.Append(ctx, in)
				if err != nil {
					errs <- err
					return
				}
				acks <- ack{in, out}
			}
		}()
	}
	wg.Wait()
	close(acks)
	close(errs)
	for err := range errs {
		t.Fatalf("concurrent Append: %v", err)
	}
	total := 0
	bySeq := map[int64]string{}
	for a := range acks {
		for i := range a.in {
			if a.out[i].ID != a.in[i].ID {
				t.Fatalf("answer %d is %s, want %s", i, a.out[i].ID, a.in[i].ID)
			}
			if i > 0 && a.out[i].Seq != a.out[i-1].Seq+1 {
				t.Fatalf("one call's events got seqs %v, want consecutive", seqs(a.out))
			}
			if prev, dup := bySeq[a.out[i].Seq]; dup {
				t.Fatalf("seq %d given to %s and %s", a.out[i].Seq, prev, a.out[i].ID)
			}
			bySeq[a.out[i].Seq] = a.out[i].ID
			total++
		}
	}
	mustSize(t, s, int64(total))
	log := Stored(t, s)
	for i, e := range log {
		if e.Seq != int64(i) {
			t.Fatalf("stored seq %d at position %d: not contiguous", e.Seq, i)
		}
		if bySeq[e.Seq] != e.ID {
			t.Fatalf("seq %d holds %s, but Append acknowledged %s there", e.Seq, e.ID, bySeq[e.Seq])
		}
	}
	CheckTree(t, s)
}

func testCanceled(t *testing.T, s hostfns.Store) {
	c, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := s.Append(c, NewEvents(0, 2)); err == nil {
		t.Fatal("Append with a canceled context succeeded")
	}
	mustSize(t, s, 0)
}

func testClose(t *testing.T, s hostfns.Store) {
	mustAppend(t, s, NewEvents(0, 2))
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if _, err := s.Append(ctx, NewEvents(2, 1)); !errors.Is(err, auditerr.ErrClosed) {
		t.Fatalf("Append after Close = %v, want ErrClosed", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}
