package sqlitestore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/transparency-dev/merkle/compact"

	"github.com/stigaudit/stigaudit/core/auditerr"
	"github.com/stigaudit/stigaudit/core/event"
	"github.com/stigaudit/stigaudit/hostfns"
	"github.com/stigaudit/stigaudit/hostfns/sqlquery"
)

// Query returns one page of matching events, keyset-paged on seq: the SQL
// is "WHERE <filters> AND seq > After ORDER BY seq LIMIT Limit+1", the extra
// row telling whether there are more. Each page is a single statement, so it
// sees one committed state of the log.
func (s *Store) Query(ctx context.Context, q hostfns.Query) (hostfns.Page, error) {
	if err := q.Check(); err != nil {
		return hostfns.Page{}, fmt.Errorf("sqlitestore: query: %w", err)
	}
	query, args := buildQuery(q)
	rows, err := s.rdb.QueryContext(ctx, query, args...)
	if err != nil {
		return hostfns.Page{}, unavailable("query", err)
	}
	defer rows.Close()
	evs, err := sqlquery.ScanEvents(rows, q.Limit+1)
	if err != nil {
		return hostfns.Page{}, unavailable("query", err)
	}
	return sqlquery.Page(evs, q.Limit), nil
}

// buildQuery turns q into SQL and its arguments.
func buildQuery(q hostfns.Query) (string, []any) {
	var args []any
	arg := func(v any) string {
		args = append(args, v)
		return "?"
	}
	where := sqlquery.Terms(q, arg, func(types []string) string {
		for _, t := range types {
			arg(t)
		}
		return "event_type IN (?" + strings.Repeat(", ?", len(types)-1) + ")"
	})
	where, args = timeTerms(where, args, q.Since, q.Until)
	order := "ASC"
	if q.Order == hostfns.Descending {
		order = "DESC"
		if q.After >= 0 {
			where = append(where, "seq < ?")
			args = append(args, q.After)
		}
	} else if q.After >= 0 {
		where = append(where, "seq > ?")
		args = append(args, q.After)
	}
	var b strings.Builder
	b.WriteString("SELECT " + sqlquery.EventColumns + " FROM events")
	if len(where) > 0 {
		b.WriteString(" WHERE " + strings.Join(where, " AND "))
	}
	b.WriteString(" ORDER BY seq " + order + " LIMIT ?")
	args = append(args, q.Limit+1)
	return b.String(), args
}

// timeTerms appends the terms and arguments of ts >= since and ts < until
// ("" means unbounded). Time bounds also bound seq, through the
// block-range index ts_blocks: every event with ts >= since lies in a
// block whose max_ts >= since, so at or after the first such block;
// likewise for until. The seq range keeps the scan of a seq-ordered index
// to the window's blocks.
func timeTerms(where []string, args []any, since, until string) ([]string, []any) {
	blockSize := strconv.Itoa(tsBlockSize)
	if since != "" {
		where = append(where, "ts >= ?", "seq >= (SELECT MIN(block) FROM ts_blocks WHERE max_ts >= ?) * "+blockSize)
		args = append(args, since, since)
	}
	if until != "" {
		where = append(where, "ts < ?", "seq < (SELECT MAX(block) + 1 FROM ts_blocks WHERE min_ts < ?) * "+blockSize)
		args = append(args, until, until)
	}
	return where, args
}

// ReadNodes returns the hashes of perfect subtrees (level 0: leaf hashes),
// in the order of ids, from one read statement.
func (s *Store) ReadNodes(ctx context.Context, ids []compact.NodeID) ([][]byte, error) {
	if len(ids) == 0 {
		return [][]byte{}, nil
	}
	stmt, err := s.rdb.PrepareContext(ctx, sqlNodes)
	if err != nil {
		return nil, unavailable("read tree nodes", err)
	}
	defer stmt.Close()
	hashes, err := sqlquery.ReadNodes(ctx, stmt, ids)
	if err != nil {
		return nil, unavailable("read tree nodes", err)
	}
	for i, h := range hashes {
		if h == nil {
			return nil, auditerr.Errorf(auditerr.ErrNotFound, "sqlitestore: tree node (%d, %d) is not complete", ids[i].Level, ids[i].Index)
		}
	}
	return hashes, nil
}

// LeafHashes returns the leaf hashes of seqs [from, to).
func (s *Store) LeafHashes(ctx context.Context, from, to int64) ([][]byte, error) {
	if from < 0 || to < from {
		return nil, auditerr.Errorf(auditerr.ErrInvalidParameter, "sqlitestore: leaf range [%d, %d)", from, to)
	}
	rows, err := s.rdb.QueryContext(ctx, `SELECT leaf_hash FROM events WHERE seq >= ? AND seq < ? ORDER BY seq`, from, to)
	if err != nil {
		return nil, unavailable("read leaves", err)
	}
	defer rows.Close()
	out := make([][]byte, 0, to-from)
	for rows.Next() {
		var h []byte
		if err := rows.Scan(&h); err != nil {
			return nil, unavailable("read leaves", err)
		}
		out = append(out, h)
	}
	if err := rows.Err(); err != nil {
		return nil, unavailable("read leaves", err)
	}
	if int64(len(out)) != to-from {
		return nil, auditerr.Errorf(auditerr.ErrNotFound, "sqlitestore: leaves [%d, %d) not stored (found %d)", from, to, len(out))
	}
	return out, nil
}

// AppendTx appends events inside the caller's transaction tx, which must be
// a write transaction on this store's database (DB().BeginTx): the events
// commit or roll back with the caller's own work. Idempotency and id
// conflicts behave as for Append, and on an error nothing of this call is
// written (the caller decides whether to roll back the rest). The events
// are durable once the caller commits, not when AppendTx returns: seqs are
// final only then.
func (s *Store) AppendTx(ctx context.Context, tx *sql.Tx, events []event.Event) ([]event.Event, error) {
	if s.q.Closed() {
		return nil, auditerr.Errorf(auditerr.ErrClosed, "sqlitestore: append after Close")
	}
	if len(events) == 0 {
		return []event.Event{}, nil
	}
	st, err := prepare(ctx, tx)
	if err != nil {
		return nil, unavailable("append in transaction", err)
	}
	defer st.close()
	size, err := st.sizeOf(ctx)
	if err != nil {
		return nil, unavailable("append in transaction", err)
	}
	ids := make([]string, len(events))
	for i := range events {
		ids[i] = events[i].ID
	}
	stored, err := st.storedByID(ctx, ids)
	if err != nil {
		return nil, unavailable("append in transaction", err)
	}
	answer, fresh, err := hostfns.PlanAppend(events, size, func(k hostfns.EventKey) (event.Event, bool) {
		e, ok := stored[k]
		return e, ok
	})
	if err != nil {
		return nil, fmt.Errorf("sqlitestore: append in transaction: %w", err)
	}
	if len(fresh) == 0 {
		return answer, nil
	}
	tree, err := s.loadRange(ctx, st, size)
	if err != nil {
		return nil, unavailable("append in transaction", err)
	}
	// A savepoint makes this call atomic inside the caller's transaction.
	if _, err := tx.ExecContext(ctx, `SAVEPOINT stigaudit_append`); err != nil {
		return nil, unavailable("append in transaction", err)
	}
	if err := insert(ctx, st, tree, fresh); err != nil {
		_, rbErr := tx.ExecContext(ctx, `ROLLBACK TO stigaudit_append`)
		return nil, unavailable("append in transaction", errors.Join(err, rbErr))
	}
	if _, err := tx.ExecContext(ctx, `RELEASE stigaudit_append`); err != nil {
		return nil, unavailable("append in transaction", err)
	}
	return answer, nil
}
