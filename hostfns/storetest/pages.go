package storetest

import (
	"context"
	"testing"

	"github.com/stigaudit/stigaudit/core/event"
	"github.com/stigaudit/stigaudit/hostfns"
)

// Querier is what PageAll reads: a hostfns.Store, or anything else that
// pages the log the same way (the root package's Log).
type Querier interface {
	Query(ctx context.Context, q hostfns.Query) (hostfns.Page, error)
}

// PageAll follows pages of q from q.After and returns everything, failing
// t on an error, a page over the limit or an empty page that claims more.
func PageAll(t testing.TB, s Querier, q hostfns.Query) []event.Event {
	t.Helper()
	var out []event.Event
	for {
		p, err := s.Query(ctx, q)
		if err != nil {
			t.Fatalf("Query(%+v): %v", q, err)
		}
		if len(p.Events) > q.Limit {
			t.Fatalf("Query returned %d events with limit %d", len(p.Events), q.Limit)
		}
		out = append(out, p.Events...)
		if !p.HasMore {
			return out
		}
		if len(p.Events) == 0 {
			t.Fatalf("Query(%+v): empty page with HasMore", q)
		}
		q.After = p.Events[len(p.Events)-1].Seq
	}
}

// Stored returns the whole log, oldest first.
func Stored(t testing.TB, s Querier) []event.Event {
	t.Helper()
	return PageAll(t, s, hostfns.Query{After: -1, Limit: hostfns.MaxQueryLimit})
}
