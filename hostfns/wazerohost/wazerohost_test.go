package wazerohost_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stigaudit/stigaudit/core/auditerr"
	"github.com/stigaudit/stigaudit/core/event"
	"github.com/stigaudit/stigaudit/hostfns/wazerohost"
	"github.com/stigaudit/stigaudit/wasm/abi"
)

func sampleEvent() event.Event {
	return event.Event{
		Seq: -1, ID: "0196a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b", Type: "fact_read",
		TS: "2026-05-03T12:00:00.123456Z", Tenant: "acme", EntityURI: "agent:a",
		Outcome: event.OutcomeSuccess, Detail: []byte(`{"a":"é","n":1.5}`),
	}
}

func TestParseCanonical(t *testing.T) {
	ev := sampleEvent()
	canonical := event.AppendCanonical(nil, &ev)
	withSeq := ev
	withSeq.Seq = 4
	cases := []struct {
		name string
		in   []byte
		code auditerr.Code
	}{
		{"canonical", canonical, ""},
		{"white space", append([]byte(" "), canonical...), auditerr.ErrInvalidInput.Code},
		{"API form", event.AppendJSON(nil, &withSeq), auditerr.ErrInvalidInput.Code},
		{"not JSON", []byte(`{"id":`), auditerr.ErrInvalidJSON.Code},
		{"not an event", []byte(`{"a":1}`), "?"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := wazerohost.ParseCanonical(c.in)
			switch {
			case c.code == "":
				if err != nil || got.Seq != -1 || got.LeafHash != event.LeafHash(canonical) || got.ID != ev.ID {
					t.Fatalf("got %+v, %v", got, err)
				}
			case c.code == "?":
				if err == nil {
					t.Fatal("accepted")
				}
			case auditerr.CodeOf(err) != c.code:
				t.Fatalf("got %v, want code %s", err, c.code)
			}
		})
	}
}

func TestStoreResultCodes(t *testing.T) {
	for _, c := range []struct {
		err  *auditerr.Error
		want int64
	}{
		{auditerr.ErrIDConflict, abi.StoreIDConflict},
		{auditerr.ErrStoreUnavailable, abi.StoreUnavailable},
		{auditerr.ErrClosed, abi.StoreUnavailable},
		{auditerr.ErrForbidden, abi.StoreForbidden},
		{auditerr.ErrInvalidOutcome, abi.StoreInvalid},
	} {
		got := abi.StoreResult(auditerr.CodeOf(auditerr.AtIndex(c.err, 0)))
		if got != c.want {
			t.Errorf("%s: store_append result %d, want %d", c.err.Code, got, c.want)
		}
		// And back: the guest reports the code the store gave.
		if back := abi.StoreError(got); c.want != abi.StoreInvalid && c.err != auditerr.ErrClosed && !errors.Is(back, c.err) {
			t.Errorf("%s: guest reports %v", c.err.Code, back)
		}
	}
}

type clock time.Time

func (c clock) Now() time.Time { return time.Time(c) }

func TestServicesTravelInContext(t *testing.T) {
	if _, ok := wazerohost.ServicesFrom(context.Background()); ok {
		t.Fatal("services in a bare context")
	}
	now := time.Unix(42, 0)
	ctx := wazerohost.WithServices(context.Background(), wazerohost.Services{Clock: clock(now), Scope: event.Scope{Tenant: "acme"}})
	s, ok := wazerohost.ServicesFrom(ctx)
	if !ok || s.Scope.Tenant != "acme" || !s.Clock.Now().Equal(now) {
		t.Fatalf("got %+v, %v", s, ok)
	}
}
