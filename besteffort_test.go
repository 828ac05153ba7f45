package stigaudit_test

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/stigaudit/stigaudit/core/auditerr"
	"github.com/stigaudit/stigaudit/core/event"
	"github.com/stigaudit/stigaudit/hostfns/memstore"
	"github.com/stigaudit/stigaudit/hostfns/storetest"
)

// TestEmitReturnsTheAttemptedEvent: when the store fails, Emit and
// EmitBatch return what they tried to store, and a draft that does not
// build returns nothing.
func TestEmitReturnsTheAttemptedEvent(t *testing.T) {
	faulty := storetest.NewFaulty(memstore.New())
	l := openLog(t, faulty, nil)
	ctx := context.Background()
	id := "0190a5b8-8a5e-7cc0-9c1e-5f9c1d2e3f40"

	faulty.SetDown(true)
	ev, err := l.Emit(ctx, event.Draft{ID: id, Type: "fact_write", EntityURI: "agent:a"})
	if !errors.Is(err, auditerr.ErrStoreUnavailable) || ev.ID != id || ev.TS == "" || ev.Seq != -1 {
		t.Fatalf("store down: %+v, %v; want the built event with store_unavailable", ev, err)
	}
	res, err := l.EmitBatch(ctx, []event.Draft{{ID: id, Type: "fact_write", EntityURI: "agent:a"}, draft(2)})
	if !errors.Is(err, auditerr.ErrStoreUnavailable) || len(res) != 2 || res[0].Event.ID != id || res[1].Event.TS == "" || res[1].Event.Seq != -1 {
		t.Fatalf("batch, store down: %+v, %v; want the built events with store_unavailable", res, err)
	}
	if ev, err := l.Emit(ctx, event.Draft{Type: "no_such_type", EntityURI: "agent:a"}); err == nil || ev.ID != "" {
		t.Fatalf("bad draft: %+v, %v; want the zero event and an error", ev, err)
	}
	if res, err := l.EmitBatch(ctx, []event.Draft{{Type: "no_such_type"}}); err == nil || res != nil {
		t.Fatalf("bad batch: %+v, %v; want no results and an error", res, err)
	}
}

func TestEmitBestEffort(t *testing.T) {
	notInstruction := &event.FactRef{Entity: ptr("e"), Relation: ptr("r")}
	for _, c := range []struct {
		name   string
		down   bool
		draft  event.Draft
		stored bool
		err    *auditerr.Error // nil: no error
		failed []string        // told to the Observer
	}{
		{"stored", false, event.Draft{Type: "fact_read", EntityURI: "agent:a"}, true, nil, nil},
		{"best effort, store down: swallowed", true, event.Draft{Type: "fact_read", EntityURI: "agent:a"}, false, nil, []string{"fact_read:store_unavailable"}},
		{"critical, store down: fails closed", true, event.Draft{Type: "fact_write", EntityURI: "agent:a"}, false, auditerr.ErrStoreUnavailable, nil},
		{"bad draft: not swallowed", true, event.Draft{Type: "fact_read"}, false, auditerr.ErrMissingField, nil},
		{"skipped instruction event", false, event.Draft{Type: "instruction_quarantined", EntityURI: "agent:a", Fact: notInstruction}, false, auditerr.ErrNotInstruction, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			rec := &recorder{}
			faulty := storetest.NewFaulty(memstore.New())
			l := openLog(t, faulty, rec)
			faulty.SetDown(c.down)
			ev, stored, err := l.EmitBestEffort(context.Background(), c.draft)
			if stored != c.stored || (c.err == nil) != (err == nil) || (c.err != nil && !errors.Is(err, c.err)) {
				t.Fatalf("got stored %v, %v; want stored %v, %v", stored, err, c.stored, c.err)
			}
			if err == nil && (ev.ID == "" || (ev.Seq >= 0) != stored) {
				t.Errorf("event %+v: want the built event, with a seq only when stored", ev)
			}
			if !slices.Equal(rec.failed, c.failed) {
				t.Errorf("best-effort failures %v, want %v", rec.failed, c.failed)
			}
		})
	}
}

func TestEmitBatchBestEffort(t *testing.T) {
	bestEffort := []event.Draft{
		{Type: "fact_read", EntityURI: "agent:a"},
		{Type: "instruction_promoted", EntityURI: "agent:a", Fact: &event.FactRef{Entity: ptr("e"), Relation: ptr("r")}},
		{Type: "quota_breach", EntityURI: "agent:a", Detail: []byte(`{"dimension":"rps"}`)},
	}
	for _, c := range []struct {
		name    string
		down    bool
		drafts  []event.Draft
		stored  bool
		err     *auditerr.Error
		skipped []bool
		failed  []string
	}{
		{"stored", false, bestEffort[:1], true, nil, []bool{false}, nil},
		// instruction_promoted is critical: the batch fails closed even
		// though that event would have been skipped.
		{"mixed with a critical type: fails closed", true, bestEffort, false, auditerr.ErrStoreUnavailable, nil, nil},
		{"best effort, store down: swallowed", true, []event.Draft{bestEffort[0], bestEffort[2]}, false, nil, []bool{false, false},
			[]string{"fact_read:store_unavailable", "quota_breach:store_unavailable"}},
		{"bad draft", true, []event.Draft{{Type: "fact_read"}}, false, auditerr.ErrInvalidBatch, nil, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			rec := &recorder{}
			faulty := storetest.NewFaulty(memstore.New())
			l := openLog(t, faulty, rec)
			faulty.SetDown(c.down)
			res, stored, err := l.EmitBatchBestEffort(context.Background(), c.drafts)
			if stored != c.stored || (c.err == nil) != (err == nil) || (c.err != nil && !errors.Is(err, c.err)) {
				t.Fatalf("got stored %v, %v; want stored %v, %v", stored, err, c.stored, c.err)
			}
			if err == nil {
				if len(res) != len(c.skipped) {
					t.Fatalf("%d results, want %d", len(res), len(c.skipped))
				}
				for i := range res {
					if res[i].Skipped != c.skipped[i] || (!res[i].Skipped && res[i].Event.ID == "") {
						t.Errorf("result %d: %+v", i, res[i])
					}
				}
			}
			if !slices.Equal(rec.failed, c.failed) {
				t.Errorf("best-effort failures %v, want %v", rec.failed, c.failed)
			}
		})
	}
}

func ptr(s string) *string { return &s }

// TestEmitRequest: one call reads a request, stamps it with the caller's
// scope and emits it under the best-effort rule.
func TestEmitRequest(t *testing.T) {
	acme := event.Scope{Tenant: "acme", Emitter: "urn:svc:a"}
	for _, c := range []struct {
		name          string
		down          bool
		body          string
		batch, stored bool
		n             int             // results
		skipped       bool            // the first result
		err           *auditerr.Error // nil: no error
	}{
		{"one event", false, `{"event_type":"fact_read","entity_uri":"agent:a"}`, false, true, 1, false, nil},
		{"a batch", false, `{"events":[{"event_type":"fact_read","entity_uri":"agent:a"},{"event_type":"fact_write","entity_uri":"agent:a"}]}`, true, true, 2, false, nil},
		{"another tenant", false, `{"event_type":"fact_read","entity_uri":"agent:a","tenant_id":"other"}`, false, false, 0, false, auditerr.ErrForbidden},
		{"another tenant in a batch", false, `{"events":[{"event_type":"fact_read","entity_uri":"agent:a"},{"event_type":"fact_read","entity_uri":"agent:a","tenant_id":"other"}]}`, true, false, 0, false, auditerr.ErrForbidden},
		{"malformed", false, `{"events":`, false, false, 0, false, auditerr.ErrInvalidJSON},
		{"best effort, store down", true, `{"event_type":"fact_read","entity_uri":"agent:a"}`, false, false, 1, false, nil},
		{"critical, store down", true, `{"event_type":"fact_write","entity_uri":"agent:a"}`, false, false, 1, false, auditerr.ErrStoreUnavailable},
		{"skipped instruction event", false, `{"event_type":"instruction_quarantined","entity_uri":"agent:a","fact":{"entity":"e","relation":"r"}}`, false, true, 1, true, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			faulty := storetest.NewFaulty(memstore.New())
			l := openLog(t, faulty, &recorder{})
			faulty.SetDown(c.down)
			req, err := l.EmitRequest(context.Background(), acme, []byte(c.body))
			if (c.err == nil) != (err == nil) || (c.err != nil && !errors.Is(err, c.err)) {
				t.Fatalf("error %v, want %v", err, c.err)
			}
			if err != nil && c.err == auditerr.ErrForbidden && req.Batch != c.batch {
				t.Errorf("batch %v, want %v", req.Batch, c.batch)
			}
			if err != nil {
				return
			}
			if req.Batch != c.batch || req.Stored != c.stored || len(req.Results) != c.n || req.Results[0].Skipped != c.skipped {
				t.Fatalf("got %+v; want batch %v, stored %v, %d results, skipped %v", req, c.batch, c.stored, c.n, c.skipped)
			}
			for _, r := range req.Results {
				if !r.Skipped && (r.Event.Tenant != "acme" || r.Event.Emitter != "urn:svc:a") {
					t.Errorf("event %+v not stamped with the caller's tenant and emitter", r.Event)
				}
			}
		})
	}
}
