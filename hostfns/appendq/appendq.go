// Package appendq is the queue between a store's Append callers and its
// group-commit writer, shared by the SQLite and PostgreSQL stores.
//
// Append callers Submit their events and wait; the store's one writer
// goroutine takes groups of requests from a Gatherer, commits each group
// together, and answers each request with Reply. The queue owns the parts
// of that handshake that must be the same everywhere: a request is copied
// (the caller may reuse its slice), a closed queue refuses new requests
// with auditerr.ErrClosed, Close waits for no sender, and a caller whose
// context ends stops waiting at once — the writer never blocks on it,
// because every reply channel has room for its one answer.
//
// The Gatherer owns how a group forms: waiting for its first request,
// adding what is queued without waiting (More) or while a burst of
// requests keeps arriving (Burst), and never more than a group's events
// allow — a request that does not fit waits for the next group. A driver
// only commits the groups it is given.
package appendq

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/stigaudit/stigaudit/core/auditerr"
	"github.com/stigaudit/stigaudit/core/event"
)

// Request is one Append waiting for the writer.
type Request struct {
	// Ctx is the caller's context; a writer should skip a request whose
	// context has ended before its commit.
	Ctx context.Context
	// Events are the caller's events, copied.
	Events []event.Event
	reply  chan Result // buffered: the writer never blocks on a caller that gave up
}

// Reply answers the request. Call it exactly once.
func (r *Request) Reply(res Result) { r.reply <- res }

// Result is the answer to one Request.
type Result struct {
	Events []event.Event
	Err    error
}

// Queue carries requests from Submit to the writer. It is safe for
// concurrent use.
type Queue struct {
	name   string
	mu     sync.RWMutex // guards closed and sends on ch
	closed bool
	ch     chan *Request
}

// New returns an open queue holding up to capacity waiting requests; name
// prefixes its errors (e.g. "sqlitestore").
func New(name string, capacity int) *Queue {
	return &Queue{name: name, ch: make(chan *Request, capacity)}
}

// Submit queues events as one request and waits for its answer. If ctx
// ends first it returns ctx's error at once; the events may or may not be
// stored then, and re-sending them (appends are idempotent) finds out.
func (q *Queue) Submit(ctx context.Context, events []event.Event) ([]event.Event, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	r := &Request{
		Ctx:    ctx,
		Events: append([]event.Event(nil), events...), // the caller may reuse its slice once we return
		reply:  make(chan Result, 1),
	}
	q.mu.RLock()
	if q.closed {
		q.mu.RUnlock()
		return nil, auditerr.Errorf(auditerr.ErrClosed, "%s: append after Close", q.name)
	}
	if len(events) == 0 {
		q.mu.RUnlock()
		return []event.Event{}, nil
	}
	select {
	case q.ch <- r:
		q.mu.RUnlock()
	case <-ctx.Done():
		q.mu.RUnlock()
		return nil, ctx.Err()
	}
	select {
	case res := <-r.reply:
		return res.Events, res.Err
	case <-ctx.Done():
		return nil, fmt.Errorf("%s: append abandoned, outcome unknown (re-send to find out): %w", q.name, ctx.Err())
	}
}

// Requests is the writer's end: it is closed, after the last request, by
// Close.
func (q *Queue) Requests() <-chan *Request { return q.ch }

// Close refuses further requests and closes Requests once the queued ones
// are taken. It reports whether this call closed the queue (false when it
// was closed already).
func (q *Queue) Close() bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		return false
	}
	q.closed = true
	close(q.ch)
	return true
}

// Closed reports whether Close was called.
func (q *Queue) Closed() bool {
	q.mu.RLock()
	defer q.mu.RUnlock()
	return q.closed
}

// Group is a group of requests a writer commits together.
type Group struct {
	// Requests are in queue order.
	Requests []*Request
	// Events is how many events the requests hold in all.
	Events int
}

// add appends r to the group.
func (g *Group) add(r *Request) {
	g.Requests = append(g.Requests, r)
	g.Events += len(r.Events)
}

// Gatherer forms the groups of a Queue's writer: groups of at most a
// given number of events (a single request larger than that is a group of
// its own). It is the writer's alone: not safe for concurrent use.
type Gatherer struct {
	q     *Queue
	max   int
	carry *Request    // taken from the queue but did not fit the last group
	timer *time.Timer // Burst's, kept across groups; stopped when idle
}

// Gatherer returns the writer's end of q, forming groups of at most
// maxEvents events (values below 1 count as 1). A queue has one writer, so
// one Gatherer.
func (q *Queue) Gatherer(maxEvents int) *Gatherer {
	return &Gatherer{q: q, max: max(maxEvents, 1)}
}

// Next waits for the next request and returns a group holding it alone
// (reusing g's slice), or false once the queue is closed and every request
// has been taken.
func (g *Gatherer) Next(grp *Group) bool {
	r := g.carry
	g.carry = nil
	if r == nil {
		var ok bool
		if r, ok = <-g.q.ch; !ok {
			return false
		}
	}
	clear(grp.Requests)
	grp.Requests, grp.Events = grp.Requests[:0], 0
	grp.add(r)
	return true
}

// More adds to grp the requests queued now, without waiting, until it
// holds the most events a group may. It reports whether it added any.
func (g *Gatherer) More(grp *Group) bool {
	added := false
	for g.room(grp) {
		var r *Request
		var ok bool
		select {
		case r, ok = <-g.q.ch:
		default:
			return added
		}
		if !ok || !g.take(grp, r) {
			return added
		}
		added = true
	}
	return added
}

// Burst adds to grp the requests that keep arriving less than gap apart,
// for at most wait in all, until it holds the most events a group may:
// under load the callers answered by the last commit come back within a
// burst and join, and a lone request waits one gap. With gap ≥ wait it
// waits the whole of wait for requests to join. It reports whether it
// added any.
func (g *Gatherer) Burst(grp *Group, gap, wait time.Duration) bool {
	deadline := time.Now().Add(wait)
	added := false
	for g.room(grp) {
		var r *Request
		var ok bool
		select {
		case r, ok = <-g.q.ch:
		default:
			d := min(gap, time.Until(deadline))
			if d <= 0 {
				return added
			}
			if g.timer == nil {
				g.timer = time.NewTimer(d)
			} else {
				g.timer.Reset(d) // stopped, and since Go 1.23 without a stale tick
			}
			select {
			case r, ok = <-g.q.ch:
				g.timer.Stop()
			case <-g.timer.C:
				return added
			}
		}
		if !ok || !g.take(grp, r) {
			return added
		}
		added = true
	}
	return added
}

// room reports whether grp may take more, and no request waits for the
// next group.
func (g *Gatherer) room(grp *Group) bool { return grp.Events < g.max && g.carry == nil }

// take adds r to grp if it fits, and otherwise keeps it for the next group.
func (g *Gatherer) take(grp *Group, r *Request) bool {
	if grp.Events+len(r.Events) > g.max {
		g.carry = r
		return false
	}
	grp.add(r)
	return true
}
