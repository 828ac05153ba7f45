package stream

import (
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/stigaudit/stigaudit"
	"github.com/stigaudit/stigaudit/core/auditerr"
	"github.com/stigaudit/stigaudit/core/event"
	"github.com/stigaudit/stigaudit/server/auth"
)

// Defaults of HubOptions.
const (
	DefaultMaxPending   = 10000
	DefaultMaxReaders   = 1000
	DefaultMaxPerKey    = 10
	DefaultMaxPerTenant = 100
)

// maxBatches bounds the batches queued for one reader (a batch is a slice
// header: 24 bytes of queue each).
const maxBatches = 1024

// Reasons a Hub ends a subscription.
const (
	ReasonSlow   = "slow_reader"
	ReasonClosed = "closed"
)

// HubOptions configure a Hub. The zero value is usable.
type HubOptions struct {
	// MaxPending is how many events a reader may have queued before it is
	// cut off; default DefaultMaxPending.
	MaxPending int
	// MaxReaders bounds the subscriptions at once; default
	// DefaultMaxReaders.
	MaxReaders int
	// MaxPerKey and MaxPerTenant bound the streams one API key and one
	// tenant (the key's) may hold open at once (Admit), so that no key or
	// tenant can take every one of the MaxReaders; default
	// DefaultMaxPerKey and DefaultMaxPerTenant.
	MaxPerKey, MaxPerTenant int
}

// Hub fans committed events out to subscribers (see the package doc). It
// implements stigaudit.Observer. It is safe for concurrent use.
type Hub struct {
	opts HubOptions

	mu     sync.Mutex
	subs   map[*Subscription]struct{}
	closed bool
	// admitted counts the open streams (Admit), all, per key and per
	// tenant.
	admitted  int
	perKey    map[string]int
	perTenant map[string]int

	cuts atomic.Int64
}

var _ stigaudit.Observer = (*Hub)(nil)

// NewHub returns a Hub with no subscribers.
func NewHub(opts HubOptions) *Hub {
	if opts.MaxPending <= 0 {
		opts.MaxPending = DefaultMaxPending
	}
	if opts.MaxReaders <= 0 {
		opts.MaxReaders = DefaultMaxReaders
	}
	if opts.MaxPerKey <= 0 {
		opts.MaxPerKey = DefaultMaxPerKey
	}
	if opts.MaxPerTenant <= 0 {
		opts.MaxPerTenant = DefaultMaxPerTenant
	}
	return &Hub{opts: opts, subs: make(map[*Subscription]struct{}), perKey: map[string]int{}, perTenant: map[string]int{}}
}

// Subscription is one reader's queue of committed events.
type Subscription struct {
	hub     *Hub
	c       chan []event.Event
	pending atomic.Int64 // events queued in c
	done    chan struct{}
	reason  string // set before done is closed
	once    sync.Once
}

// Subscribe adds a reader. It fails with ErrTooManyStreams (503) when
// MaxReaders readers are subscribed, and auditerr.ErrClosed after Close.
func (h *Hub) Subscribe() (*Subscription, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return nil, auditerr.Errorf(auditerr.ErrClosed, "the server is shutting down")
	}
	if len(h.subs) >= h.opts.MaxReaders {
		return nil, tooMany(http.StatusServiceUnavailable, "the server has its %d live streams open; try again later", h.opts.MaxReaders)
	}
	s := &Subscription{
		hub: h,
		// Room for up to maxBatches batches; a reader is cut when either
		// its batches or its events run out of room.
		c:    make(chan []event.Event, min(h.opts.MaxPending, maxBatches)),
		done: make(chan struct{}),
	}
	h.subs[s] = struct{}{}
	return s, nil
}

// ErrTooManyStreams refuses a stream over a cap: 429 when the key's or the
// tenant's share is open (HubOptions.MaxPerKey, MaxPerTenant), 503 when the
// whole server's is (MaxReaders); both with Retry-After.
var ErrTooManyStreams = &auditerr.Error{Code: "too_many_streams", Message: "too many live streams", Index: -1}

// streamsRetryAfter is the Retry-After of a stream refused over a cap.
const streamsRetryAfter = 5 * time.Second

// refusal is a too_many_streams answer with its HTTP status.
type refusal struct {
	*auth.Retry
	status int
}

// HTTPStatus is the status api answers the refusal with.
func (r refusal) HTTPStatus() int { return r.status }

func tooMany(status int, format string, args ...any) error {
	return refusal{Retry: &auth.Retry{Err: auditerr.Errorf(ErrTooManyStreams, format, args...), After: streamsRetryAfter}, status: status}
}

// Admit counts a stream of keyID in tenant against the caps of HubOptions
// until release is called, or refuses it with an error wrapping
// ErrTooManyStreams. A stream holds its place from before it catches up
// until it ends, whether or not it is subscribed at the moment.
func (h *Hub) Admit(keyID, tenant string) (release func(), err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	switch {
	case h.closed:
		return nil, auditerr.Errorf(auditerr.ErrClosed, "the server is shutting down")
	case h.perKey[keyID] >= h.opts.MaxPerKey:
		return nil, tooMany(http.StatusTooManyRequests, "this key has %d live streams open, its limit; close one or try again later", h.opts.MaxPerKey)
	case h.perTenant[tenant] >= h.opts.MaxPerTenant:
		return nil, tooMany(http.StatusTooManyRequests, "tenant %s has %d live streams open, its limit; try again later", tenant, h.opts.MaxPerTenant)
	case h.admitted >= h.opts.MaxReaders:
		return nil, tooMany(http.StatusServiceUnavailable, "the server has its %d live streams open; try again later", h.opts.MaxReaders)
	}
	h.admitted++
	h.perKey[keyID]++
	h.perTenant[tenant]++
	var once sync.Once
	return func() {
		once.Do(func() {
			h.mu.Lock()
			defer h.mu.Unlock()
			h.admitted--
			if h.perKey[keyID]--; h.perKey[keyID] <= 0 {
				delete(h.perKey, keyID)
			}
			if h.perTenant[tenant]--; h.perTenant[tenant] <= 0 {
				delete(h.perTenant, tenant)
			}
		})
	}, nil
}

// Admitted returns the number of open streams (Admit).
func (h *Hub) Admitted() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.admitted
}

// Readers returns the number of subscriptions.
func (h *Hub) Readers() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.subs)
}

// Cuts returns how many readers were cut off for falling behind.
func (h *Hub) Cuts() int64 { return h.cuts.Load() }

// Committed hands evs to every subscriber. It never blocks: a subscriber
// whose queue would exceed MaxPending events is cut off instead.
func (h *Hub) Committed(evs []event.Event) {
	if len(evs) == 0 {
		return
	}
	n := int64(len(evs))
	h.mu.Lock()
	defer h.mu.Unlock()
	for s := range h.subs {
		if s.pending.Load()+n > int64(h.opts.MaxPending) {
			h.endLocked(s, ReasonSlow)
			h.cuts.Add(1)
			continue
		}
		s.pending.Add(n)
		select {
		case s.c <- evs:
		default: // too many small batches queued
			h.endLocked(s, ReasonSlow)
			h.cuts.Add(1)
		}
	}
}

// Emitted does nothing: a Hub only follows commits.
func (h *Hub) Emitted(int, time.Duration, error) {}

// BestEffortFailed does nothing: a Hub only follows commits.
func (h *Hub) BestEffortFailed(string, string, error) {}

// Close ends every subscription with ReasonClosed and refuses new ones;
// serve calls it when shutting down so that streams end.
func (h *Hub) Close() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.closed = true
	for s := range h.subs {
		h.endLocked(s, ReasonClosed)
	}
}

func (h *Hub) endLocked(s *Subscription, reason string) {
	delete(h.subs, s)
	s.once.Do(func() {
		s.reason = reason
		close(s.done)
	})
}

// C delivers batches of committed events in seq order. Call Took after
// handling each batch.
func (s *Subscription) C() <-chan []event.Event { return s.c }

// Took reports that a batch of n events was handled, freeing its room in
// the queue.
func (s *Subscription) Took(n int) { s.pending.Add(-int64(n)) }

// Done is closed when the Hub ends the subscription; Reason then says why.
func (s *Subscription) Done() <-chan struct{} { return s.done }

// Reason is ReasonSlow or ReasonClosed once Done is closed, "" before.
func (s *Subscription) Reason() string {
	select {
	case <-s.done:
		return s.reason
	default:
		return ""
	}
}

// Close unsubscribes. It is safe to call more than once.
func (s *Subscription) Close() {
	s.hub.mu.Lock()
	defer s.hub.mu.Unlock()
	delete(s.hub.subs, s)
	s.once.Do(func() { close(s.done) })
}

// Tee returns an Observer that passes every call to each of obs in turn
// (nil entries are skipped): the Log takes one Observer, and both the
// metrics and a Hub need to see commits.
func Tee(obs ...stigaudit.Observer) stigaudit.Observer {
	var t tee
	for _, o := range obs {
		if o != nil {
			t = append(t, o)
		}
	}
	return t
}

type tee []stigaudit.Observer

func (t tee) Committed(evs []event.Event) {
	for _, o := range t {
		o.Committed(evs)
	}
}

func (t tee) Emitted(n int, d time.Duration, err error) {
	for _, o := range t {
		o.Emitted(n, d, err)
	}
}

func (t tee) BestEffortFailed(eventType, tenant string, err error) {
	for _, o := range t {
		o.BestEffortFailed(eventType, tenant, err)
	}
}
