package stigaudit

import (
	"context"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/stigaudit/stigaudit/core/event"
	"github.com/stigaudit/stigaudit/hostfns"
)

// notifier delivers committed events to the Observer exactly once and in
// seq order, whoever committed them.
//
// Emitters offer what their own Append returned, so the common case costs
// no read. Events committed behind the log's back (EmitTx, another process
// on the same database) leave a gap in seq; the poller notices the store
// has grown past what was delivered and reads the missing events back.
// Anything below next was delivered already: idempotent re-sends, which
// return old events, are therefore never counted twice.
type notifier struct {
	store    hostfns.Store
	observer Observer
	logger   *slog.Logger

	mu      sync.Mutex
	next    int64                 // first seq not yet delivered
	pending map[int64]event.Event // offered, waiting for a gap below to fill

	stop chan struct{}
	done chan struct{}
}

func newNotifier(store hostfns.Store, obs Observer, logger *slog.Logger, next int64, poll time.Duration) *notifier {
	n := &notifier{
		store:    store,
		observer: obs,
		logger:   logger,
		next:     next,
		pending:  make(map[int64]event.Event),
		stop:     make(chan struct{}),
		done:     make(chan struct{}),
	}
	go n.poll(poll)
	return n
}

// offer hands over committed events and delivers every contiguous run that
// is now complete.
func (n *notifier) offer(evs []event.Event) {
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, e := range evs {
		if e.Seq >= n.next {
			n.pending[e.Seq] = e
		}
	}
	n.deliverLocked()
}

func (n *notifier) deliverLocked() {
	if len(n.pending) == 0 {
		return
	}
	var run []event.Event
	for {
		e, ok := n.pending[n.next]
		if !ok {
			break
		}
		delete(n.pending, n.next)
		run = append(run, e)
		n.next++
	}
	if len(run) > 0 {
		n.observer.Committed(run)
	}
}

// poll fills gaps left by events committed elsewhere.
func (n *notifier) poll(every time.Duration) {
	defer close(n.done)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-n.stop:
			return
		case <-t.C:
			if err := n.catchUp(); err != nil {
				n.logger.Warn("audit notifier could not read the store", slog.String("error", err.Error()))
			}
		}
	}
}

// catchUp reads events the log did not commit itself. An event offered by
// a concurrent emitter that is merely late is read here too; whichever
// arrives first is delivered, the other is ignored as below next. A
// Selective observer that does not want them has them skipped instead.
func (n *notifier) catchUp() error {
	ctx := context.Background()
	sel, _ := n.observer.(Selective)
	for {
		size, err := n.store.Size(ctx)
		if err != nil {
			return err
		}
		// Asked after reading the size: a reader that starts wanting
		// everything after this answer finds, in the store, every event
		// below size that skipping may deliver around.
		if sel != nil && !sel.WantsAll() {
			n.skipTo(size)
			return nil
		}
		n.mu.Lock()
		next := n.next
		n.mu.Unlock()
		if size <= next {
			return nil
		}
		page, err := n.store.Query(ctx, hostfns.Query{Order: hostfns.Ascending, After: next - 1, Limit: 1000})
		if err != nil {
			return err
		}
		if len(page.Events) == 0 {
			return nil
		}
		n.offer(page.Events)
	}
}

// skipTo gives up on the events below size that were committed elsewhere:
// it delivers the offered ones (in seq order, with gaps) and moves next
// to size, so that they are neither waited for nor read back.
func (n *notifier) skipTo(size int64) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if size <= n.next {
		return
	}
	var own []int64
	for seq := range n.pending {
		if seq < size {
			own = append(own, seq)
		}
	}
	slices.Sort(own)
	run := make([]event.Event, 0, len(own))
	for _, seq := range own {
		run = append(run, n.pending[seq])
		delete(n.pending, seq)
	}
	n.next = size
	if len(run) > 0 {
		n.observer.Committed(run)
	}
	n.deliverLocked()
}

func (n *notifier) close() {
	close(n.stop)
	<-n.done
	// Deliver what committed just before close, so no committed event
	// goes unreported.
	if err := n.catchUp(); err != nil {
		n.logger.Warn("audit notifier could not read the store at close", slog.String("error", err.Error()))
	}
}
