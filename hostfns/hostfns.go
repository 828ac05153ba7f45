package hostfns

import (
	"context"
	"crypto/rand"
	"io"
	"time"

	"github.com/transparency-dev/merkle/compact"

	"github.com/stigaudit/stigaudit/core/auditerr"
	"github.com/stigaudit/stigaudit/core/event"
)

// Clock reads wall-clock time.
type Clock interface {
	Now() time.Time
}

// SystemClock is the real wall clock.
type SystemClock struct{}

// Now returns time.Now().
func (SystemClock) Now() time.Time { return time.Now() }

// Entropy is a source of cryptographically strong random bytes.
type Entropy = io.Reader

// SystemEntropy returns crypto/rand's reader.
func SystemEntropy() Entropy { return rand.Reader }

// Store is durable, append-only storage of events in seq order.
//
// Contract, for every implementation:
//   - Append stores the events of one call atomically: all of them or none.
//     On a nil error every returned event is durable (it survives a crash of
//     the process and of the machine, as far as the medium allows).
//   - Seqs are assigned by Append, contiguous from 0, in commit order, never
//     reused. The returned slice is in the order of the input.
//   - Idempotency: an input event whose ID is already stored in its tenant
//     with the same content (every field but Seq, TS and LeafHash equal) is
//     not stored again; the stored event is returned in its place. The same
//     ID with different content in the same tenant fails the whole call
//     with an error wrapping auditerr.ErrIDConflict and naming the index.
//     Two events of one call with the same tenant and ID behave as if sent
//     one after the other. Ids are scoped to the tenant (docs/event-format.md#ids): the same
//     ID in another tenant is another event.
//   - Append, Query and Get may be called concurrently. Concurrent Appends
//     may be committed together (group commit) but each stays atomic and is
//     failed or acknowledged on its own.
//   - A failure to commit returns an error wrapping
//     auditerr.ErrStoreUnavailable, and nothing of that call is stored.
//   - Stored events are never changed or deleted.
type Store interface {
	Append(ctx context.Context, events []event.Event) ([]event.Event, error)
	// Query returns one page of events matching q.
	Query(ctx context.Context, q Query) (Page, error)
	// Size returns the number of events stored (the next seq).
	Size(ctx context.Context) (int64, error)
	// Ping reports whether the store is reachable (readiness).
	Ping(ctx context.Context) error
	// Close flushes pending work and releases resources.
	Close() error
}

// Order is the direction of a query.
type Order int

// Orders.
const (
	Ascending  Order = iota // oldest first by seq
	Descending              // newest first by seq
)

// Query selects events. Zero values mean "no filter".
type Query struct {
	// Tenant restricts to one tenant; "" means every tenant (admin only).
	Tenant string
	// Types matches any of the listed event types.
	Types     []string
	EntityURI string
	OIDCSub   string
	// Source, when non-nil, matches exactly (it may be "").
	Source  *string
	FactID  string
	Outcome string
	Scope   string
	// Attested, when non-nil, selects events with (true) or without (false)
	// an attested_key_id.
	Attested *bool
	// Since and Until bound ts: Since inclusive, Until exclusive. They are
	// fixed-width UTC timestamps in the event.TS format, so they compare as
	// strings; "" means unbounded.
	Since, Until string
	// Order of the page. After is an exclusive seq bound in that order: with
	// Ascending only seq > After, with Descending only seq < After; -1 means
	// from the start (or from the newest).
	Order Order
	After int64
	// Limit is the page size, 1..1000.
	Limit int
}

// Page is one page of query results.
type Page struct {
	Events []event.Event
	// HasMore reports whether more events match beyond this page.
	HasMore bool
}

// MaxQueryLimit is the largest Query.Limit.
const MaxQueryLimit = 1000

// Check reports whether q is a query a Store can run: Limit in
// 1..MaxQueryLimit, After ≥ -1, a known Order, Since before Until. The error
// wraps auditerr.ErrInvalidParameter.
func (q Query) Check() error {
	switch {
	case q.Limit < 1 || q.Limit > MaxQueryLimit:
		return auditerr.Errorf(auditerr.ErrInvalidParameter, "limit %d is outside 1..%d", q.Limit, MaxQueryLimit)
	case q.After < -1:
		return auditerr.Errorf(auditerr.ErrInvalidParameter, "after %d is below -1", q.After)
	case q.Order != Ascending && q.Order != Descending:
		return auditerr.Errorf(auditerr.ErrInvalidParameter, "unknown order %d", q.Order)
	case q.Since != "" && q.Until != "" && q.Since > q.Until:
		return auditerr.Errorf(auditerr.ErrInvalidParameter, "since %s is after until %s", q.Since, q.Until)
	}
	return nil
}

// Getter is implemented by stores that can fetch one event by id.
type Getter interface {
	// Get returns the stored event of tenant with this id, or an error
	// wrapping auditerr.ErrNotFound. Ids are scoped to the tenant
	// (docs/event-format.md#ids): another tenant's event with the same id is never returned.
	Get(ctx context.Context, tenant, id string) (event.Event, error)
}

// EventKey names a stored event for idempotency and lookups by id: ids
// are unique per tenant, not across the log (docs/event-format.md#ids).
type EventKey struct {
	Tenant, ID string
}

// KeyOf returns the key of e.
func KeyOf(e *event.Event) EventKey { return EventKey{Tenant: e.Tenant, ID: e.ID} }

// TreeReader is implemented by stores that keep the log's RFC 6962 Merkle
// tree and can serve its nodes, so that inclusion and consistency proofs
// (see merkle/proof.Inclusion and proof.Consistency, which name the nodes)
// cost O(log n) reads.
type TreeReader interface {
	// ReadNodes returns the hashes of the given perfect subtrees, in the
	// order of ids. Level 0 is a leaf hash. A node that covers leaves not
	// stored yet is an error wrapping auditerr.ErrNotFound.
	ReadNodes(ctx context.Context, ids []compact.NodeID) ([][]byte, error)
	// LeafHashes returns the leaf hashes of seqs [from, to), in seq order;
	// seqs not stored yet are an error wrapping auditerr.ErrNotFound.
	LeafHashes(ctx context.Context, from, to int64) ([][]byte, error)
}

// PlanAppend applies the Append contract's idempotency rules to one call, for
// Store implementations. next is the seq the first new event gets; known
// looks a (tenant, id) up among the events stored (or committed ahead of
// this call in the same group commit). Ids are scoped to the tenant: an
// event whose id another tenant stored is new, and nothing about the other
// tenant's event shows in the answer.
//
// It returns the call's answer, in input order (stored events for
// idempotent re-sends, the new events with their seqs otherwise), and the new
// events alone, in seq order, to be inserted. An event that cannot be stored
// (no id, type, tenant, entity or timestamp; an unknown outcome; an empty
// detail that is not nil) or an id stored with different content fails the
// whole call, naming the index; nothing is then to be inserted.
func PlanAppend(events []event.Event, next int64, known func(k EventKey) (event.Event, bool)) (answer, fresh []event.Event, err error) {
	answer = make([]event.Event, len(events))
	var local map[EventKey]int // (tenant, id) -> index in fresh, for repeats within the call
	for i := range events {
		e := events[i]
		if err := storable(&e); err != nil {
			return nil, nil, auditerr.AtIndex(err, i)
		}
		prev, ok := event.Event{}, false
		k := KeyOf(&e)
		if j, in := local[k]; in {
			prev, ok = fresh[j], true
		} else {
			prev, ok = known(k)
		}
		if ok {
			if !prev.SameContent(&e) {
				return nil, nil, auditerr.AtIndex(auditerr.Errorf(auditerr.ErrIDConflict,
					"id %s is already stored (seq %d) with different content", e.ID, prev.Seq), i)
			}
			answer[i] = prev
			continue
		}
		e.Seq = next + int64(len(fresh))
		if local == nil {
			local = make(map[EventKey]int, len(events))
		}
		local[k] = len(fresh)
		fresh = append(fresh, e)
		answer[i] = e
	}
	return answer, fresh, nil
}

// storable checks what every store's schema requires of an event.
func storable(e *event.Event) error {
	switch {
	case e.ID == "":
		return auditerr.Errorf(auditerr.ErrMissingField, "id is empty")
	case e.Type == "":
		return auditerr.Errorf(auditerr.ErrMissingField, "event_type is empty")
	case e.TS == "":
		return auditerr.Errorf(auditerr.ErrMissingField, "ts is empty")
	case e.Tenant == "":
		return auditerr.Errorf(auditerr.ErrMissingField, "tenant_id is empty")
	case e.EntityURI == "":
		return auditerr.Errorf(auditerr.ErrMissingField, "entity_uri is empty")
	case e.Outcome != event.OutcomeSuccess && e.Outcome != event.OutcomeFailure && e.Outcome != event.OutcomeDenied:
		return auditerr.Errorf(auditerr.ErrInvalidOutcome, "outcome %q is not success, failure or denied", e.Outcome)
	case e.Detail != nil && (len(e.Detail) == 0 || string(e.Detail) == "{}"):
		return auditerr.Errorf(auditerr.ErrInvalidDetail, "an empty detail must be nil")
	}
	return nil
}
