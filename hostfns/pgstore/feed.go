package pgstore

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/stigaudit/stigaudit/core/event"
	"github.com/stigaudit/stigaudit/hostfns"
)

// Defaults of FeedOptions.
const (
	DefaultFeedInterval     = time.Second
	DefaultFeedSaveInterval = 200 * time.Millisecond
)

// feedBuffer bounds (within a factor of two) the committed events a
// leading Feed keeps in memory, offered by the log and not yet delivered;
// beyond it, the leader reads them back from the store.
const feedBuffer = 16384

// FeedOptions configure a Feed.
type FeedOptions struct {
	// Deliver receives the log's events in seq order, each once while one
	// leader stays in place (see Feed). It is called from one goroutine at
	// a time and must not block. Required.
	Deliver func(events []event.Event)
	// Handled, if set, returns the first seq whose delivery downstream is
	// not finished (written, or given up and counted): the cursor saved in
	// the database never passes it, so a replica that takes over after a
	// crash delivers again what was queued but not written. Nil means an
	// event is handled once Deliver returns.
	Handled func() int64
	// Drain, if set, is called by Close after the last Deliver and before
	// the cursor is saved for the last time, to let downstream finish (for
	// example, to flush sink queues); Handled is read after it.
	Drain func()
	// Interval is how often a follower tries to lead, and how often the
	// leader checks the store for events it was not offered; default 1s.
	Interval time.Duration
	// SaveInterval is how often the leader saves its position (when it
	// moved): what a replica taking over after a crash delivers again;
	// default 200ms.
	SaveInterval time.Duration
	// Logger logs read and save failures; default slog.Default().
	Logger *slog.Logger
}

// Feed delivers the whole log, in seq order, to one replica's downstream
// (sinks, the committed-events counter) at a time: the replica elected by a
// Leader of its own ("feed/<name>"). Every replica offers it the events its
// Log observed (Offer), so the leader usually delivers from memory; what it
// lacks — after an election, or past its buffer — it reads from the store.
//
// The position reached is saved in the feed_cursors table (migration
// 0004) every SaveInterval, no further than Handled allows. A replica
// elected after a graceful hand-over resumes exactly where the last one
// stopped; after a crash it resumes from the last saved position, so events
// handled in the last SaveInterval before the crash are delivered a second
// time (at-least-once), and none is skipped. A new feed starts at the log's
// durable size when it is first created (NewFeed, before any election).
type Feed struct {
	s      *Store
	name   string
	opts   FeedOptions
	leader *Leader

	mu       sync.Mutex
	buf      []event.Event // contiguous committed events, ending before end
	end      int64         // the seq after the last event offered; -1 before the first
	wake     chan struct{} // signalled by Offer
	closing  bool
	position int64 // next seq to deliver; -1 while not leading

	stop chan struct{}
	done chan struct{}
}

// NewFeed starts a feed named name (one cursor per name and schema) on
// this store. Close stops it.
func (s *Store) NewFeed(name string, opts FeedOptions) (*Feed, error) {
	if opts.Deliver == nil {
		return nil, errors.New("pgstore: FeedOptions.Deliver is required")
	}
	if opts.Interval <= 0 {
		opts.Interval = DefaultFeedInterval
	}
	if opts.SaveInterval <= 0 {
		opts.SaveInterval = DefaultFeedSaveInterval
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	f := &Feed{
		s:        s,
		name:     name,
		opts:     opts,
		wake:     make(chan struct{}, 1),
		position: -1,
		end:      -1,
		stop:     make(chan struct{}),
		done:     make(chan struct{}),
	}
	// The cursor exists from now on, so that events committed before the
	// first election (a server's own first events) are delivered too.
	ctx, cancel := context.WithTimeout(context.Background(), 10*opts.Interval)
	defer cancel()
	if _, err := s.pool.Exec(ctx, sqlFeedInit, name); err != nil {
		return nil, unavailable("feed "+name+": create cursor", err)
	}
	f.leader = s.NewLeader("feed/"+name, LeaderOptions{Interval: opts.Interval, Logger: opts.Logger})
	go f.run()
	return f, nil
}

// IsLeader reports whether this replica delivers the feed now.
func (f *Feed) IsLeader() bool { return f.leader.IsLeader() }

// Offer hands the feed committed events in seq order, as a Log's Observer
// sees them (stigaudit.Observer.Committed); it never blocks. Only the
// leader keeps them, until delivered; what it could not keep it reads back
// from the store later.
func (f *Feed) Offer(events []event.Event) {
	if len(events) == 0 {
		return
	}
	f.mu.Lock()
	if events[0].Seq != f.end || f.position < 0 {
		// Not contiguous (the first offer, or several Logs), or not
		// leading (a new leader reads back what it lacks): start again.
		f.buf = f.buf[:0]
	}
	if f.position >= 0 {
		f.buf = append(f.buf, events...)
		if len(f.buf) > 2*feedBuffer {
			// Keep the newest: the oldest are the cheapest to read back.
			// Trimmed by halves, so that the copy is paid once per
			// feedBuffer events.
			f.buf = append(f.buf[:0], f.buf[len(f.buf)-feedBuffer:]...)
		}
	}
	f.end = events[len(events)-1].Seq + 1
	f.mu.Unlock()
	select {
	case f.wake <- struct{}{}:
	default:
	}
}

// run delivers while this replica leads.
func (f *Feed) run() {
	defer close(f.done)
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		<-f.stop
		cancel()
	}()
	f.leader.Run(ctx, f.lead)
}

// lead delivers from the saved cursor on until leadership or ctx ends,
// saving the cursor every SaveInterval and when it stops.
func (f *Feed) lead(ctx context.Context) {
	next, err := f.loadCursor(ctx)
	for err != nil {
		f.opts.Logger.Warn("audit feed: cannot read its cursor", slog.String("feed", f.name), slog.String("error", err.Error()))
		select {
		case <-ctx.Done():
			return
		case <-time.After(f.opts.Interval):
		}
		next, err = f.loadCursor(ctx)
	}
	f.mu.Lock()
	f.position = next
	f.mu.Unlock()
	saved := next
	save := func(ctx context.Context) {
		pos := f.handled()
		if pos <= saved {
			return
		}
		if err := f.saveCursor(ctx, pos); err != nil {
			f.opts.Logger.Warn("audit feed: cannot save its cursor", slog.String("feed", f.name), slog.Int64("position", pos), slog.String("error", err.Error()))
			return
		}
		saved = pos
	}
	defer func() {
		f.mu.Lock()
		closing := f.closing
		f.mu.Unlock()
		if closing {
			// Deliver what the log offered last; Close then drains
			// downstream and saves the cursor.
			cctx, cancel := context.WithTimeout(context.Background(), 10*f.opts.Interval)
			if err := f.deliverAvailable(cctx, false); err != nil {
				f.opts.Logger.Warn("audit feed: cannot deliver the last events", slog.String("feed", f.name), slog.String("error", err.Error()))
			}
			cancel()
			return
		}
		sctx, cancel := context.WithTimeout(context.Background(), f.opts.Interval)
		save(sctx)
		cancel()
		f.mu.Lock()
		f.position = -1
		f.mu.Unlock()
	}()
	tick := time.NewTicker(f.opts.Interval)
	defer tick.Stop()
	saveTick := time.NewTicker(f.opts.SaveInterval)
	defer saveTick.Stop()
	for ticked := true; ; {
		if err := f.deliverAvailable(ctx, ticked); err != nil && ctx.Err() == nil {
			f.opts.Logger.Warn("audit feed: cannot read the log", slog.String("feed", f.name), slog.String("error", err.Error()))
		}
		ticked = false
		select {
		case <-ctx.Done():
			return
		case <-f.wake:
		case <-tick.C:
			ticked = true
		case <-saveTick.C:
			save(ctx)
		}
	}
}

// deliverAvailable delivers every event from the position on that is in
// the buffer and, when the position is behind the buffer, what the store
// holds before it. With poll it also reads the store past the buffer's end:
// the log offers every event eventually, so this is needed only after an
// election and as a safety net, once per Interval.
func (f *Feed) deliverAvailable(ctx context.Context, poll bool) error {
	for ctx.Err() == nil {
		f.mu.Lock()
		next := f.position
		var run []event.Event
		start := f.end - int64(len(f.buf)) // seq of buf[0]
		if next >= start && next < f.end {
			run = append(run, f.buf[next-start:]...)
		}
		behind := f.end < 0 || next < start
		f.mu.Unlock()
		if run == nil && (behind || poll) {
			// Behind the buffer (just elected, or fell behind): read back.
			page, err := f.s.Query(ctx, hostfns.Query{Order: hostfns.Ascending, After: next - 1, Limit: hostfns.MaxQueryLimit})
			if err != nil {
				return err
			}
			run = page.Events
		}
		if len(run) == 0 {
			return nil
		}
		if run[0].Seq != next {
			return fmt.Errorf("pgstore: feed %s expected seq %d, read %d", f.name, next, run[0].Seq)
		}
		f.opts.Deliver(run)
		f.mu.Lock()
		f.position = run[len(run)-1].Seq + 1
		if n := len(f.buf); n > 0 && f.buf[0].Seq < f.position {
			// Delivered: the leader keeps only what it has not.
			cut := min(int(f.position-f.buf[0].Seq), n)
			f.buf = append(f.buf[:0], f.buf[cut:]...)
		}
		f.mu.Unlock()
	}
	return ctx.Err()
}

// handled is the position the cursor may be saved at.
func (f *Feed) handled() int64 {
	f.mu.Lock()
	pos := f.position
	f.mu.Unlock()
	if f.opts.Handled != nil {
		pos = min(pos, f.opts.Handled())
	}
	return pos
}

func (f *Feed) loadCursor(ctx context.Context) (int64, error) {
	return f.s.Cursor(ctx, f.name)
}

func (f *Feed) saveCursor(ctx context.Context, pos int64) error {
	return f.s.SaveCursor(ctx, f.name, pos)
}

// Close stops the feed: if this replica leads, it delivers what it holds,
// lets downstream finish (FeedOptions.Drain), saves the cursor, and then
// resigns, so the next leader goes on exactly from there. Call it after
// the Log that offers events is closed. It is safe to call more than once.
func (f *Feed) Close() error {
	f.mu.Lock()
	if f.closing {
		f.mu.Unlock()
		return nil
	}
	f.closing = true
	f.mu.Unlock()
	close(f.stop)
	<-f.done // lead has returned: nothing is delivered any more
	if f.opts.Drain != nil {
		f.opts.Drain()
	}
	var err error
	if f.leader.IsLeader() {
		f.mu.Lock()
		leading := f.position >= 0
		f.mu.Unlock()
		if pos := f.handled(); leading && pos > 0 {
			ctx, cancel := context.WithTimeout(context.Background(), 10*f.opts.Interval)
			err = f.saveCursor(ctx, pos)
			cancel()
		}
	}
	return errors.Join(err, f.leader.Close())
}
