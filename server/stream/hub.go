package stream

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/stigaudit/stigaudit"
	"github.com/stigaudit/stigaudit/core/auditerr"
	"github.com/stigaudit/stigaudit/core/event"
)

// Defaults of HubOptions.
const (
	DefaultMaxPending = 10000
	DefaultMaxReaders = 1000
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
}

// Hub fans committed events out to subscribers (see the package doc). It
// implements stigaudit.Observer. It is safe for concurrent use.
type Hub struct {
	opts HubOptions

	mu     sync.Mutex
	subs   map[*Subscription]struct{}
	closed bool

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
	return &Hub{opts: opts, subs: make(map[*Subscription]struct{})}
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

// Subscribe adds a reader. It fails with auditerr.ErrStoreUnavailable
// (503) when MaxReaders readers are subscribed, and auditerr.ErrClosed
// after Close.
func (h *Hub) Subscribe() (*Subscription, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return nil, auditerr.Errorf(auditerr.ErrClosed, "the server is shutting down")
	}
	if len(h.subs) >= h.opts.MaxReaders {
		return nil, auditerr.Errorf(auditerr.ErrStoreUnavailable, "too many live streams (%d); try again later", h.opts.MaxReaders)
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
