package hostfns

import (
	"github.com/stigaudit/stigaudit/core/auditerr"
	"github.com/stigaudit/stigaudit/core/event"
)

// Stats groupings: the column a StatsQuery counts by.
const (
	GroupEventType = "event_type"
	GroupOutcome   = "outcome"
	GroupEntityURI = "entity_uri"
)

// MinuteLen is the length of a minute key: the first 16 bytes of an
// event.TS, "2006-01-02T15:04".
const MinuteLen = 16

// StatsQuery selects counts of events per minute of their ts, grouped by
// one column (docs/decisions.md §34).
type StatsQuery struct {
	// Tenant restricts to one tenant; "" means every tenant (admin only).
	Tenant string
	// EntityURI, if set, counts only the events whose entity_uri is this
	// one (a read key's own events). Such counts, and those grouped by
	// entity_uri, come from the events table, not the rollup: a purged
	// event no longer names its entity, so it is not counted for one (and
	// is grouped under "").
	EntityURI string
	// Since (inclusive) and Until (exclusive) are minute keys (MinuteLen
	// bytes of an event.TS); both are required.
	Since, Until string
	// Group is GroupEventType, GroupOutcome or GroupEntityURI.
	Group string
}

// StatsRow is the number of events of one minute with one value of the
// grouped column.
type StatsRow struct {
	// Minute is the minute key of the events' ts ("2006-01-02T15:04").
	Minute string
	// Key is the value of the grouped column.
	Key string
	// Count is how many events it counts; always positive.
	Count int64
}

// Check reports whether q is a query a store can answer: a known group
// and since before until, both minute keys. The error wraps
// auditerr.ErrInvalidParameter.
func (q StatsQuery) Check() error {
	switch {
	case q.Group != GroupEventType && q.Group != GroupOutcome && q.Group != GroupEntityURI:
		return auditerr.Errorf(auditerr.ErrInvalidParameter, "unknown stats group %q", q.Group)
	case len(q.Since) != MinuteLen || len(q.Until) != MinuteLen:
		return auditerr.Errorf(auditerr.ErrInvalidParameter, "stats bounds %q and %q are not minute keys", q.Since, q.Until)
	case q.Since >= q.Until:
		return auditerr.Errorf(auditerr.ErrInvalidParameter, "stats since %s is not before until %s", q.Since, q.Until)
	}
	return nil
}

// FromEvents reports whether q must be answered from the events table
// rather than the rollup, which keeps no entity.
func (q StatsQuery) FromEvents() bool {
	return q.EntityURI != "" || q.Group == GroupEntityURI
}

// MinuteCount is the number of events of one tenant, minute, event type
// and outcome among a group being appended: one row of a store's rollup.
type MinuteCount struct {
	Tenant, Minute, Type, Outcome string
	N                             int64
}

// CountEvents counts events by tenant, minute, event type and outcome, in
// the order each key first occurs: what a store adds to its rollup in the
// transaction that appends them.
func CountEvents(events []event.Event) []MinuteCount {
	var out []MinuteCount
	var at map[MinuteCount]int // key (N zero) -> index in out
	for i := range events {
		e := &events[i]
		k := MinuteCount{Tenant: e.Tenant, Minute: e.TS[:min(len(e.TS), MinuteLen)], Type: e.Type, Outcome: e.Outcome}
		// A group's events mostly share their key: check the last one first.
		if n := len(out); n > 0 && out[n-1].Tenant == k.Tenant && out[n-1].Minute == k.Minute &&
			out[n-1].Type == k.Type && out[n-1].Outcome == k.Outcome {
			out[n-1].N++
			continue
		}
		if at == nil {
			at = make(map[MinuteCount]int)
		}
		if j, ok := at[k]; ok {
			out[j].N++
			continue
		}
		at[k] = len(out)
		k.N = 1
		out = append(out, k)
	}
	return out
}
