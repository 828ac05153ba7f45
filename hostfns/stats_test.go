package hostfns_test

import (
	"errors"
	"slices"
	"testing"

	"github.com/stigaudit/stigaudit/core/auditerr"
	"github.com/stigaudit/stigaudit/core/event"
	"github.com/stigaudit/stigaudit/hostfns"
)

func TestCountEvents(t *testing.T) {
	ev := func(tenant, ts, typ, outcome string) event.Event {
		return event.Event{Tenant: tenant, TS: ts, Type: typ, Outcome: outcome}
	}
	const m1, m2 = "2026-06-01T10:00:59.999999Z", "2026-06-01T10:01:00.000000Z"
	tests := []struct {
		name   string
		events []event.Event
		want   []hostfns.MinuteCount
	}{
		{"none", nil, nil},
		{"one", []event.Event{ev("a", m1, "t", "success")}, []hostfns.MinuteCount{{"a", "2026-06-01T10:00", "t", "success", 1}}},
		{"same key", []event.Event{ev("a", m1, "t", "success"), ev("a", m1, "t", "success")},
			[]hostfns.MinuteCount{{"a", "2026-06-01T10:00", "t", "success", 2}}},
		{"interleaved keys, first-seen order", []event.Event{
			ev("a", m1, "t", "success"), ev("b", m1, "t", "success"), ev("a", m2, "t", "success"),
			ev("a", m1, "t", "success"), ev("a", m1, "t", "denied"), ev("b", m1, "t", "success"),
		}, []hostfns.MinuteCount{
			{"a", "2026-06-01T10:00", "t", "success", 2}, {"b", "2026-06-01T10:00", "t", "success", 2},
			{"a", "2026-06-01T10:01", "t", "success", 1}, {"a", "2026-06-01T10:00", "t", "denied", 1},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := hostfns.CountEvents(tc.events); !slices.Equal(got, tc.want) {
				t.Errorf("CountEvents = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestStatsQueryCheck(t *testing.T) {
	tests := []struct {
		name string
		q    hostfns.StatsQuery
		ok   bool
	}{
		{"ok", hostfns.StatsQuery{Group: "outcome", Since: "2026-06-01T10:00", Until: "2026-06-01T10:01"}, true},
		{"entity", hostfns.StatsQuery{Group: "entity_uri", Since: "2026-06-01T10:00", Until: "2026-06-01T10:01"}, true},
		{"no group", hostfns.StatsQuery{Since: "2026-06-01T10:00", Until: "2026-06-01T10:01"}, false},
		{"other group", hostfns.StatsQuery{Group: "source", Since: "2026-06-01T10:00", Until: "2026-06-01T10:01"}, false},
		{"empty window", hostfns.StatsQuery{Group: "outcome", Since: "2026-06-01T10:00", Until: "2026-06-01T10:00"}, false},
		{"not minutes", hostfns.StatsQuery{Group: "outcome", Since: "2026-06-01T10:00:00", Until: "2026-06-01T10:01:00"}, false},
		{"unbounded", hostfns.StatsQuery{Group: "outcome"}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.q.Check()
			if (err == nil) != tc.ok || err != nil && !errors.Is(err, auditerr.ErrInvalidParameter) {
				t.Errorf("Check = %v, want ok %v", err, tc.ok)
			}
		})
	}
}
