package stigaudit

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/stigaudit/stigaudit/core/auditerr"
	"github.com/stigaudit/stigaudit/core/catalog"
	"github.com/stigaudit/stigaudit/core/event"
	"github.com/stigaudit/stigaudit/hostfns"
)

// Limits are the Log's bounds on what one emit may carry: each event's
// detail, a request body, a batch's events and its canonical detail bytes
// (see event.Limits, the same type, which the core parses and builds
// with). The Log owns them (Options.Limits, Log.Limits): its Builder and
// EmitBatch apply them, and an HTTP server derives its body limit from
// them, so every layer refuses the same requests with the same codes.
type Limits = event.Limits

// Options configure a Log. Only Store is required.
type Options struct {
	// Store is where events are appended.
	Store hostfns.Store
	// Clock stamps events; default hostfns.SystemClock.
	Clock hostfns.Clock
	// Entropy feeds UUIDv7 ids; default crypto/rand.
	Entropy hostfns.Entropy
	// Catalogue is the closed set of event types; default catalog.Default().
	Catalogue *catalog.Catalogue
	// Limits bound details, requests and batches; unset fields take
	// their defaults (event.DefaultLimits).
	Limits Limits
	// Logger receives structured logs; default slog.Default().
	Logger *slog.Logger
	// Observer is told about commits and emit outcomes; optional.
	Observer Observer
	// PollInterval is how often the log looks for events committed by
	// others (EmitTx, other processes) to pass them to the Observer;
	// default 250ms.
	PollInterval time.Duration
}

// Observer sees committed events and emit outcomes, for metrics and sinks.
// Its methods must not block.
type Observer interface {
	// Committed is called after each durable commit with the newly
	// committed events in seq order, from one goroutine at a time, exactly
	// once per event (idempotent re-sends are not reported again).
	Committed(events []event.Event)
	// Emitted is called once per Emit or EmitBatch call with the number of
	// drafts, the call's duration and its error (nil on success).
	Emitted(n int, d time.Duration, err error)
	// BestEffortFailed is called when EmitNoFail, EmitBestEffort or
	// EmitBatchBestEffort swallowed a failure, once per event not stored.
	BestEffortFailed(eventType, tenant string, err error)
}

// Selective is implemented by Observers that do not always need the events
// committed elsewhere — by EmitTx, other processes or other replicas on the
// same database — which the Log would otherwise read back from the store.
// Among several replicas of one log, reading back every other replica's
// events costs each replica more than its own appends.
//
// The Log asks WantsAll after each look at the store's size. While it
// answers false, the Log reads nothing back: Committed is told the Log's
// own commits (still in seq order, but with gaps where others committed)
// and events committed elsewhere are not reported. Once it answers true,
// every event from the store's size at that look on is reported, exactly
// once and contiguously, as for any Observer.
type Selective interface {
	Observer
	// WantsAll reports whether the Observer needs, from now on, every
	// committed event. It must not block.
	WantsAll() bool
}

// TxAppender is implemented by stores that can append inside a caller's
// database transaction (see EmitTx).
type TxAppender interface {
	AppendTx(ctx context.Context, tx *sql.Tx, events []event.Event) ([]event.Event, error)
}

// Result is one item of an EmitBatch answer.
type Result struct {
	// Event is the stored event (zero when Skipped).
	Event event.Event
	// Skipped is true for an instruction event whose fact is not an
	// instruction fact: nothing was recorded for it (docs/event-format.md#instruction-events).
	Skipped bool
}

// Log is an audit log. It is safe for concurrent use.
type Log struct {
	store    hostfns.Store
	clock    hostfns.Clock
	builder  event.Builder
	logger   *slog.Logger
	observer Observer

	entropyMu sync.Mutex
	entropy   hostfns.Entropy

	notify *notifier

	closeOnce sync.Once
	closeErr  error
}

// Open returns a Log over opts.Store. Closing the Log closes the store.
func Open(opts Options) (*Log, error) {
	if opts.Store == nil {
		return nil, errors.New("stigaudit: Options.Store is required")
	}
	if opts.Clock == nil {
		opts.Clock = hostfns.SystemClock{}
	}
	if opts.Entropy == nil {
		opts.Entropy = hostfns.SystemEntropy()
	}
	if opts.Catalogue == nil {
		opts.Catalogue = catalog.Default()
	}
	opts.Limits = opts.Limits.WithDefaults()
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.PollInterval <= 0 {
		opts.PollInterval = 250 * time.Millisecond
	}
	l := &Log{
		store:    opts.Store,
		clock:    opts.Clock,
		builder:  event.Builder{Catalogue: opts.Catalogue, Limits: opts.Limits},
		logger:   opts.Logger,
		observer: opts.Observer,
		entropy:  opts.Entropy,
	}
	if l.observer != nil {
		size, err := l.store.Size(context.Background())
		if err != nil {
			return nil, fmt.Errorf("stigaudit: reading log size: %w", err)
		}
		l.notify = newNotifier(l.store, l.observer, l.logger, size, opts.PollInterval)
	}
	return l, nil
}

// Catalogue returns the log's event catalogue.
func (l *Log) Catalogue() *catalog.Catalogue { return l.builder.Catalogue }

// Limits returns the log's limits, every field set.
func (l *Log) Limits() Limits { return l.builder.Limits }

// Store returns the underlying store.
func (l *Log) Store() hostfns.Store { return l.store }

// Build turns a draft into the event Emit would store, without storing it.
// It reads the clock and entropy as Emit does.
func (l *Log) Build(d event.Draft) (event.Event, error) {
	now := l.clock.Now()
	l.entropyMu.Lock()
	defer l.entropyMu.Unlock()
	return l.builder.Build(&d, now, l.entropy)
}

// Emit builds, validates and durably appends one event, returning it with
// its seq. For an instruction event whose fact is not an instruction fact it
// returns an error wrapping auditerr.ErrNotInstruction and stores nothing.
// Re-sending a stored id with the same content returns the stored event.
//
// When the store refuses or cannot commit the event, Emit returns the event
// it built and tried to append (Seq -1) with the store's error, so the
// caller can name what was attempted; a draft that does not build returns
// the zero Event.
func (l *Log) Emit(ctx context.Context, d event.Draft) (event.Event, error) {
	start := time.Now()
	ev, err := l.emit(ctx, d)
	l.emitted(1, start, err)
	return ev, err
}

func (l *Log) emit(ctx context.Context, d event.Draft) (event.Event, error) {
	ev, err := l.Build(d)
	if err != nil {
		return event.Event{}, err
	}
	stored, err := l.store.Append(ctx, []event.Event{ev})
	if err != nil {
		return ev, err
	}
	l.committed(stored)
	return stored[0], nil
}

// EmitBatch builds every draft and appends them atomically: all are stored
// or none. Invalid drafts fail the batch with an *auditerr.BatchError naming
// every bad index. Skipped instruction events (docs/event-format.md#instruction-events) are reported as
// Skipped and do not fail the batch.
//
// When the store refuses or cannot commit the batch, EmitBatch returns the
// results it built and tried to append (events with Seq -1, skipped ones in
// place) with the store's error; a batch that does not build returns nil.
func (l *Log) EmitBatch(ctx context.Context, ds []event.Draft) ([]Result, error) {
	start := time.Now()
	res, err := l.emitBatch(ctx, ds)
	l.emitted(len(ds), start, err)
	return res, err
}

func (l *Log) emitBatch(ctx context.Context, ds []event.Draft) ([]Result, error) {
	if len(ds) == 0 {
		return nil, auditerr.Errorf(auditerr.ErrInvalidBatch, "the batch is empty")
	}
	lim := l.builder.Limits
	if len(ds) > lim.MaxBatchEvents {
		return nil, lim.BatchTooLarge(len(ds))
	}
	res := make([]Result, len(ds))
	evs := make([]event.Event, 0, len(ds))
	var bad []*auditerr.Error
	size := 0
	for i := range ds {
		ev, err := l.Build(ds[i])
		switch {
		case errors.Is(err, auditerr.ErrNotInstruction):
			res[i].Skipped = true
		case err != nil:
			bad = append(bad, auditerr.AtIndex(err, i))
		default:
			size += len(ev.Detail) // canonical, as answered and exported
			evs = append(evs, ev)
		}
	}
	if len(bad) > 0 {
		return nil, &auditerr.BatchError{Items: bad}
	}
	if size > lim.MaxBatchBytes {
		return nil, auditerr.Errorf(auditerr.ErrBatchTooLarge, "the details of a batch hold at most %d bytes in canonical form; these hold %d", lim.MaxBatchBytes, size)
	}
	if len(evs) == 0 {
		return res, nil
	}
	stored, err := l.store.Append(ctx, evs)
	if err != nil {
		stored = evs // what was attempted
	} else {
		l.committed(stored)
	}
	j := 0
	for i := range res {
		if !res[i].Skipped {
			res[i].Event = stored[j]
			j++
		}
	}
	return res, err
}

// EmitBestEffort emits one event as Emit does, but a store that cannot
// commit it is not the caller's failure when its type is best effort (not
// critical, docs/catalogue.md#critical-and-best-effort): the failure is logged and told to the Observer
// (BestEffortFailed), and EmitBestEffort returns the event it tried to
// store (Seq -1), stored false and a nil error — like the seed's
// emit_nofail. Every other outcome is Emit's: the stored event and stored
// true, or Emit's error (an event of a critical type fails closed; a
// skipped instruction event is an error wrapping auditerr.ErrNotInstruction).
func (l *Log) EmitBestEffort(ctx context.Context, d event.Draft) (ev event.Event, stored bool, err error) {
	ev, err = l.Emit(ctx, d)
	switch {
	case err == nil:
		return ev, true, nil
	case !l.mayDrop(err, d):
		return ev, false, err
	}
	l.dropped(ctx, err, &d, &ev)
	return ev, false, nil
}

// EmitBatchBestEffort is EmitBatch with EmitBestEffort's rule for the
// whole batch: when the store cannot commit it and every draft is of a
// best-effort type, each event that was to be stored is logged and told to
// the Observer, and it returns the results it tried to store (Seq -1),
// stored false and a nil error. A batch holding a critical type fails
// closed, with EmitBatch's error.
func (l *Log) EmitBatchBestEffort(ctx context.Context, ds []event.Draft) (res []Result, stored bool, err error) {
	res, err = l.EmitBatch(ctx, ds)
	switch {
	case err == nil:
		return res, true, nil
	case res == nil || !l.mayDrop(err, ds...):
		return res, false, err
	}
	for i := range res {
		if !res[i].Skipped {
			l.dropped(ctx, err, &ds[i], &res[i].Event)
		}
	}
	return res, false, nil
}

// Request is what EmitRequest did with an emit request.
type Request struct {
	// Batch is true for {"events":[...]}, false for one event object.
	Batch bool
	// Results are the events in request order: stored, or (Stored false)
	// attempted, or skipped instruction events.
	Results []Result
	// Stored is false when the store could not commit a request whose
	// every event is best effort: the events were logged and told to the
	// Observer instead (EmitBestEffort's rule).
	Stored bool
}

// EmitRequest reads the body of an emit request (one event object or
// {"events":[...]}, within the Log's Limits), stamps every draft with
// scope — the tenant and emitter the caller's key decides — and emits it
// with EmitBestEffort's rule: the whole of one request's policy, in one
// call. A draft the scope refuses is the request's error (in a batch, named
// by its index); a single instruction event that is not for an instruction
// fact is a Result with Skipped set.
func (l *Log) EmitRequest(ctx context.Context, scope event.Scope, body []byte) (Request, error) {
	ds, batch, err := event.ParseEmitRequest(body, l.builder.Limits)
	if err != nil {
		return Request{Batch: batch}, err
	}
	for i := range ds {
		if err := scope.Apply(&ds[i]); err != nil {
			switch {
			case !batch:
				return Request{}, err
			case errors.Is(err, auditerr.ErrForbidden):
				return Request{Batch: true}, auditerr.Errorf(auditerr.ErrForbidden, "event %d: %v", i, err)
			default:
				return Request{Batch: true}, &auditerr.BatchError{Items: []*auditerr.Error{auditerr.AtIndex(err, i)}}
			}
		}
	}
	if batch {
		res, stored, err := l.EmitBatchBestEffort(ctx, ds)
		return Request{Batch: true, Results: res, Stored: stored}, err
	}
	ev, stored, err := l.EmitBestEffort(ctx, ds[0])
	if errors.Is(err, auditerr.ErrNotInstruction) {
		return Request{Results: []Result{{Skipped: true}}, Stored: true}, nil
	}
	return Request{Results: []Result{{Event: ev}}, Stored: stored}, err
}

// EmitNoFail emits one event and never reports failure: a failure is logged
// and counted (Observer.BestEffortFailed), like the seed's emit_nofail. Use
// it only for best-effort event types; critical types must use Emit so that
// a failure reaches the caller (they fail closed).
func (l *Log) EmitNoFail(ctx context.Context, d event.Draft) {
	ev, _, err := l.EmitBestEffort(ctx, d)
	if err == nil || errors.Is(err, auditerr.ErrNotInstruction) {
		return
	}
	l.dropped(ctx, err, &d, &ev)
}

// mayDrop reports whether a failed emit of ds may be swallowed: the store
// could not commit and no draft is of a critical type (critical types fail
// closed, docs/catalogue.md#critical-and-best-effort).
func (l *Log) mayDrop(err error, ds ...event.Draft) bool {
	if !errors.Is(err, auditerr.ErrStoreUnavailable) {
		return false
	}
	cat := l.builder.Catalogue
	for i := range ds {
		t, ok := cat.Lookup(ds[i].Type)
		if !ok || t.Critical() {
			return false
		}
	}
	return true
}

// dropped logs and tells the Observer about the event of d that was not
// stored; ev is the event built from d, or the zero Event.
func (l *Log) dropped(ctx context.Context, err error, d *event.Draft, ev *event.Event) {
	l.logger.LogAttrs(ctx, slog.LevelError, "audit emit failed (best effort)",
		slog.String("event_type", d.Type), slog.String("entity_uri", d.EntityURI),
		slog.String("tenant", d.Tenant), slog.String("id", ev.ID), slog.String("ts", ev.TS),
		slog.String("code", string(auditerr.CodeOf(err))), slog.String("error", err.Error()))
	if l.observer != nil {
		l.observer.BestEffortFailed(d.Type, d.Tenant, err)
	}
}

// EmitTx builds one event and appends it inside tx, a transaction the caller
// opened on the store's own database: the event commits or rolls back with
// the caller's work (the seed's conn=). The store must implement TxAppender.
//
// Because the Log cannot see the caller's commit, the Observer learns of
// events emitted this way when the log next polls the store (within
// Options.PollInterval of the commit); a rolled-back event is never reported.
func (l *Log) EmitTx(ctx context.Context, tx *sql.Tx, d event.Draft) (event.Event, error) {
	ta, ok := l.store.(TxAppender)
	if !ok {
		return event.Event{}, fmt.Errorf("stigaudit: the store %T cannot join a caller's transaction", l.store)
	}
	start := time.Now()
	ev, err := l.Build(d)
	if err == nil {
		var stored []event.Event
		stored, err = ta.AppendTx(ctx, tx, []event.Event{ev})
		if err == nil {
			ev = stored[0]
		}
	}
	l.emitted(1, start, err)
	if err != nil {
		return event.Event{}, err
	}
	return ev, nil
}

// Query returns one page of events (see hostfns.Query).
func (l *Log) Query(ctx context.Context, q hostfns.Query) (hostfns.Page, error) {
	return l.store.Query(ctx, q)
}

// Close reports the last commits to the Observer, stops the log and closes
// its store. Further calls return the first call's result.
func (l *Log) Close() error {
	l.closeOnce.Do(func() {
		if l.notify != nil {
			l.notify.close()
		}
		l.closeErr = l.store.Close()
	})
	return l.closeErr
}

func (l *Log) emitted(n int, start time.Time, err error) {
	if l.observer != nil {
		l.observer.Emitted(n, time.Since(start), err)
	}
}

func (l *Log) committed(evs []event.Event) {
	if l.notify != nil {
		l.notify.offer(evs)
	}
}
