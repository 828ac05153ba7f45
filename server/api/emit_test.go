package api

import (
	"context"
	"sync"
	"testing"

	"github.com/stigaudit/stigaudit"
	"github.com/stigaudit/stigaudit/core/event"
	"github.com/stigaudit/stigaudit/hostfns"
)

// seeing is a store that remembers the events each Append was given.
type seeing struct {
	hostfns.Store
	mu   sync.Mutex
	seen []event.Event
}

func (s *seeing) Append(ctx context.Context, evs []event.Event) ([]event.Event, error) {
	s.mu.Lock()
	s.seen = append(s.seen, evs...)
	s.mu.Unlock()
	return s.Store.Append(ctx, evs)
}

// TestAcceptedNamesTheAttemptedEvent: a best-effort event the store could
// not commit is answered 202 with the event the store was given — the same
// id and ts — not with one built afresh for the answer.
func TestAcceptedNamesTheAttemptedEvent(t *testing.T) {
	for _, c := range []struct {
		name string
		body any
		n    int // events the store is given
	}{
		{"one event", ev("fact_read", "urn:u"), 1},
		{"a batch", map[string]any{"events": []any{
			ev("fact_read", "urn:u"),
			ev("quota_breach", "urn:u", "detail", map[string]any{"dimension": "rps"}),
		}}, 2},
	} {
		t.Run(c.name, func(t *testing.T) {
			h := newHarness(t)
			w := h.key("w", "a", "urn:w", "audit.write")
			st := &seeing{Store: h.store}
			l, err := stigaudit.Open(stigaudit.Options{Store: st, Clock: h.clock, Logger: quiet})
			if err != nil {
				t.Fatal(err)
			}
			h.e = New(Config{Log: l, Keys: h.keys, Logger: quiet})
			h.store.SetDown(true)

			a := h.emit(w, c.body)
			if a.status != 202 || a.body["stored"] != false {
				t.Fatalf("store down: %d %s", a.status, a.raw)
			}
			answered := []map[string]any{a.body}
			if _, batch := a.body["events"]; batch {
				answered = a.events()
			}
			if len(st.seen) != c.n || len(answered) != c.n {
				t.Fatalf("the store was given %d events and the answer names %d, want %d: %s", len(st.seen), len(answered), c.n, a.raw)
			}
			for i, e := range answered {
				if e["id"] != st.seen[i].ID || e["ts"] != st.seen[i].TS || e["seq"] != nil {
					t.Errorf("answer %d names id %v ts %v; the store was given id %s ts %s", i, e["id"], e["ts"], st.seen[i].ID, st.seen[i].TS)
				}
			}
		})
	}
}
