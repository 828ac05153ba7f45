package sqlitestore

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"

	"github.com/transparency-dev/merkle/compact"

	"github.com/stigaudit/stigaudit/core/event"
	"github.com/stigaudit/stigaudit/hostfns/sqlquery"
)

// The SQL of an append transaction.
const (
	sqlSize = `SELECT COALESCE(MAX(seq), -1) + 1 FROM events`

	sqlInsertEvent = `INSERT INTO events (seq, id, event_type, ts, hlc, tenant_id, entity_uri, emitter,
		oidc_sub, fact_id, source, attested_key_id, scope, outcome, detail, leaf_hash)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`

	sqlInsertNode = `INSERT INTO tree_nodes (level, idx, hash) VALUES (?, ?, ?)`

	// sqlWidenBlock records the ts range of events appended to a block of
	// ts_blocks (see migration 0003).
	sqlWidenBlock = `INSERT INTO ts_blocks (block, min_ts, max_ts) VALUES (?, ?, ?)
		ON CONFLICT (block) DO UPDATE SET min_ts = min(min_ts, excluded.min_ts), max_ts = max(max_ts, excluded.max_ts)`

	// sqlLookup finds the stored events among a JSON array of ids.
	sqlLookup = `SELECT ` + sqlquery.EventColumns + ` FROM events WHERE id IN (SELECT value FROM json_each(?))`

	// sqlNodes reads tree nodes named by a JSON array of [level, idx] pairs,
	// returning (position in the array, hash); level 0 is events.leaf_hash.
	// A node not stored yet has a NULL hash.
	sqlNodes = `SELECT j.key, CASE WHEN j.value ->> 0 = 0
			THEN (SELECT leaf_hash FROM events WHERE seq = j.value ->> 1)
			ELSE (SELECT hash FROM tree_nodes WHERE level = j.value ->> 0 AND idx = j.value ->> 1)
		END
		FROM json_each(?) AS j ORDER BY j.key`
)

// tsBlockSize is the number of seqs per row of ts_blocks (migration 0003).
const tsBlockSize = 1024

// stmts are the prepared statements of an append transaction: prepared
// once on the writer's connection, or per call on a caller's transaction.
// (Multi-row INSERTs were tried and cost more CPU per event, not less.)
type stmts struct {
	size, insertEvent, insertNode, widenBlock, lookup, nodes *sql.Stmt
}

type preparer interface {
	PrepareContext(ctx context.Context, query string) (*sql.Stmt, error)
}

func prepare(ctx context.Context, p preparer) (*stmts, error) {
	st := &stmts{}
	for _, x := range []struct {
		dst **sql.Stmt
		sql string
	}{
		{&st.size, sqlSize},
		{&st.insertEvent, sqlInsertEvent},
		{&st.insertNode, sqlInsertNode},
		{&st.widenBlock, sqlWidenBlock},
		{&st.lookup, sqlLookup},
		{&st.nodes, sqlNodes},
	} {
		s, err := p.PrepareContext(ctx, x.sql)
		if err != nil {
			st.close()
			return nil, fmt.Errorf("prepare: %w", err)
		}
		*x.dst = s
	}
	return st, nil
}

func (st *stmts) close() error {
	var first error
	for _, s := range []*sql.Stmt{st.size, st.insertEvent, st.insertNode, st.widenBlock, st.lookup, st.nodes} {
		if s != nil {
			if err := s.Close(); err != nil && first == nil {
				first = err
			}
		}
	}
	return first
}

// sizeOf returns the number of events stored, as seen by the transaction.
func (st *stmts) sizeOf(ctx context.Context) (int64, error) {
	var n int64
	if err := st.size.QueryRowContext(ctx).Scan(&n); err != nil {
		return 0, fmt.Errorf("read size: %w", err)
	}
	return n, nil
}

// storedByID returns the stored events among ids, by id.
func (st *stmts) storedByID(ctx context.Context, ids []string) (map[string]event.Event, error) {
	arg, err := json.Marshal(ids)
	if err != nil {
		return nil, err
	}
	rows, err := st.lookup.QueryContext(ctx, string(arg))
	if err != nil {
		return nil, fmt.Errorf("look up ids: %w", err)
	}
	defer rows.Close()
	evs, err := sqlquery.ScanEvents(rows, 0)
	if err != nil {
		return nil, fmt.Errorf("look up ids: %w", err)
	}
	out := make(map[string]event.Event, len(evs))
	for _, e := range evs {
		out[e.ID] = e
	}
	return out, nil
}

// readNodes returns the hashes of ids, or nil for a node not stored.
func (st *stmts) readNodes(ctx context.Context, ids []compact.NodeID) ([][]byte, error) {
	return readNodes(ctx, st.nodes, ids)
}

type rowsQuerier interface {
	QueryContext(ctx context.Context, args ...any) (*sql.Rows, error)
}

func readNodes(ctx context.Context, q rowsQuerier, ids []compact.NodeID) ([][]byte, error) {
	pairs := make([][2]uint64, len(ids))
	for i, id := range ids {
		pairs[i] = [2]uint64{uint64(id.Level), id.Index}
	}
	arg, err := json.Marshal(pairs)
	if err != nil {
		return nil, err
	}
	rows, err := q.QueryContext(ctx, string(arg))
	if err != nil {
		return nil, fmt.Errorf("read tree nodes: %w", err)
	}
	defer rows.Close()
	out := make([][]byte, len(ids))
	for rows.Next() {
		var i int
		var h []byte
		if err := rows.Scan(&i, &h); err != nil {
			return nil, fmt.Errorf("read tree nodes: %w", err)
		}
		if i < 0 || i >= len(out) {
			return nil, fmt.Errorf("read tree nodes: row %d of %d", i, len(out))
		}
		out[i] = h
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read tree nodes: %w", err)
	}
	return out, nil
}

// loadRange reads the compact range [0, size) from the stored tree.
func (s *Store) loadRange(ctx context.Context, st *stmts, size int64) (*compact.Range, error) {
	ids := compact.RangeNodes(0, uint64(size), nil)
	hashes, err := st.readNodes(ctx, ids)
	if err != nil {
		return nil, err
	}
	for i, h := range hashes {
		if h == nil {
			return nil, fmt.Errorf("tree node (%d, %d) of a log of %d events is missing", ids[i].Level, ids[i].Index, size)
		}
	}
	return s.rf.NewRange(0, uint64(size), hashes)
}

// cloneRange returns an independent copy of r: Append on the copy leaves r
// unchanged, so a failed transaction can be forgotten.
func (s *Store) cloneRange(r *compact.Range) *compact.Range {
	hashes := append([][]byte(nil), r.Hashes()...)
	c, err := s.rf.NewRange(r.Begin(), r.End(), hashes)
	if err != nil {
		panic(fmt.Sprintf("sqlitestore: cloning a valid compact range: %v", err)) // cannot happen
	}
	return c
}

// insert writes events (already given their seqs, which continue tree),
// the tree nodes they complete and the ts range of their blocks, advancing
// tree.
func insert(ctx context.Context, st *stmts, tree *compact.Range, events []event.Event) error {
	var nodes []compact.NodeID
	var hashes [][]byte
	visit := func(id compact.NodeID, h []byte) {
		if id.Level > 0 {
			nodes = append(nodes, id)
			hashes = append(hashes, h)
		}
	}
	for i := range events {
		e := &events[i]
		if uint64(e.Seq) != tree.End() {
			return fmt.Errorf("event %s has seq %d, the tree expects %d", e.ID, e.Seq, tree.End())
		}
		leaf := e.LeafHash
		if _, err := st.insertEvent.ExecContext(ctx,
			e.Seq, e.ID, e.Type, e.TS, null(e.HLC), e.Tenant, e.EntityURI, null(e.Emitter),
			null(e.OIDCSub), null(e.FactID), e.Source, null(e.AttestedKeyID), null(e.Scope), e.Outcome,
			detail(e.Detail), leaf[:]); err != nil {
			return fmt.Errorf("insert event seq %d: %w", e.Seq, err)
		}
		if err := tree.Append(leaf[:], visit); err != nil {
			return fmt.Errorf("extend tree: %w", err)
		}
	}
	for i, id := range nodes {
		if _, err := st.insertNode.ExecContext(ctx, id.Level, id.Index, hashes[i]); err != nil {
			return fmt.Errorf("insert tree node (%d, %d): %w", id.Level, id.Index, err)
		}
	}
	// Widen the ts range of each block the events fall in (usually one).
	for i := 0; i < len(events); {
		block := events[i].Seq / tsBlockSize
		lo, hi := events[i].TS, events[i].TS
		for ; i < len(events) && events[i].Seq/tsBlockSize == block; i++ {
			lo, hi = min(lo, events[i].TS), max(hi, events[i].TS)
		}
		if _, err := st.widenBlock.ExecContext(ctx, block, lo, hi); err != nil {
			return fmt.Errorf("widen ts block %d: %w", block, err)
		}
	}
	return nil
}

// null maps an absent optional value to SQL NULL.
func null(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// detail binds canonical JSON as TEXT (the column is STRICT TEXT), nil as NULL.
func detail(d []byte) any {
	if d == nil {
		return nil
	}
	return string(d)
}
