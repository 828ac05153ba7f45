package storetest

import (
	"crypto/sha256"
	"fmt"
	"time"

	"github.com/stigaudit/stigaudit/core/event"
)

// Tenants, Types and the other value sets NewEvent cycles through. Different
// cycle lengths make every combination of filters occur.
var (
	tenants  = []string{"acme", "globex"}
	types    = []string{"fact_write", "fact_read", "admin_action"}
	sources  = []string{"", "api"}
	outcomes = []string{event.OutcomeSuccess, event.OutcomeFailure, event.OutcomeDenied}
)

// baseTime is when test event 0 was "built".
var baseTime = time.Date(2026, 5, 3, 12, 0, 0, 0, time.UTC)

// TSFormat is the layout of event.Event.TS.
const TSFormat = "2006-01-02T15:04:05.000000Z"

// NewEvent returns test event number n, ready to append (Seq -1). It is a
// pure function of n: its id is a UUIDv7-shaped string derived from n, and
// its fields cycle through a few tenants, types, principals, outcomes and so
// on, so that every Query filter selects some but not all events. Pairs of
// events share a timestamp (n and n^1), and every tenth event is stamped a
// second earlier than its neighbours, as clock skew between emitters would.
// The leaf hash is SHA-256 of the id — deterministic, not the canonical hash.
func NewEvent(n int) event.Event {
	ts := baseTime.Add(time.Duration(n/2) * time.Millisecond)
	if n%10 == 9 {
		ts = ts.Add(-time.Second)
	}
	e := event.Event{
		Seq:       -1,
		ID:        fmt.Sprintf("01900000-0000-7000-8000-%012x", n),
		Type:      types[n%len(types)],
		TS:        ts.Format(TSFormat),
		Tenant:    tenants[n%len(tenants)],
		EntityURI: fmt.Sprintf("urn:principal:%d", n%5),
		Source:    sources[(n/2)%len(sources)],
		Outcome:   outcomes[(n/3)%len(outcomes)],
	}
	if n%7 != 0 {
		e.OIDCSub = fmt.Sprintf("sub-%d", n%3)
	}
	if n%3 == 0 {
		e.FactID = fmt.Sprintf("fact-%d", n%11)
	}
	if n%4 == 0 {
		e.AttestedKeyID = "key-1"
	}
	if n%6 == 1 {
		e.Scope = "facts:write"
	}
	if n%5 == 2 {
		e.Emitter = "urn:emitter:server"
		e.HLC = fmt.Sprintf("%d.%d", ts.UnixMilli(), n%3)
	}
	if n%2 == 1 {
		e.Detail = fmt.Appendf(nil, `{"n":%d,"note":"caf\u00e9 \"quoted\""}`, n)
	}
	e.LeafHash = sha256.Sum256([]byte("leaf:" + e.ID))
	return e
}

// NewEvents returns NewEvent(from) ... NewEvent(from+n-1).
func NewEvents(from, n int) []event.Event {
	out := make([]event.Event, n)
	for i := range out {
		out[i] = NewEvent(from + i)
	}
	return out
}
