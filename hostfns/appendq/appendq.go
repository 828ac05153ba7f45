// Package appendq is the queue between a store's Append callers and its
// group-commit writer, shared by the SQLite and PostgreSQL stores.
//
// Append callers Submit their events and wait; the store's one writer
// goroutine takes requests from Requests, commits as many together as it
// likes, and answers each with Reply. The queue owns the parts of that
// handshake that must be the same everywhere: a request is copied (the
// caller may reuse its slice), a closed queue refuses new requests with
// auditerr.ErrClosed, Close waits for no sender, and a caller whose
// context ends stops waiting at once — the writer never blocks on it,
// because every reply channel has room for its one answer.
package appendq

import (
	"context"
	"fmt"
	"sync"

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
