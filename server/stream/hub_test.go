package stream_test

import (
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/stigaudit/stigaudit/core/event"
	"github.com/stigaudit/stigaudit/hostfns"
	"github.com/stigaudit/stigaudit/hostfns/sqlitestore"
	"github.com/stigaudit/stigaudit/hostfns/storetest"
	"github.com/stigaudit/stigaudit/server/stream"
)

// TestMatchAgreesWithTheStore: Match selects exactly what the SQLite
// store's Query selects, for every filter.
func TestMatchAgreesWithTheStore(t *testing.T) {
	store, err := sqlitestore.Open(filepath.Join(t.TempDir(), "db"), sqlitestore.Options{Synchronous: "OFF"})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	evs, err := store.Append(ctx, storetest.NewEvents(0, 600))
	if err != nil {
		t.Fatal(err)
	}
	yes, no, empty := true, false, ""
	mid := evs[300].TS
	for _, q := range []hostfns.Query{
		{},
		{Tenant: evs[1].Tenant},
		{Types: []string{evs[0].Type, evs[1].Type}},
		{EntityURI: evs[2].EntityURI},
		{OIDCSub: "sub-1"},
		{FactID: evs[3].FactID},
		{Outcome: "denied"},
		{Scope: "facts:write"},
		{Source: &evs[4].Source},
		{Source: &empty},
		{Attested: &yes},
		{Attested: &no},
		{Since: mid},
		{Until: mid},
		{Since: evs[100].TS, Until: evs[200].TS, Tenant: evs[150].Tenant, Attested: &no},
	} {
		q.Order, q.After, q.Limit = hostfns.Ascending, -1, hostfns.MaxQueryLimit
		page, err := store.Query(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		var want, got []int64
		for _, e := range page.Events {
			want = append(want, e.Seq)
		}
		for i := range evs {
			if stream.Match(&q, &evs[i]) {
				got = append(got, evs[i].Seq)
			}
		}
		if !slices.Equal(got, want) {
			t.Fatalf("query %+v: Match selects %d events, the store %d", q, len(got), len(want))
		}
	}
}

// TestHubNeverBlocks: Committed returns at once whatever the readers do;
// a reader that takes nothing is cut after MaxPending events and forgotten.
func TestHubNeverBlocks(t *testing.T) {
	h := stream.NewHub(stream.HubOptions{MaxPending: 10})
	stuck, err := h.Subscribe()
	if err != nil {
		t.Fatal(err)
	}
	live, _ := h.Subscribe()
	batch := make([]event.Event, 3)
	start := time.Now()
	for i := 0; i < 1000; i++ {
		h.Committed(batch)
		select {
		case b := <-live.C():
			live.Took(len(b))
		default:
		}
	}
	if d := time.Since(start); d > time.Second {
		t.Fatalf("1000 commits took %v", d)
	}
	select {
	case <-stuck.Done():
	default:
		t.Fatal("the stuck reader was not cut off")
	}
	if stuck.Reason() != stream.ReasonSlow || live.Reason() != "" || h.Readers() != 1 || h.Cuts() != 1 {
		t.Fatalf("reasons %q %q, readers %d, cuts %d", stuck.Reason(), live.Reason(), h.Readers(), h.Cuts())
	}
	// A full hub refuses more readers.
	small := stream.NewHub(stream.HubOptions{MaxReaders: 1})
	if _, err := small.Subscribe(); err != nil {
		t.Fatal(err)
	}
	if _, err := small.Subscribe(); err == nil {
		t.Fatal("a second reader on a hub of one")
	}
	h.Close()
	if live.Reason() != stream.ReasonClosed {
		t.Fatalf("after Close: %q", live.Reason())
	}
	if _, err := h.Subscribe(); err == nil {
		t.Fatal("subscribed after Close")
	}
}
