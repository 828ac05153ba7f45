package pgstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/stigaudit/stigaudit/core/auditerr"
	"github.com/stigaudit/stigaudit/core/event"
	"github.com/stigaudit/stigaudit/hostfns"
	"github.com/stigaudit/stigaudit/hostfns/appendq"
	"github.com/stigaudit/stigaudit/hostfns/sqlquery"
)

// request and result are the queue's: see package appendq.
type (
	request = appendq.Request
	result  = appendq.Result
)

// writer is the group-commit goroutine of one Store. Its fields are
// touched only by that goroutine.
type writer struct {
	s     *Store
	g     *appendq.Gatherer // forms the groups
	group appendq.Group     // the group being committed
	last  int               // requests in the last group: how many to wait for

	// conn is the writer's own connection, kept across groups, whose
	// session plans with plan_cache_mode = auto: the fast path's
	// statements (a function call, the durable mark) get generic plans
	// instead of being planned again for every group as the pool's
	// sessions do (force_custom_plan).
	conn *pgxpool.Conn
}

func newWriter(s *Store) *writer {
	return &writer{s: s, g: s.q.Gatherer(s.opts.MaxBatchEvents)}
}

// run takes a request, commits it with whatever else queued up, and
// repeats until the queue is closed and empty.
func (w *writer) run() {
	defer func() {
		if w.conn != nil {
			// Its session plans differently from the pool's: not reused.
			w.conn.Conn().Close(context.Background())
			w.conn.Release()
		}
		close(w.s.done)
	}()
	for w.g.Next(&w.group) {
		w.commit()
	}
}

// commit writes the group taken, with the requests gathered to it, in one
// transaction and answers every one of them.
func (w *writer) commit() {
	start := time.Now()
	if d := w.s.opts.MaxWait; d > 0 && w.last > 1 {
		w.g.Burst(&w.group, burstGap, d)
	}
	ctx := context.Background() // the group is not any one caller's to cancel
	results, events, err := w.tryCommit(ctx)
	if err != nil && w.conn == nil && !errors.As(err, new(*acquireError)) {
		// The connection was lost (killed by pg_terminate_backend, a
		// restart, a proxy): once more on a fresh one. Re-running a group
		// is safe even if its COMMIT had run: its ids are then stored, and
		// the slow path answers them as re-sends once they are durable.
		results, events, err = w.tryCommit(ctx)
	}
	group := w.group.Requests
	w.last = len(group)
	if err != nil {
		err = fmt.Errorf("%w: %w", auditerr.Errorf(auditerr.ErrStoreUnavailable,
			"pgstore: commit of %d requests failed", len(group)), err)
		for _, r := range group {
			r.Reply(result{Err: err})
		}
		return
	}
	for i, r := range group {
		r.Reply(results[i])
	}
	if w.s.opts.OnCommit != nil && events > 0 {
		w.s.opts.OnCommit(events, len(group), time.Since(start))
	}
}

// tryCommit begins a transaction, locks the log head and looks up the ids
// of w.group (one round trip), adds to w.group the requests that queued up
// while it waited for the lock, decides each request's fate, writes the
// accepted ones, commits, and waits until the commit is durable (a durable
// mark committed synchronously after it, in the same round trip). It
// returns the results of the requests of w.group and the number of events
// written. On error every request of w.group is to be failed; nothing is
// stored, unless the error came after the COMMIT (then the outcome is
// unknown to the callers, who may re-send).
func (w *writer) tryCommit(ctx context.Context) (results []result, events int, err error) {
	conn, err := w.connection(ctx)
	if err != nil {
		return nil, 0, err
	}
	inTx := false
	defer func() {
		if inTx {
			// The error is the one already returned; a connection that
			// cannot roll back is closed rather than kept.
			if _, rbErr := conn.Exec(ctx, `ROLLBACK`); rbErr != nil {
				conn.Conn().Close(ctx)
			}
		}
		if conn.Conn().IsClosed() {
			conn.Release() // the pool drops it; the next group takes another
			w.conn = nil
		}
	}()

	// The fast path: the group is decided among itself (as if nothing were
	// stored) and appended by one function call, so the head lock is held
	// only while the server runs it, then marked durable, in one round
	// trip. If an id turns out to be stored, the call changes nothing and
	// the group takes the slow path below.
	if !w.s.opts.slowPath {
		w.g.More(&w.group)
		results, fresh := decide(w.group.Requests, 0, nil)
		if len(fresh) == 0 {
			return results, 0, nil // every request refused or abandoned
		}
		grouped := w.s.opts.MaxBatchEvents > 1
		first, err := fastAppend(ctx, conn, fresh, grouped, w.s.writer)
		if err != nil {
			return nil, 0, err
		}
		if first >= 0 {
			for i := range results {
				for j := range results[i].Events {
					results[i].Events[j].Seq += first
				}
			}
			return results, len(fresh), nil
		}
	}

	// BEGIN, the lock and the lookup of the ids known so far in one round
	// trip; the lock may wait for other replicas' commits. The lookup runs
	// once the lock is held, so it sees every event appended before.
	stored := make(map[hostfns.EventKey]event.Event)
	var h head
	b := &pgx.Batch{}
	b.Queue(`BEGIN`)
	b.Queue(sqlAsync)
	// The id lookups are planned for their arguments, as on the pool.
	b.Queue(`SET LOCAL plan_cache_mode = force_custom_plan`)
	b.Queue(sqlLockHead).QueryRow(func(row pgx.Row) error {
		var err error
		h, err = w.s.readHead(row)
		return err
	})
	queueLookup(b, w.group.Requests, stored)
	inTx = true
	if err := conn.SendBatch(ctx, b).Close(); err != nil {
		return nil, 0, fmt.Errorf("lock log head: %w", err)
	}

	// Everything that queued up while we waited joins this group.
	first := len(w.group.Requests)
	if w.g.More(&w.group) {
		b := &pgx.Batch{}
		queueLookup(b, w.group.Requests[first:], stored)
		if err := conn.SendBatch(ctx, b).Close(); err != nil {
			return nil, 0, fmt.Errorf("look up ids: %w", err)
		}
	}

	results, fresh := decide(w.group.Requests, h.size, stored)
	answered := false
	for _, r := range results {
		answered = answered || r.Err == nil
	}
	if !answered {
		return results, 0, nil // the deferred ROLLBACK releases the lock
	}

	b = &pgx.Batch{}
	size := h.size
	if len(fresh) == 0 {
		// Only re-sends: nothing to write, but the events they return may
		// have been committed by another replica and not be flushed yet.
		b.Queue(`ROLLBACK`)
	} else {
		wr, err := plan(h, fresh)
		if err != nil {
			return nil, 0, err
		}
		queueWrite(b, wr)
		size = wr.to
	}
	// The lock is released by the COMMIT (or ROLLBACK); the mark then
	// commits synchronously, so it returns once everything up to size is
	// flushed, while other replicas already append.
	b.Queue(sqlMarkDurable, w.s.writer, size)
	if err := conn.SendBatch(ctx, b).Close(); err != nil {
		return nil, 0, fmt.Errorf("write seqs %d..%d, commit and flush: %w", h.size, size-1, err)
	}
	inTx = false
	return results, len(fresh), nil
}

// connection returns the writer's own connection, taking one from the pool
// (and setting its session to plan_cache_mode = auto) when it has none.
func (w *writer) connection(ctx context.Context) (*pgxpool.Conn, error) {
	if w.conn != nil {
		return w.conn, nil
	}
	conn, err := w.s.pool.Acquire(ctx)
	if err != nil {
		return nil, &acquireError{err}
	}
	if _, err := conn.Exec(ctx, `SET plan_cache_mode = auto`); err != nil {
		conn.Release()
		return nil, fmt.Errorf("set up the writer's connection: %w", err)
	}
	w.conn = conn
	return conn, nil
}

// acquireError is a failure to get a connection: nothing was sent, and
// retrying at once would only fail again (or dial during an outage).
type acquireError struct{ err error }

func (e *acquireError) Error() string { return "acquire connection: " + e.err.Error() }
func (e *acquireError) Unwrap() error { return e.err }

// decide applies the Append contract to each request of group in queue
// order, as if they were committed one after the other: a request sees the
// stored events and those of the accepted requests ahead of it. New events
// are numbered from next. It returns each request's answer or refusal and
// the new events in seq order.
func decide(group []*request, next int64, stored map[hostfns.EventKey]event.Event) ([]result, []event.Event) {
	results := make([]result, len(group))
	ahead := make(map[hostfns.EventKey]event.Event)
	known := func(k hostfns.EventKey) (event.Event, bool) {
		if e, ok := ahead[k]; ok {
			return e, true
		}
		e, ok := stored[k]
		return e, ok
	}
	var fresh []event.Event
	for i, r := range group {
		if err := r.Ctx.Err(); err != nil {
			results[i].Err = fmt.Errorf("pgstore: append abandoned before commit: %w", err)
			continue
		}
		answer, add, err := hostfns.PlanAppend(r.Events, next+int64(len(fresh)), known)
		if err != nil {
			results[i].Err = fmt.Errorf("pgstore: append: %w", err)
			continue
		}
		results[i].Events = answer
		for _, e := range add {
			ahead[hostfns.KeyOf(&e)] = e
		}
		fresh = append(fresh, add...)
	}
	return results, fresh
}

// fastAppend appends fresh and waits until it is durable, in one round
// trip. It returns the first seq, or -1 (nothing written) if an id of fresh
// is stored.
//
// When grouped: BEGIN; stigaudit_append_async (migration 0005), which
// makes the transaction commit asynchronously; COMMIT, which releases the
// head lock as soon as the commit record is in the WAL buffers; then the
// durable mark, in a transaction of its own committed synchronously:
// PostgreSQL flushes the WAL in order, so when the mark returns the append
// is on disk, while other replicas already append. Otherwise (group commit
// off) it is the naive way, kept as the baseline: stigaudit_append and the
// mark in one transaction that commits synchronously, holding the head
// lock through the WAL flush.
func fastAppend(ctx context.Context, conn *pgxpool.Conn, fresh []event.Event, grouped bool, writer string) (int64, error) {
	first := int64(-1)
	b := &pgx.Batch{}
	b.Queue(`BEGIN`)
	sql := sqlAppend
	if grouped {
		sql = sqlAppendAsync
	}
	b.Queue(sql, appendArgs(fresh)...).QueryRow(func(row pgx.Row) error {
		return row.Scan(&first)
	})
	if !grouped {
		b.Queue(sqlMarkHead, writer)
	}
	b.Queue(`COMMIT`).Exec(func(ct pgconn.CommandTag) error {
		if ct.String() != "COMMIT" {
			return errNotCommitted
		}
		return nil
	})
	if grouped {
		b.Queue(sqlMarkHead, writer)
	}
	if err := conn.SendBatch(ctx, b).Close(); err != nil {
		// Leave no transaction open on the connection: the COMMIT may not
		// have run.
		if _, rbErr := conn.Exec(ctx, `ROLLBACK`); rbErr != nil {
			conn.Conn().Close(ctx)
		}
		if isStoredID(err) {
			return -1, nil // the slow path decides the re-sends
		}
		return -1, fmt.Errorf("append %d events, commit and mark durable: %w", len(fresh), err)
	}
	return first, nil
}

// queueLookup queues the lookup of the ids of reqs, adding what is stored
// (in any tenant; decide asks by tenant and id) to stored.
func queueLookup(b *pgx.Batch, reqs []*request, stored map[hostfns.EventKey]event.Event) {
	var ids []string
	for _, r := range reqs {
		for i := range r.Events {
			ids = append(ids, r.Events[i].ID)
		}
	}
	b.Queue(sqlLookup, ids).Query(func(rows pgx.Rows) error {
		evs, err := sqlquery.ScanEvents(rows, 0)
		if err != nil {
			return fmt.Errorf("look up ids: %w", err)
		}
		for _, e := range evs {
			stored[hostfns.KeyOf(&e)] = e
		}
		return nil
	})
}

// isStoredID reports whether err is the unique violation of an event id
// already stored in its tenant (migration 0007).
func isStoredID(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "23505" && pe.ConstraintName == "events_id_tenant_key"
}

// errNotCommitted reports a COMMIT that PostgreSQL answered with ROLLBACK
// (the transaction had failed).
var errNotCommitted = errors.New("the transaction was rolled back")

// queueWrite queues the head's advance, the inserts and the COMMIT.
func queueWrite(b *pgx.Batch, wr writes) {
	b.Queue(sqlAdvanceHead, wr.to, wr.headRange, wr.from).Exec(func(ct pgconn.CommandTag) error {
		if ct.RowsAffected() != 1 {
			return fmt.Errorf("log head moved from %d while locked", wr.from)
		}
		return nil
	})
	b.Queue(sqlInsertEvents, wr.events...)
	if wr.nodes != nil {
		b.Queue(sqlInsertNodes, wr.nodes...)
	}
	b.Queue(`COMMIT`).Exec(func(ct pgconn.CommandTag) error {
		if ct.String() != "COMMIT" {
			return errNotCommitted
		}
		return nil
	})
}
