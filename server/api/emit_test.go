package api

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/stigaudit/stigaudit"
	"github.com/stigaudit/stigaudit/core/auditerr"
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
			h.e = mount(Config{Log: l, Keys: h.keys, Logger: quiet}, nil)
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

// TestLimitsComeFromTheLog: the body limit and the batch limits are the
// Log's, and a request just over a limit gets the same answer whichever
// layer counts it: the handler reading the body (with or without a
// Content-Length) or the core parsing it (event.ParseEmitRequest).
func TestLimitsComeFromTheLog(t *testing.T) {
	h := newHarness(t)
	w := h.key("w", "a", "urn:w", "audit.write")
	lim := event.Limits{MaxRequestBytes: 200, MaxBatchEvents: 2}
	l, err := stigaudit.Open(stigaudit.Options{Store: h.store, Clock: h.clock, Logger: quiet, Limits: lim})
	if err != nil {
		t.Fatal(err)
	}
	if got := l.Limits(); got.MaxRequestBytes != 200 || got.MaxBatchEvents != 2 || got.MaxDetailBytes != event.DefaultMaxDetailBytes || got.MaxBatchBytes != event.DefaultMaxBatchBytes {
		t.Fatalf("Log.Limits() = %+v: want the given limits, the rest defaults", got)
	}
	h.e = mount(Config{Log: l, Keys: h.keys, Logger: quiet}, nil)

	sized := func(n int) string { // a fact_read of exactly n bytes
		b := `{"event_type":"fact_read","entity_uri":"urn:u","source":"`
		return b + strings.Repeat("s", n-len(b)-2) + `"}`
	}
	batch := func(n int) string {
		return `{"events":[` + strings.TrimSuffix(strings.Repeat(`{"event_type":"fact_read","entity_uri":"urn:u"},`, n), ",") + `]}`
	}
	post := func(body string, length int64) answer {
		req := httptest.NewRequest(http.MethodPost, "/v1/audit/events", strings.NewReader(body))
		req.ContentLength = length
		req.Header.Set("Authorization", "Bearer "+w)
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		h.e.ServeHTTP(rec, req)
		a := answer{status: rec.Code, raw: rec.Body.Bytes()}
		if err := json.Unmarshal(a.raw, &a.body); err != nil {
			t.Fatalf("answer %s: %v", a.raw, err)
		}
		return a
	}
	message := func(a answer) string {
		m, _ := a.body["error"].(map[string]any)["message"].(string)
		return m
	}
	_, _, core := event.ParseEmitRequest([]byte(sized(201)), l.Limits())
	for _, c := range []struct {
		name   string
		body   string
		length int64 // -1: unknown, as for a chunked body
		status int
		code   string
	}{
		{"at the limit", sized(200), 200, 201, ""},
		{"at the limit, no length", sized(200), -1, 201, ""},
		{"one byte over, by its length", sized(201), 201, 413, "too_large"},
		{"one byte over, read", sized(201), -1, 413, "too_large"},
		{"a length that understates the body", sized(201), 150, 413, "too_large"},
		{"a full batch", batch(2), -1, 201, ""},
		{"one event too many", batch(3), -1, 413, "batch_too_large"},
	} {
		t.Run(c.name, func(t *testing.T) {
			a := post(c.body, c.length)
			if a.status != c.status || a.code() != c.code {
				t.Fatalf("%d %s, want %d %q", a.status, a.raw, c.status, c.code)
			}
			if c.code == "too_large" && message(a) != core.Error() {
				t.Errorf("the handler says %q, the core %q", message(a), core)
			}
		})
	}
	// The Log refuses the batch the handler would, with the same code.
	ds := []event.Draft{{Type: "fact_read", EntityURI: "urn:u"}, {Type: "fact_read", EntityURI: "urn:u"}, {Type: "fact_read", EntityURI: "urn:u"}}
	if _, err := l.EmitBatch(context.Background(), ds); !errors.Is(err, auditerr.ErrBatchTooLarge) {
		t.Errorf("EmitBatch of 3 with MaxBatchEvents 2: %v", err)
	}
}
