package sink

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/stigaudit/stigaudit/core/auditerr"
	"github.com/stigaudit/stigaudit/core/event"
	"github.com/stigaudit/stigaudit/hostfns"
)

// Log is the audit log the sinks deliver, read by seq: hostfns.Store
// implements it.
type Log interface {
	// Query returns one page of events; the Dispatcher asks only for
	// Ascending pages of every event after a seq.
	Query(ctx context.Context, q hostfns.Query) (hostfns.Page, error)
	// Size returns the number of events stored (the next seq).
	Size(ctx context.Context) (int64, error)
}

// Cursors keep each sink's position durably, in the log's database:
// sqlitestore.Store and pgstore.Store implement it (table feed_cursors).
type Cursors interface {
	// Cursor returns the first seq not yet delivered to the cursor called
	// name, creating the cursor at the log's size if it does not exist.
	Cursor(ctx context.Context, name string) (int64, error)
	// SaveCursor moves the cursor called name forward to next; it never
	// moves a cursor back.
	SaveCursor(ctx context.Context, name string, next int64) error
}

// Reporter is told how the sinks are doing. server/metrics implements it
// with stigaudit_sink_errors_total and stigaudit_sink_lag_events.
type Reporter interface {
	// Failed reports a Write of n events to sink that returned err (or
	// panicked). The events are not lost: the Write is retried.
	Failed(sink string, n int, err error)
	// Lag reports how many events of the log sink has not been delivered
	// yet: the log's size minus the sink's position.
	Lag(sink string, events int64)
}

// Defaults of Options.
const (
	DefaultMaxBatch     = 500
	DefaultWriteTimeout = 10 * time.Second
	DefaultBackoff      = 100 * time.Millisecond
	DefaultMaxBackoff   = 5 * time.Second
	DefaultPoll         = time.Second
	DefaultSaveInterval = 200 * time.Millisecond
	DefaultTail         = 4096
)

// Options configure a Dispatcher. Log and Cursors are required when there
// are sinks.
type Options struct {
	// Log is read from a sink's cursor on whenever the events it needs are
	// not in memory: after a start, after an outage, or when they were
	// committed behind the Dispatcher's back.
	Log Log
	// Cursors keep each sink's position.
	Cursors Cursors
	// Active, if set, says whether this process delivers now (with
	// PostgreSQL replicas: whether it leads the sink feed). While it
	// answers false the workers deliver nothing and report the lag of
	// the cursors saved in the database; when it turns true they resume
	// from those cursors. Nil means always.
	Active func() bool
	// MaxBatch bounds the events passed to one Write; default 500, at
	// most hostfns.MaxQueryLimit.
	MaxBatch int
	// WriteTimeout bounds one Write and one cursor save; default 10s.
	WriteTimeout time.Duration
	// Backoff is the pause after a failed Write, doubled (with jitter)
	// after each further failure up to MaxBackoff; defaults 100ms and 5s.
	Backoff, MaxBackoff time.Duration
	// Poll is how often an idle worker looks at the log for events it was
	// not offered (committed elsewhere) and, while not Active, reads its
	// saved cursor to report the lag; default 1s.
	Poll time.Duration
	// SaveInterval is how often a moving cursor is saved: after a crash,
	// what was delivered in the last SaveInterval is delivered again;
	// default 200ms.
	SaveInterval time.Duration
	// Tail bounds (within a factor of two) the committed events kept in
	// memory for the workers, so that a sink that keeps up does not read
	// the log back; default 4096.
	Tail int
	// Reporter is told about failures and lag; default none.
	Reporter Reporter
	// Logger logs failures; default slog.Default().
	Logger *slog.Logger
}

func (o Options) withDefaults() Options {
	if o.MaxBatch <= 0 {
		o.MaxBatch = DefaultMaxBatch
	}
	o.MaxBatch = min(o.MaxBatch, hostfns.MaxQueryLimit)
	if o.WriteTimeout <= 0 {
		o.WriteTimeout = DefaultWriteTimeout
	}
	if o.Backoff <= 0 {
		o.Backoff = DefaultBackoff
	}
	if o.MaxBackoff <= 0 {
		o.MaxBackoff = DefaultMaxBackoff
	}
	o.MaxBackoff = max(o.MaxBackoff, o.Backoff)
	if o.Poll <= 0 {
		o.Poll = DefaultPoll
	}
	if o.SaveInterval <= 0 {
		o.SaveInterval = DefaultSaveInterval
	}
	if o.Tail <= 0 {
		o.Tail = DefaultTail
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return o
}

// Dispatcher delivers the log to sinks, each at least once and in seq
// order, from a durable cursor, through a goroutine of its own per sink.
//
// Committed events offered by Enqueue are kept in a bounded in-memory tail
// from which a sink that keeps up is served; a sink that falls behind — it
// is down, slow, or the process just started — reads what it lacks back
// from the log, from its position on. Nothing is ever dropped: the log is
// the buffer. A failed Write is retried with backoff (Options.Backoff,
// doubling to MaxBackoff) until it succeeds; meanwhile the sink's lag
// grows, and Enqueue, which only appends to the tail, never waits for any
// sink. Each sink's position is saved (Options.Cursors) every SaveInterval
// while it moves and when the Dispatcher closes; after a restart or a
// crash the sink resumes from its saved position, so what was delivered
// after the last save is delivered again, and nothing is skipped.
//
// It is safe for concurrent use.
type Dispatcher struct {
	opt     Options
	workers []*worker
	stop    chan struct{} // closed by Close: deliver what is there, save, return
	// ctx is the context of every Write; Close cancels it when its own
	// deadline passes.
	ctx    context.Context
	cancel context.CancelFunc

	closeOnce sync.Once

	mu    sync.Mutex
	tail  []event.Event // contiguous committed events, ending before end
	end   int64         // the seq after the last event offered
	known int64         // the log's size as far as the Dispatcher knows
}

// worker delivers to one sink. Its fields other than lag and wake are
// owned by its goroutine.
type worker struct {
	d      *Dispatcher
	sink   Sink
	cursor string
	wake   chan struct{}
	done   chan struct{}

	pos      int64 // next seq to deliver; -1 while not active
	saved    int64 // the position saved last
	lastSave time.Time
	failures int // consecutive failed Writes
	troubles int // consecutive failures to read the log or the cursor
	lag      atomic.Int64
}

// NewDispatcher creates every sink's cursor that does not exist yet (at
// the log's size: a new sink starts with the events committed from now on)
// and starts one goroutine per sink. Close stops them. It fails when the
// cursors cannot be created.
func NewDispatcher(ctx context.Context, sinks []Sink, opt Options) (*Dispatcher, error) {
	opt = opt.withDefaults()
	if len(sinks) > 0 && (opt.Log == nil || opt.Cursors == nil) {
		return nil, errors.New("sink: Options.Log and Options.Cursors are required")
	}
	seen := map[string]bool{}
	for _, s := range sinks {
		if seen[s.Name()] {
			return nil, auditerr.Errorf(auditerr.ErrInvalidConfig, "sink %s is configured twice", s.Name())
		}
		seen[s.Name()] = true
	}
	wctx, cancel := context.WithCancel(context.Background())
	d := &Dispatcher{opt: opt, stop: make(chan struct{}), ctx: wctx, cancel: cancel}
	var positions []int64
	for _, s := range sinks {
		w := &worker{d: d, sink: s, cursor: CursorName(s), wake: make(chan struct{}, 1), done: make(chan struct{}), pos: -1, saved: -1}
		pos, err := opt.Cursors.Cursor(ctx, w.cursor)
		if err != nil {
			cancel()
			return nil, fmt.Errorf("sink %s: %w", s.Name(), err)
		}
		positions = append(positions, pos)
		if d.active() {
			w.pos, w.saved = pos, pos
		}
		d.workers = append(d.workers, w)
	}
	if len(d.workers) > 0 {
		// Report the lag from the start: a restarted server's sinks may be
		// far behind before their first delivery.
		size, err := opt.Log.Size(ctx)
		if err != nil {
			cancel()
			return nil, fmt.Errorf("sink: reading the log's size: %w", err)
		}
		d.known = size
		for i, w := range d.workers {
			w.setLag(size - positions[i])
		}
	}
	for _, w := range d.workers {
		go w.run()
	}
	return d, nil
}

// Len reports how many sinks the dispatcher feeds.
func (d *Dispatcher) Len() int { return len(d.workers) }

// Lag returns how many events of the log the named sink has not been
// delivered yet, as last reported (see Reporter.Lag); ok is false for an
// unknown sink.
func (d *Dispatcher) Lag(sink string) (events int64, ok bool) {
	for _, w := range d.workers {
		if w.sink.Name() == sink {
			return w.lag.Load(), true
		}
	}
	return 0, false
}

// Enqueue offers committed events, in seq order, and returns at once: the
// events are kept in the bounded in-memory tail for the sinks that are
// keeping up, and the workers are woken. It never blocks and never drops
// anything a sink needs: what the tail cannot keep is read back from the
// log. The caller may reuse the slice after Enqueue returns.
func (d *Dispatcher) Enqueue(events []event.Event) {
	if len(events) == 0 || len(d.workers) == 0 {
		return
	}
	d.mu.Lock()
	if events[0].Seq != d.end {
		d.tail = d.tail[:0] // not contiguous: start again
	}
	d.tail = append(d.tail, events...)
	if len(d.tail) > 2*d.opt.Tail {
		// Keep the newest; trimmed by halves, so that the copy is paid
		// once per Tail events.
		n := copy(d.tail, d.tail[len(d.tail)-d.opt.Tail:])
		clear(d.tail[n:])
		d.tail = d.tail[:n]
	}
	d.end = events[len(events)-1].Seq + 1
	d.known = max(d.known, d.end)
	d.mu.Unlock()
	for _, w := range d.workers {
		select {
		case w.wake <- struct{}{}:
		default: // already signalled
		}
	}
}

func (d *Dispatcher) active() bool { return d.opt.Active == nil || d.opt.Active() }

func (d *Dispatcher) stopping() bool {
	select {
	case <-d.stop:
		return true
	default:
		return false
	}
}

// fromTail returns up to MaxBatch events from pos on if the tail holds pos,
// and otherwise nil and whether the log is known to hold pos.
func (d *Dispatcher) fromTail(pos int64) (batch []event.Event, behind bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	start := d.end - int64(len(d.tail))
	if len(d.tail) > 0 && pos >= start && pos < d.end {
		i := int(pos - start)
		n := min(len(d.tail)-i, d.opt.MaxBatch)
		return append([]event.Event(nil), d.tail[i:i+n]...), false
	}
	return nil, pos < d.known
}

// saw records that the log holds at least size events.
func (d *Dispatcher) saw(size int64) {
	d.mu.Lock()
	d.known = max(d.known, size)
	d.mu.Unlock()
}

func (d *Dispatcher) size() int64 {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.known
}

// Close stops the workers: each delivers what the log holds up to its end
// (reading the log once more for events not offered), saves its cursor and
// closes its sink. If ctx ends first, the Writes in progress are cancelled,
// the cursors are saved where delivery got to, and Close returns an error
// naming the sinks that had not caught up; nothing is lost, the next start
// resumes from those cursors. Close is idempotent; later calls return nil.
func (d *Dispatcher) Close(ctx context.Context) error {
	first := false
	d.closeOnce.Do(func() { first = true })
	if !first {
		return nil
	}
	close(d.stop)
	var late []string
	for _, w := range d.workers {
		select {
		case <-w.done:
		case <-ctx.Done():
			d.cancel()
			// A cancelled worker saves its cursor and returns, unless its
			// sink's Write ignores the cancellation.
			select {
			case <-w.done:
			case <-time.After(time.Second):
			}
			late = append(late, w.sink.Name())
		}
	}
	d.cancel()
	if len(late) > 0 {
		return fmt.Errorf("sink: %s had not caught up with the log before the deadline (it resumes from its cursor): %w", strings.Join(late, ", "), ctx.Err())
	}
	return nil
}

func (w *worker) run() {
	defer close(w.done)
	defer func() {
		if err := w.sink.Close(); err != nil {
			w.d.opt.Logger.Error("closing audit sink", "sink", w.sink.Name(), "err", err)
		}
	}()
	defer w.save(true)
	poll := time.NewTicker(w.d.opt.Poll)
	defer poll.Stop()
	polled := true // look at the log first: the process may be behind it
	var pause time.Duration
	for w.d.ctx.Err() == nil {
		stopping := w.d.stopping()
		if pause > 0 {
			w.save(true) // what was delivered before the failure
			if !w.wait(poll, pause, stopping, &polled) {
				return
			}
			pause = 0
			continue
		}
		if !w.d.active() {
			if w.pos >= 0 {
				w.save(true) // hand over where delivery got to
				w.pos, w.saved = -1, -1
			}
			if stopping {
				return
			}
			if polled {
				w.observe()
				polled = false
			}
			if !w.wait(poll, 0, false, &polled) {
				return
			}
			continue
		}
		if w.pos < 0 && !w.load() {
			pause = w.backoff(w.troubles)
			continue
		}
		batch, err := w.next(polled || stopping)
		polled = false
		if err != nil {
			w.trouble("audit sink: cannot read the log", err)
			pause = w.backoff(w.troubles)
			continue
		}
		w.troubles = 0
		if len(batch) == 0 {
			w.report()
			if stopping {
				return
			}
			w.save(false)
			if !w.wait(poll, 0, false, &polled) {
				return
			}
			continue
		}
		if err := w.write(batch); err != nil {
			if w.d.ctx.Err() != nil {
				return // Close gave up waiting: the cursor stays before batch
			}
			w.failed(batch, err)
			w.report()
			pause = w.backoff(w.failures)
			continue
		}
		if w.failures > 0 {
			w.d.opt.Logger.Info("audit sink delivering again", "sink", w.sink.Name(), "failed_writes", w.failures, "position", batch[0].Seq)
			w.failures = 0
		}
		w.pos = batch[len(batch)-1].Seq + 1
		w.report()
		w.save(false)
	}
}

// wait sleeps until woken by Enqueue, the poll ticker (setting *polled),
// a pending cursor save is due, pause has passed (if set), Close is called
// (unless stopping already) or Close gives up. It reports false for the
// latter: return at once.
func (w *worker) wait(poll *time.Ticker, pause time.Duration, stopping bool, polled *bool) bool {
	var timer <-chan time.Time
	after := pause
	if pause <= 0 && w.pos > w.saved {
		after = max(w.d.opt.SaveInterval-time.Since(w.lastSave), time.Millisecond)
	}
	if after > 0 {
		t := time.NewTimer(after)
		defer t.Stop()
		timer = t.C
	}
	stop := w.d.stop
	if stopping {
		stop = nil
	}
	wake := w.wake
	if pause > 0 {
		wake = nil // a failed sink waits its backoff out
	}
	select {
	case <-wake:
	case <-poll.C:
		*polled = true
	case <-timer:
		if pause <= 0 {
			w.save(false)
		}
	case <-stop:
	case <-w.d.ctx.Done():
		return false
	}
	return true
}

// load reads the saved cursor to resume from.
func (w *worker) load() bool {
	ctx, cancel := context.WithTimeout(w.d.ctx, w.d.opt.WriteTimeout)
	defer cancel()
	pos, err := w.d.opt.Cursors.Cursor(ctx, w.cursor)
	if err != nil {
		w.trouble("audit sink: cannot read its cursor", err)
		return false
	}
	w.pos, w.saved, w.lastSave = pos, pos, time.Now()
	w.troubles = 0
	return true
}

// trouble counts and logs a failure to read the log or the cursor (the
// store is unreachable): the first of a run, then every 20th, so that an
// outage of the database does not flood the log.
func (w *worker) trouble(msg string, err error) {
	w.troubles++
	if w.troubles == 1 || w.troubles%20 == 0 {
		w.d.opt.Logger.Warn(msg, "sink", w.sink.Name(), "position", w.pos, "failures", w.troubles, "err", err)
	}
}

// observe reports, while another process delivers, the lag of the cursor
// saved in the database.
func (w *worker) observe() {
	ctx, cancel := context.WithTimeout(w.d.ctx, w.d.opt.WriteTimeout)
	defer cancel()
	pos, err := w.d.opt.Cursors.Cursor(ctx, w.cursor)
	if err != nil {
		return
	}
	size, err := w.d.opt.Log.Size(ctx)
	if err != nil {
		return
	}
	w.d.saw(size)
	w.setLag(size - pos)
}

// next returns the events from the position on: from the tail when it
// holds them, otherwise from the log when it is known to hold more, or
// when poll asks to look.
func (w *worker) next(poll bool) ([]event.Event, error) {
	batch, behind := w.d.fromTail(w.pos)
	if batch != nil || (!behind && !poll) {
		return batch, nil
	}
	ctx, cancel := context.WithTimeout(w.d.ctx, w.d.opt.WriteTimeout)
	defer cancel()
	page, err := w.d.opt.Log.Query(ctx, hostfns.Query{Order: hostfns.Ascending, After: w.pos - 1, Limit: w.d.opt.MaxBatch})
	if err != nil {
		return nil, err
	}
	evs := page.Events
	if len(evs) == 0 {
		return nil, nil
	}
	if evs[0].Seq != w.pos {
		return nil, fmt.Errorf("sink %s: the log has no seq %d (the next is %d)", w.sink.Name(), w.pos, evs[0].Seq)
	}
	size := evs[len(evs)-1].Seq + 1
	if page.HasMore {
		size++
	}
	w.d.saw(size)
	return evs, nil
}

// write calls the sink's Write with a timeout, turning a panic into an
// error.
func (w *worker) write(batch []event.Event) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = auditerr.Errorf(auditerr.ErrPanic, "sink panicked: %v", r)
		}
	}()
	ctx, cancel := context.WithTimeout(w.d.ctx, w.d.opt.WriteTimeout)
	defer cancel()
	return w.sink.Write(ctx, batch)
}

// failed logs and reports a failed Write: the first of a run at Error,
// the next ones at Warn.
func (w *worker) failed(batch []event.Event, err error) {
	w.failures++
	level := slog.LevelWarn
	if w.failures == 1 {
		level = slog.LevelError
	}
	w.d.opt.Logger.Log(context.Background(), level, "audit sink write failed; retrying from its cursor",
		"sink", w.sink.Name(), "events", len(batch), "first_seq", batch[0].Seq,
		"last_seq", batch[len(batch)-1].Seq, "failed_writes", w.failures, "err", err)
	if w.d.opt.Reporter != nil {
		w.d.opt.Reporter.Failed(w.sink.Name(), len(batch), err)
	}
}

// backoff returns the pause after the n-th consecutive failure: Backoff
// doubled per failure after the first, at most MaxBackoff, with jitter in
// its upper half.
func (w *worker) backoff(n int) time.Duration {
	d := w.d.opt.Backoff
	for i := 1; i < n && d < w.d.opt.MaxBackoff; i++ {
		d *= 2
	}
	d = min(d, w.d.opt.MaxBackoff)
	return d/2 + rand.N(d/2+1)
}

// report publishes the lag at the current position.
func (w *worker) report() {
	if w.pos >= 0 {
		w.setLag(w.d.size() - w.pos)
	}
}

func (w *worker) setLag(n int64) {
	n = max(n, 0)
	w.lag.Store(n)
	if w.d.opt.Reporter != nil {
		w.d.opt.Reporter.Lag(w.sink.Name(), n)
	}
}

// save saves the position if it moved, at most once per SaveInterval
// unless force.
func (w *worker) save(force bool) {
	if w.pos < 0 || w.pos <= w.saved {
		return
	}
	if !force && time.Since(w.lastSave) < w.d.opt.SaveInterval {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), w.d.opt.WriteTimeout)
	defer cancel()
	w.lastSave = time.Now()
	if err := w.d.opt.Cursors.SaveCursor(ctx, w.cursor, w.pos); err != nil {
		w.d.opt.Logger.Warn("audit sink: cannot save its cursor", "sink", w.sink.Name(), "position", w.pos, "err", err)
		return
	}
	w.saved = w.pos
}
