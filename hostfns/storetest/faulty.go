package storetest

import (
	"context"
	"sync"

	"github.com/stigaudit/stigaudit/core/auditerr"
	"github.com/stigaudit/stigaudit/core/event"
	"github.com/stigaudit/stigaudit/hostfns"
)

// Fault is what Faulty does to one Append.
type Fault int

// Faults.
const (
	// Pass forwards the Append unchanged.
	Pass Fault = iota
	// FailBefore fails the Append with ErrStoreUnavailable and persists
	// nothing: a commit that did not happen.
	FailBefore
	// FailAfter forwards the Append, then fails it with ErrStoreUnavailable
	// anyway: a commit whose acknowledgement was lost. The events are
	// stored; a caller that re-sends them must get them back unchanged.
	FailAfter
)

// Faulty wraps a Store and fails the Appends it is told to. Other methods
// are forwarded, unless SetDown(true) was called. It is safe for concurrent use.
type Faulty struct {
	hostfns.Store

	mu      sync.Mutex
	pending []Fault
	down    bool
	appends int
}

// NewFaulty returns a Faulty that forwards everything to s until told
// otherwise.
func NewFaulty(s hostfns.Store) *Faulty { return &Faulty{Store: s} }

// Inject queues faults for the next Appends, one per call, in order. Once
// the queue is empty Appends pass again.
func (f *Faulty) Inject(faults ...Fault) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.pending = append(f.pending, faults...)
}

// SetDown makes every call fail with ErrStoreUnavailable (Append persisting
// nothing) while down is true, as an unreachable database would.
func (f *Faulty) SetDown(down bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.down = down
}

// Appends returns how many Appends were made through f, failed or not.
func (f *Faulty) Appends() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.appends
}

func (f *Faulty) next() (Fault, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.appends++
	if f.down {
		return FailBefore, true
	}
	if len(f.pending) == 0 {
		return Pass, false
	}
	ft := f.pending[0]
	f.pending = f.pending[1:]
	return ft, false
}

func (f *Faulty) isDown() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.down
}

func unavailable(what string) error {
	return auditerr.Errorf(auditerr.ErrStoreUnavailable, "storetest: injected fault: %s", what)
}

// Append forwards to the wrapped store unless a fault is due.
func (f *Faulty) Append(ctx context.Context, events []event.Event) ([]event.Event, error) {
	switch ft, _ := f.next(); ft {
	case FailBefore:
		return nil, unavailable("append not committed")
	case FailAfter:
		if _, err := f.Store.Append(ctx, events); err != nil {
			return nil, err
		}
		return nil, unavailable("append committed, acknowledgement lost")
	}
	return f.Store.Append(ctx, events)
}

// Query forwards unless the store is down.
func (f *Faulty) Query(ctx context.Context, q hostfns.Query) (hostfns.Page, error) {
	if f.isDown() {
		return hostfns.Page{}, unavailable("query")
	}
	return f.Store.Query(ctx, q)
}

// Size forwards unless the store is down.
func (f *Faulty) Size(ctx context.Context) (int64, error) {
	if f.isDown() {
		return 0, unavailable("size")
	}
	return f.Store.Size(ctx)
}

// Ping forwards unless the store is down.
func (f *Faulty) Ping(ctx context.Context) error {
	if f.isDown() {
		return unavailable("ping")
	}
	return f.Store.Ping(ctx)
}
