package sqlitestore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/transparency-dev/merkle/compact"

	"github.com/stigaudit/stigaudit/core/auditerr"
	"github.com/stigaudit/stigaudit/core/event"
	"github.com/stigaudit/stigaudit/hostfns"
	"github.com/stigaudit/stigaudit/hostfns/appendq"
)

// request and result are the queue's: see package appendq.
type (
	request = appendq.Request
	result  = appendq.Result
)

// writer owns the write connection. Its fields are touched only by the
// writer goroutine (and by newWriter and close, before and after it runs).
type writer struct {
	s    *Store
	conn *sql.Conn
	st   *stmts
	// tree is the compact range of the log as of the writer's last commit.
	// Before each transaction the writer compares its end with the stored
	// size and reloads it if rows were appended by someone else (AppendTx).
	tree *compact.Range
}

func newWriter(ctx context.Context, s *Store) (*writer, error) {
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("writer connection: %w", err)
	}
	st, err := prepare(ctx, conn)
	if err != nil {
		conn.Close()
		return nil, err
	}
	w := &writer{s: s, conn: conn, st: st}
	size, err := st.sizeOf(ctx)
	if err == nil {
		w.tree, err = s.loadRange(ctx, st, size)
	}
	if err != nil {
		w.close()
		return nil, fmt.Errorf("load tree: %w", err)
	}
	return w, nil
}

func (w *writer) close() error {
	// Let SQLite refresh its planner statistics if they are stale; it is
	// cheap when they are not.
	_, optErr := w.conn.ExecContext(context.Background(), `PRAGMA optimize`)
	return errors.Join(optErr, w.st.close(), w.conn.Close())
}

// run is the writer goroutine: take a group of requests (appendq gathers
// it: what is queued, or what arrives within MaxWait), commit it, repeat,
// until the queue is closed and empty.
func (w *writer) run() {
	defer close(w.s.done)
	g := w.s.q.Gatherer(w.s.opts.MaxBatchEvents)
	var group appendq.Group
	for g.Next(&group) {
		if d := w.s.opts.MaxWait; d > 0 {
			g.Burst(&group, d, d) // the whole of MaxWait, however the requests come
		} else {
			g.More(&group)
		}
		w.commit(group.Requests)
	}
}

// commit writes a group in one transaction and answers every request.
func (w *writer) commit(group []*request) {
	start := time.Now()
	live := group[:0]
	for _, r := range group {
		if err := r.Ctx.Err(); err != nil {
			r.Reply(result{Err: fmt.Errorf("sqlitestore: append abandoned before commit: %w", err)})
			continue
		}
		live = append(live, r)
	}
	if len(live) == 0 {
		return
	}
	results, events, err := w.tryCommit(live)
	w.s.health.committed(err)
	if err != nil {
		err = fmt.Errorf("%w: %w", auditerr.Errorf(auditerr.ErrStoreUnavailable,
			"sqlitestore: commit of %d requests failed, nothing stored", len(live)), err)
		for _, r := range live {
			r.Reply(result{Err: err})
		}
		return
	}
	for i, r := range live {
		r.Reply(results[i])
	}
	if w.s.opts.OnCommit != nil {
		w.s.opts.OnCommit(events, len(live), time.Since(start))
	}
}

// tryCommit decides each request's fate, writes the accepted ones and
// commits. On error nothing is stored and w.tree is unchanged; on success
// results holds each request's answer (events, or its own refusal) and
// events is the number of rows written.
func (w *writer) tryCommit(reqs []*request) (results []result, events int, err error) {
	ctx := context.Background() // the group is not any one caller's to cancel
	if err := w.begin(ctx); err != nil {
		return nil, 0, err
	}
	committed := false
	defer func() {
		if !committed {
			w.conn.ExecContext(ctx, `ROLLBACK`) // the error is the one already returned
		}
	}()

	size, err := w.st.sizeOf(ctx)
	if err != nil {
		return nil, 0, err
	}
	var tree *compact.Range
	if uint64(size) == w.tree.End() {
		tree = w.s.cloneRange(w.tree)
	} else if tree, err = w.s.loadRange(ctx, w.st, size); err != nil {
		return nil, 0, fmt.Errorf("reload tree at size %d: %w", size, err)
	}

	var ids []string
	for _, r := range reqs {
		for i := range r.Events {
			ids = append(ids, r.Events[i].ID)
		}
	}
	stored, err := w.st.storedByID(ctx, ids)
	if err != nil {
		return nil, 0, err
	}
	// Requests are decided in queue order, as if committed one after the
	// other: a request sees the stored events and those of the accepted
	// requests ahead of it.
	ahead := make(map[hostfns.EventKey]event.Event)
	known := func(k hostfns.EventKey) (event.Event, bool) {
		if e, ok := ahead[k]; ok {
			return e, true
		}
		e, ok := stored[k]
		return e, ok
	}
	results = make([]result, len(reqs))
	var fresh []event.Event
	for i, r := range reqs {
		answer, add, err := hostfns.PlanAppend(r.Events, size+int64(len(fresh)), known)
		if err != nil {
			results[i].Err = fmt.Errorf("sqlitestore: append: %w", err)
			continue
		}
		results[i].Events = answer
		for _, e := range add {
			ahead[hostfns.KeyOf(&e)] = e
		}
		fresh = append(fresh, add...)
	}

	if err := insert(ctx, w.st, tree, fresh); err != nil {
		return nil, 0, err
	}
	if !w.s.opts.DisableFileCheck {
		// As late as possible: an append acknowledged into a deleted file
		// would be lost at the next start.
		if err := w.s.health.checkFile(); err != nil {
			return nil, 0, err
		}
	}
	if _, err := w.conn.ExecContext(ctx, `COMMIT`); err != nil {
		return nil, 0, fmt.Errorf("commit: %w", err)
	}
	committed = true
	w.tree = tree
	return results, len(fresh), nil
}

// begin starts a write transaction. If the connection was left inside one
// (a ROLLBACK that failed), it is rolled back first.
func (w *writer) begin(ctx context.Context) error {
	_, err := w.conn.ExecContext(ctx, `BEGIN IMMEDIATE`)
	if err == nil {
		return nil
	}
	if _, rbErr := w.conn.ExecContext(ctx, `ROLLBACK`); rbErr != nil {
		return fmt.Errorf("begin: %w", err)
	}
	if _, err := w.conn.ExecContext(ctx, `BEGIN IMMEDIATE`); err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	return nil
}
