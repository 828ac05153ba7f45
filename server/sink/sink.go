package sink

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/stigaudit/stigaudit/core/auditerr"
	"github.com/stigaudit/stigaudit/core/event"
)

// Sink is a destination for committed events.
//
// Write is called from one goroutine at a time per sink, with events in seq
// order; it should return when ctx is done. An error drops those events (it
// is logged and counted, not retried). Close is called once, after the last
// Write.
type Sink interface {
	// Name identifies the sink in logs and in the {sink} metric label.
	Name() string
	Write(ctx context.Context, events []event.Event) error
	Close() error
}

// Reporter is told what sinks lose. server/metrics implements it with the
// stigaudit_sink_dropped_total and stigaudit_sink_errors_total counters.
type Reporter interface {
	// Dropped reports n events not queued for sink because its queue was
	// full or the dispatcher was closing.
	Dropped(sink string, n int)
	// Failed reports a Write of n events to sink that returned err.
	Failed(sink string, n int, err error)
}

// Options configure a Dispatcher. The zero value is usable.
type Options struct {
	// QueueSize bounds, per sink, the events accepted but not yet written;
	// default 10000.
	QueueSize int
	// MaxBatch bounds the events passed to one Write; default 500.
	MaxBatch int
	// WriteTimeout bounds one Write; default 10s.
	WriteTimeout time.Duration
	// Reporter is told about drops and failures; default none.
	Reporter Reporter
	// Logger logs failures; default slog.Default().
	Logger *slog.Logger
}

// Dispatcher fans committed events out to sinks, each through its own
// bounded queue and goroutine. It is safe for concurrent use.
type Dispatcher struct {
	opt     Options
	workers []*worker
	stop    chan struct{}
	// ctx is the context of every Write; Close cancels it when its own
	// deadline passes.
	ctx    context.Context
	cancel context.CancelFunc

	closeOnce sync.Once

	mu      sync.Mutex
	offered int64 // the seq after the last event enqueued
}

type worker struct {
	d    *Dispatcher
	sink Sink
	wake chan struct{}
	done chan struct{}

	mu       sync.Mutex
	pending  []event.Event
	held     int   // accepted and not yet written: pending plus the batch in Write
	inflight int64 // first seq of the batch in Write; -1 when none
	closed   bool
}

// NewDispatcher starts one goroutine per sink. Close stops them.
func NewDispatcher(sinks []Sink, opt Options) *Dispatcher {
	if opt.QueueSize <= 0 {
		opt.QueueSize = 10000
	}
	if opt.MaxBatch <= 0 {
		opt.MaxBatch = 500
	}
	if opt.WriteTimeout <= 0 {
		opt.WriteTimeout = 10 * time.Second
	}
	if opt.Logger == nil {
		opt.Logger = slog.Default()
	}
	ctx, cancel := context.WithCancel(context.Background())
	d := &Dispatcher{opt: opt, stop: make(chan struct{}), ctx: ctx, cancel: cancel}
	for _, s := range sinks {
		w := &worker{d: d, sink: s, wake: make(chan struct{}, 1), done: make(chan struct{}), inflight: -1}
		d.workers = append(d.workers, w)
		go w.run()
	}
	return d
}

// Handled returns the first seq that some sink has not finished with: every
// event offered to Enqueue below it was written, failed or dropped (and
// counted) by every sink. Events must have been enqueued in seq order. With
// no sinks, or nothing enqueued yet, it is the seq after the last event
// enqueued (0 at first).
func (d *Dispatcher) Handled() int64 {
	d.mu.Lock()
	pos := d.offered
	d.mu.Unlock()
	for _, w := range d.workers {
		w.mu.Lock()
		switch {
		case w.inflight >= 0:
			pos = min(pos, w.inflight)
		case len(w.pending) > 0:
			pos = min(pos, w.pending[0].Seq)
		}
		w.mu.Unlock()
	}
	return pos
}

// Len reports how many sinks the dispatcher feeds.
func (d *Dispatcher) Len() int { return len(d.workers) }

// Enqueue queues events for every sink and returns at once. Events that do
// not fit in a sink's queue are dropped for that sink and reported. The
// caller may reuse the slice after Enqueue returns.
func (d *Dispatcher) Enqueue(events []event.Event) {
	if len(events) == 0 {
		return
	}
	d.mu.Lock()
	d.offered = max(d.offered, events[len(events)-1].Seq+1)
	d.mu.Unlock()
	for _, w := range d.workers {
		w.enqueue(events)
	}
}

func (w *worker) enqueue(events []event.Event) {
	w.mu.Lock()
	room := w.d.opt.QueueSize - w.held
	if w.closed {
		room = 0
	}
	take := min(max(room, 0), len(events))
	w.pending = append(w.pending, events[:take]...)
	w.held += take
	w.mu.Unlock()

	if take > 0 {
		select {
		case w.wake <- struct{}{}:
		default: // already signalled
		}
	}
	if dropped := len(events) - take; dropped > 0 && w.d.opt.Reporter != nil {
		w.d.opt.Reporter.Dropped(w.sink.Name(), dropped)
	}
}

// next takes up to MaxBatch pending events, or nil when there are none.
func (w *worker) next() []event.Event {
	w.mu.Lock()
	defer w.mu.Unlock()
	n := min(len(w.pending), w.d.opt.MaxBatch)
	if n == 0 {
		return nil
	}
	batch := make([]event.Event, n)
	copy(batch, w.pending)
	w.inflight = batch[0].Seq
	rest := copy(w.pending, w.pending[n:])
	clear(w.pending[rest:])
	w.pending = w.pending[:rest]
	return batch
}

func (w *worker) run() {
	defer close(w.done)
	for {
		w.drain()
		select {
		case <-w.wake:
			continue
		case <-w.d.stop:
		}
		// Stopping: write what is left unless Close gave up waiting.
		w.drain()
		w.mu.Lock()
		lost := len(w.pending)
		w.pending = nil
		w.mu.Unlock()
		if lost > 0 && w.d.opt.Reporter != nil {
			w.d.opt.Reporter.Dropped(w.sink.Name(), lost)
		}
		if err := w.sink.Close(); err != nil {
			w.d.opt.Logger.Error("closing audit sink", "sink", w.sink.Name(), "err", err)
		}
		return
	}
}

// drain writes pending batches until none is left or Close has given up.
func (w *worker) drain() {
	for w.d.ctx.Err() == nil {
		batch := w.next()
		if batch == nil {
			return
		}
		w.write(batch)
		w.mu.Lock()
		w.held -= len(batch)
		w.inflight = -1
		w.mu.Unlock()
	}
}

// write calls the sink's Write with a timeout, turning a panic into an
// error, and reports a failure.
func (w *worker) write(batch []event.Event) {
	err := func() (err error) {
		defer func() {
			if r := recover(); r != nil {
				err = auditerr.Errorf(auditerr.ErrPanic, "sink panicked: %v", r)
			}
		}()
		ctx, cancel := context.WithTimeout(w.d.ctx, w.d.opt.WriteTimeout)
		defer cancel()
		return w.sink.Write(ctx, batch)
	}()
	if err == nil {
		return
	}
	w.d.opt.Logger.Error("audit sink write failed; events dropped for this sink",
		"sink", w.sink.Name(), "events", len(batch),
		"first_seq", batch[0].Seq, "last_seq", batch[len(batch)-1].Seq, "err", err)
	if w.d.opt.Reporter != nil {
		w.d.opt.Reporter.Failed(w.sink.Name(), len(batch), err)
	}
}

// Close stops accepting events, lets every sink write what is queued and
// closes the sinks. If ctx ends first, the Writes in progress are cancelled,
// what is still queued is dropped and reported, and Close returns an error
// naming the sinks that had not finished; their goroutines exit once their
// current Write returns. Close is idempotent; later calls return nil.
func (d *Dispatcher) Close(ctx context.Context) error {
	first := false
	d.closeOnce.Do(func() { first = true })
	if !first {
		return nil
	}
	for _, w := range d.workers {
		w.mu.Lock()
		w.closed = true
		w.mu.Unlock()
	}
	close(d.stop)
	var late []string
	for _, w := range d.workers {
		select {
		case <-w.done:
		case <-ctx.Done():
			d.cancel()
			late = append(late, w.sink.Name())
		}
	}
	d.cancel()
	if len(late) > 0 {
		return fmt.Errorf("sink: %s did not drain before the deadline: %w", strings.Join(late, ", "), ctx.Err())
	}
	return nil
}

// ParseOptions give Parse what some sinks need besides their spec.
type ParseOptions struct {
	// DataDir holds the webhook secret file when neither WebhookSecret nor
	// STIGAUDIT_WEBHOOK_SECRET is set (see WebhookSecret).
	DataDir string
	// WebhookSecret, if set, keys webhook signatures.
	WebhookSecret string
}

// Parse makes a sink from a command-line spec:
//
//	file:PATH                       append JSON lines to PATH (see File)
//	nats://HOST:PORT[?stream=S&prefix=P&window=D]  publish to NATS JetStream (see NATS)
//	https://HOST/PATH, http://...   POST signed NDJSON batches (see Webhook)
//
// A webhook's secret comes from STIGAUDIT_WEBHOOK_SECRET (use ParseWith to
// keep it in a data directory instead). Errors wrap
// auditerr.ErrInvalidConfig.
func Parse(spec string) (Sink, error) { return ParseWith(spec, ParseOptions{}) }

// ParseWith is Parse with options.
func ParseWith(spec string, o ParseOptions) (Sink, error) {
	scheme, rest, ok := strings.Cut(spec, ":")
	if !ok {
		return nil, auditerr.Errorf(auditerr.ErrInvalidConfig, "sink %q: want file:PATH, nats://HOST:PORT or https://URL", spec)
	}
	switch scheme {
	case "file":
		if rest == "" {
			return nil, auditerr.Errorf(auditerr.ErrInvalidConfig, "sink %q: empty path", spec)
		}
		f, err := OpenFile(rest)
		if err != nil {
			return nil, errors.Join(auditerr.Errorf(auditerr.ErrInvalidConfig, "sink %q: cannot open the file", spec), err)
		}
		return f, nil
	case "nats":
		return NewNATS(spec, NATSOptions{})
	case "http", "https":
		secret, _, err := WebhookSecret(o.WebhookSecret, o.DataDir)
		if err != nil {
			return nil, fmt.Errorf("sink %q: %w", redactURL(spec), err)
		}
		return NewWebhook(spec, WebhookOptions{Secret: secret})
	default:
		return nil, auditerr.Errorf(auditerr.ErrInvalidConfig, "sink %q: unknown kind %q (want file:PATH, nats://HOST:PORT or https://URL)", spec, scheme)
	}
}
