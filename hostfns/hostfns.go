package hostfns

import (
	"context"
	"crypto/rand"
	"io"
	"time"

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
//   - Idempotency: an input event whose ID is already stored with the same
//     content (every field but Seq, TS and LeafHash equal) is not stored
//     again; the stored event is returned in its place. The same ID with
//     different content fails the whole call with an error wrapping
//     auditerr.ErrIDConflict and naming the index. Two events of one call
//     with the same ID behave as if sent one after the other.
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
