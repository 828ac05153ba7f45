package pgstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5/pgtype"
	"github.com/transparency-dev/merkle/compact"

	"github.com/stigaudit/stigaudit/core/auditerr"
	"github.com/stigaudit/stigaudit/core/event"
	"github.com/stigaudit/stigaudit/hostfns"
	"github.com/stigaudit/stigaudit/hostfns/sqlquery"
)

// The SQL of an append transaction. Every append, in the writer or in a
// caller's transaction, runs: lock the head, look up the ids, advance the
// head, insert the events, insert the tree nodes. The order matters: the
// events trigger checks that the rows end where the (already advanced) head
// says.
const (
	sqlReadHead = `SELECT size, compact_range FROM log_head`
	sqlLockHead = sqlReadHead + ` FOR UPDATE`

	// sqlAdvanceHead moves the head from $3 to $1; it updates no row if
	// the head is not at $3 (which the lock makes impossible).
	sqlAdvanceHead = `UPDATE log_head SET size = $1, compact_range = $2 WHERE size = $3`

	sqlLookup = `SELECT ` + sqlquery.EventColumns + ` FROM events WHERE id = ANY($1)`

	sqlInsertEvents = `INSERT INTO events (seq, id, event_type, ts, hlc, tenant_id, entity_uri, emitter,
		oidc_sub, fact_id, source, attested_key_id, scope, outcome, detail, leaf_hash)
		SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[],
			$7::text[], $8::text[], $9::text[], $10::text[], $11::text[], $12::text[], $13::text[],
			$14::text[], $15::text[], $16::bytea[])`

	sqlInsertNodes = `INSERT INTO tree_nodes (level, idx, hash)
		SELECT * FROM unnest($1::integer[], $2::bigint[], $3::bytea[])`

	// sqlAsync makes the append transaction's COMMIT return without
	// waiting for the WAL flush, so the head lock is released at once;
	// sqlMarkDurable, committed synchronously afterwards, waits for it.
	sqlAsync = `SET LOCAL synchronous_commit = off`

	// sqlMarkDurable records that writer $1 has seen the log flushed up
	// to size $2. Committed with synchronous_commit on, after the append,
	// it becomes visible only once the append is on disk.
	sqlMarkDurable = `INSERT INTO log_durable (writer, size) VALUES ($1, $2)
		ON CONFLICT (writer) DO UPDATE SET size = GREATEST(log_durable.size, EXCLUDED.size), updated_at = now()`

	// sqlDurableSize is the durable prefix of the log: what readers see.
	sqlDurableSize = `(SELECT max(size) FROM log_durable)`

	// txWriter is the log_durable row of appends in callers' transactions.
	txWriter = "tx"

	// sqlAppend is the fast path: stigaudit_append (migration 0001) locks
	// the head, numbers the events, computes their tree nodes, advances
	// the head and inserts everything, or returns -1 if an id is stored.
	sqlAppend = `SELECT stigaudit_append($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)`

	// sqlAppendAsync is the group commit's fast path, one statement in its
	// own transaction: stigaudit_append_async (migration 0005) commits
	// asynchronously and fails with a unique violation on
	// events_id_tenant_key if a (tenant, id) is stored.
	sqlAppendAsync = `SELECT stigaudit_append_async($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)`

	// sqlMarkHead marks the head as this writer sees it durable: anything
	// the mark's transaction sees committed precedes its commit record.
	sqlMarkHead = `INSERT INTO log_durable (writer, size) SELECT $1, size FROM log_head
		ON CONFLICT (writer) DO UPDATE SET size = GREATEST(log_durable.size, EXCLUDED.size), updated_at = now()`
)

// appendArgs are the arguments of sqlAppend for fresh: one array per column
// but seq, in order.
func appendArgs(fresh []event.Event) []any {
	n := len(fresh)
	id, typ, ts, tenant, entity, source, outcome := make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	hlc, emitter, oidc, fact, attested, scope, detail := make([]pgtype.Text, n), make([]pgtype.Text, n), make([]pgtype.Text, n), make([]pgtype.Text, n), make([]pgtype.Text, n), make([]pgtype.Text, n), make([]pgtype.Text, n)
	leaf := make([][]byte, n)
	for i := range fresh {
		e := &fresh[i]
		id[i], typ[i], ts[i], tenant[i], entity[i], source[i], outcome[i] = e.ID, e.Type, e.TS, e.Tenant, e.EntityURI, e.Source, e.Outcome
		hlc[i], emitter[i], oidc[i] = text(e.HLC), text(e.Emitter), text(e.OIDCSub)
		fact[i], attested[i], scope[i] = text(e.FactID), text(e.AttestedKeyID), text(e.Scope)
		if e.Detail != nil {
			detail[i] = pgtype.Text{String: string(e.Detail), Valid: true}
		}
		leaf[i] = e.LeafHash[:]
	}
	return []any{id, typ, ts, hlc, tenant, entity, emitter, oidc, fact, source, attested, scope, outcome, detail, leaf}
}

// head is the log head as read under its lock: the size and the compact
// range [0, size).
type head struct {
	size int64
	tree *compact.Range
}

type scanner interface {
	Scan(dest ...any) error
}

// readHead scans a row of sqlReadHead.
func (s *Store) readHead(row scanner) (head, error) {
	var h head
	var packed []byte
	if err := row.Scan(&h.size, &packed); err != nil {
		return h, err
	}
	if len(packed)%32 != 0 {
		return h, fmt.Errorf("log_head.compact_range has %d bytes, not a multiple of 32", len(packed))
	}
	hashes := make([][]byte, len(packed)/32)
	for i := range hashes {
		hashes[i] = packed[i*32 : (i+1)*32 : (i+1)*32]
	}
	tree, err := s.rf.NewRange(0, uint64(h.size), hashes)
	if err != nil {
		return h, fmt.Errorf("log_head at size %d: %w", h.size, err)
	}
	h.tree = tree
	return h, nil
}

// writes are the arguments of the statements that store one append: the
// head's advance, the events and the tree nodes they complete.
type writes struct {
	from, to  int64  // head size before and after
	headRange []byte // compact range at to, packed
	events    []any  // sqlInsertEvents arguments
	nodes     []any  // sqlInsertNodes arguments; nil when there are none
}

// plan computes the writes that append fresh (given seqs from h.size on,
// in order) to the log at h. It advances h.tree.
func plan(h head, fresh []event.Event) (writes, error) {
	n := len(fresh)
	w := writes{from: h.size, to: h.size + int64(n)}
	var (
		seq                                         = make([]int64, n)
		id, typ, ts, tenant, entity, source, outcom = make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		hlc, emitter, oidc, fact, attested, scope   = make([]pgtype.Text, n), make([]pgtype.Text, n), make([]pgtype.Text, n), make([]pgtype.Text, n), make([]pgtype.Text, n), make([]pgtype.Text, n)
		detail                                      = make([]pgtype.Text, n)
		leaf                                        = make([][]byte, n)
		levels                                      []int32
		idxs                                        []int64
		hashes                                      [][]byte
	)
	visit := func(id compact.NodeID, h []byte) {
		if id.Level > 0 {
			levels = append(levels, int32(id.Level))
			idxs = append(idxs, int64(id.Index))
			hashes = append(hashes, h)
		}
	}
	for i := range fresh {
		e := &fresh[i]
		if uint64(e.Seq) != h.tree.End() {
			return w, fmt.Errorf("event %s has seq %d, the tree expects %d", e.ID, e.Seq, h.tree.End())
		}
		seq[i], id[i], typ[i], ts[i] = e.Seq, e.ID, e.Type, e.TS
		tenant[i], entity[i], source[i], outcom[i] = e.Tenant, e.EntityURI, e.Source, e.Outcome
		hlc[i], emitter[i], oidc[i] = text(e.HLC), text(e.Emitter), text(e.OIDCSub)
		fact[i], attested[i], scope[i] = text(e.FactID), text(e.AttestedKeyID), text(e.Scope)
		if e.Detail != nil {
			detail[i] = pgtype.Text{String: string(e.Detail), Valid: true}
		}
		leaf[i] = append([]byte(nil), e.LeafHash[:]...)
		if err := h.tree.Append(leaf[i], visit); err != nil {
			return w, fmt.Errorf("extend tree: %w", err)
		}
	}
	w.events = []any{seq, id, typ, ts, hlc, tenant, entity, emitter, oidc, fact, source, attested, scope, outcom, detail, leaf}
	if len(levels) > 0 {
		w.nodes = []any{levels, idxs, hashes}
	}
	for _, hh := range h.tree.Hashes() {
		w.headRange = append(w.headRange, hh...)
	}
	if w.headRange == nil {
		w.headRange = []byte{}
	}
	return w, nil
}

// text maps an absent optional value to SQL NULL.
func text(s string) pgtype.Text {
	return pgtype.Text{String: s, Valid: s != ""}
}

// AppendTx appends events inside the caller's transaction tx, which must be
// a transaction on this store's DB(): the events commit or roll back with
// the caller's own work. Idempotency and id conflicts behave as for Append,
// and on an error nothing of this call is written (the caller decides
// whether to roll back the rest). The events are durable once the caller
// commits, not when AppendTx returns: seqs are final only then.
//
// AppendTx takes the log head's row lock, which every appender on every
// replica needs: until tx ends, all appends wait. Commit or roll back soon
// after, and never wait for an Append while holding tx.
func (s *Store) AppendTx(ctx context.Context, tx *sql.Tx, events []event.Event) ([]event.Event, error) {
	if s.isClosed() {
		return nil, auditerr.Errorf(auditerr.ErrClosed, "pgstore: append after Close")
	}
	if len(events) == 0 {
		return []event.Event{}, nil
	}
	// A savepoint makes this call atomic inside the caller's transaction.
	if _, err := tx.ExecContext(ctx, `SAVEPOINT stigaudit_append`); err != nil {
		return nil, unavailable("append in transaction", err)
	}
	answer, err := s.appendTx(ctx, tx, events)
	if err != nil {
		_, rbErr := tx.ExecContext(ctx, `ROLLBACK TO SAVEPOINT stigaudit_append`)
		if rbErr != nil {
			err = errors.Join(err, rbErr)
		}
		return nil, err
	}
	if _, err := tx.ExecContext(ctx, `RELEASE SAVEPOINT stigaudit_append`); err != nil {
		return nil, unavailable("append in transaction", err)
	}
	return answer, nil
}

func (s *Store) appendTx(ctx context.Context, tx *sql.Tx, events []event.Event) ([]event.Event, error) {
	h, err := s.readHead(tx.QueryRowContext(ctx, sqlLockHead))
	if err != nil {
		return nil, unavailable("append in transaction: lock log head", err)
	}
	ids := make([]string, len(events))
	for i := range events {
		ids[i] = events[i].ID
	}
	rows, err := tx.QueryContext(ctx, sqlLookup, ids)
	if err != nil {
		return nil, unavailable("append in transaction: look up ids", err)
	}
	stored, err := sqlquery.ScanEvents(rows, 0)
	rows.Close()
	if err != nil {
		return nil, unavailable("append in transaction: look up ids", err)
	}
	byKey := make(map[hostfns.EventKey]event.Event, len(stored))
	for _, e := range stored {
		byKey[hostfns.KeyOf(&e)] = e
	}
	answer, fresh, err := hostfns.PlanAppend(events, h.size, func(k hostfns.EventKey) (event.Event, bool) {
		e, ok := byKey[k]
		return e, ok
	})
	if err != nil {
		return nil, fmt.Errorf("pgstore: append in transaction: %w", err)
	}
	if len(fresh) == 0 {
		return answer, nil
	}
	w, err := plan(h, fresh)
	if err != nil {
		return nil, unavailable("append in transaction", err)
	}
	res, err := tx.ExecContext(ctx, sqlAdvanceHead, w.to, w.headRange, w.from)
	if err != nil {
		return nil, unavailable("append in transaction: advance log head", err)
	}
	if n, err := res.RowsAffected(); err != nil || n != 1 {
		return nil, unavailable("append in transaction", fmt.Errorf("log head moved from %d while locked (%d rows, %v)", w.from, n, err))
	}
	if _, err := tx.ExecContext(ctx, sqlInsertEvents, w.events...); err != nil {
		return nil, unavailable(fmt.Sprintf("append in transaction: insert events from seq %d", w.from), err)
	}
	if w.nodes != nil {
		if _, err := tx.ExecContext(ctx, sqlInsertNodes, w.nodes...); err != nil {
			return nil, unavailable("append in transaction: insert tree nodes", err)
		}
	}
	// Readers see these events once the caller's commit is durable: it
	// must then be synchronous, whatever the session says.
	if _, err := tx.ExecContext(ctx, `SELECT set_config('synchronous_commit',
		CASE current_setting('synchronous_commit') WHEN 'off' THEN 'on' ELSE current_setting('synchronous_commit') END, true)`); err != nil {
		return nil, unavailable("append in transaction: synchronous commit", err)
	}
	if _, err := tx.ExecContext(ctx, sqlMarkDurable, txWriter, w.to); err != nil {
		return nil, unavailable("append in transaction: durable mark", err)
	}
	return answer, nil
}
