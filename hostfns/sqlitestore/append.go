package sqlitestore

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"
	"sync/atomic"

	"github.com/transparency-dev/merkle/compact"

	"github.com/stigaudit/stigaudit/core/event"
	"github.com/stigaudit/stigaudit/hostfns"
	"github.com/stigaudit/stigaudit/hostfns/sqlquery"
)

// The SQL of an append transaction.
const (
	sqlSize = `SELECT COALESCE(MAX(seq), -1) + 1 FROM events`

	// sqlInsertEvents and sqlInsertNodes are followed by one row of
	// placeholders per row inserted (see multiInsert).
	sqlInsertEvents = `INSERT INTO events (seq, id, event_type, ts, hlc, tenant_id, entity_uri, emitter,
		oidc_sub, fact_id, source, attested_key_id, scope, outcome, detail, leaf_hash) VALUES `
	eventColumns   = 16
	sqlInsertNodes = `INSERT INTO tree_nodes (level, idx, hash) VALUES `
	nodeColumns    = 3

	// sqlWidenBlock records the ts range of events appended to a block of
	// ts_blocks (see migration 0003).
	sqlWidenBlock = `INSERT INTO ts_blocks (block, min_ts, max_ts) VALUES (?, ?, ?)
		ON CONFLICT (block) DO UPDATE SET min_ts = min(min_ts, excluded.min_ts), max_ts = max(max_ts, excluded.max_ts)`

	// sqlCount adds to the rollup stats_minutes (migration 0009) the
	// events of one tenant, minute, type and outcome.
	sqlCount = `INSERT INTO stats_minutes (tenant_id, minute, event_type, outcome, n) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (tenant_id, minute, event_type, outcome) DO UPDATE SET n = n + excluded.n`

	// sqlLookup finds the stored events, of any tenant, among a JSON array
	// of ids (through the unique index on (id, tenant_id)); storedByID
	// keeps those of the right tenants.
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

// maxRowsPerInsert bounds the rows of one multi-row INSERT (and so the
// statements prepared per table: one per row count up to it).
const maxRowsPerInsert = 64

// stmts are the prepared statements of an append transaction: prepared
// once on the writer's connection, or per call on a caller's transaction.
//
// Rows are inserted up to maxRowsPerInsert per statement. Because the
// tables' insert triggers may abort a statement, SQLite keeps a statement
// journal: a copy of every page a statement changes, taken when the
// statement first changes it. One statement per row copied the same hot
// index pages once per row; one statement per 64 rows copies them once.
// That cuts the insert path's instructions measurably (see
// docs/decisions.md#93-up-to-64-rows-per-insert-statement).
type stmts struct {
	size, widenBlock, count, lookup, nodes *sql.Stmt
	insertEvents, insertNodes              *multiInsert
}

// multiInsert is the INSERT of 1 to maxRowsPerInsert rows into one table,
// a statement per row count, each prepared when first needed.
type multiInsert struct {
	p     preparer
	head  string // the INSERT up to VALUES
	cols  int
	byLen [maxRowsPerInsert + 1]*sql.Stmt
}

// exec inserts len(args)/cols rows (1 to maxRowsPerInsert).
func (m *multiInsert) exec(ctx context.Context, args []any) error {
	rows := len(args) / m.cols
	s := m.byLen[rows]
	if s == nil {
		row := "(?" + strings.Repeat(", ?", m.cols-1) + ")"
		var err error
		if s, err = m.p.PrepareContext(ctx, m.head+row+strings.Repeat(", "+row, rows-1)); err != nil {
			return fmt.Errorf("prepare: %w", err)
		}
		m.byLen[rows] = s
	}
	_, err := s.ExecContext(ctx, args...)
	return err
}

type preparer interface {
	PrepareContext(ctx context.Context, query string) (*sql.Stmt, error)
}

func prepare(ctx context.Context, p preparer) (*stmts, error) {
	st := &stmts{
		insertEvents: &multiInsert{p: p, head: sqlInsertEvents, cols: eventColumns},
		insertNodes:  &multiInsert{p: p, head: sqlInsertNodes, cols: nodeColumns},
	}
	for _, x := range []struct {
		dst **sql.Stmt
		sql string
	}{
		{&st.size, sqlSize},
		{&st.widenBlock, sqlWidenBlock},
		{&st.count, sqlCount},
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
	all := []*sql.Stmt{st.size, st.widenBlock, st.count, st.lookup, st.nodes}
	all = append(all, st.insertEvents.byLen[:]...)
	all = append(all, st.insertNodes.byLen[:]...)
	for _, s := range all {
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

// storedByID returns the stored events among ids, by tenant and id.
func (st *stmts) storedByID(ctx context.Context, ids []string) (map[hostfns.EventKey]event.Event, error) {
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
	out := make(map[hostfns.EventKey]event.Event, len(evs))
	for _, e := range evs {
		out[hostfns.KeyOf(&e)] = e
	}
	return out, nil
}

// readNodes returns the hashes of ids, or nil for a node not stored.
func (st *stmts) readNodes(ctx context.Context, ids []compact.NodeID) ([][]byte, error) {
	return sqlquery.ReadNodes(ctx, st.nodes, ids)
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
// the tree nodes they complete, the ts range of their blocks and their
// counts in stats_minutes, advancing tree.
func insert(ctx context.Context, st *stmts, tree *compact.Range, events []event.Event) error {
	var nodes []compact.NodeID
	var hashes [][]byte
	visit := func(id compact.NodeID, h []byte) {
		if id.Level > 0 {
			nodes = append(nodes, id)
			hashes = append(hashes, h)
		}
	}
	args := make([]any, 0, eventColumns*min(len(events), maxRowsPerInsert))
	for from := 0; from < len(events); from += maxRowsPerInsert {
		chunk := events[from:min(from+maxRowsPerInsert, len(events))]
		args = args[:0]
		for i := range chunk {
			e := &chunk[i]
			if uint64(e.Seq) != tree.End() {
				return fmt.Errorf("event %s has seq %d, the tree expects %d", e.ID, e.Seq, tree.End())
			}
			// A copy: the tree keeps the hashes on its right border, and
			// must not share memory with the caller's events.
			leaf := e.LeafHash
			args = append(args,
				e.Seq, e.ID, e.Type, e.TS, null(e.HLC), e.Tenant, e.EntityURI, null(e.Emitter),
				null(e.OIDCSub), null(e.FactID), e.Source, null(e.AttestedKeyID), null(e.Scope), e.Outcome,
				detail(e.Detail), leaf[:])
			if err := tree.Append(leaf[:], visit); err != nil {
				return fmt.Errorf("extend tree: %w", err)
			}
		}
		if err := st.insertEvents.exec(ctx, args); err != nil {
			return fmt.Errorf("insert events seq %d to %d: %w", chunk[0].Seq, chunk[len(chunk)-1].Seq, err)
		}
	}
	for from := 0; from < len(nodes); from += maxRowsPerInsert {
		to := min(from+maxRowsPerInsert, len(nodes))
		args = args[:0]
		for i := from; i < to; i++ {
			args = append(args, nodes[i].Level, nodes[i].Index, hashes[i])
		}
		if err := st.insertNodes.exec(ctx, args); err != nil {
			return fmt.Errorf("insert tree nodes (%d, %d) to (%d, %d): %w",
				nodes[from].Level, nodes[from].Index, nodes[to-1].Level, nodes[to-1].Index, err)
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
	if rollupOff.Load() {
		return nil
	}
	for _, c := range hostfns.CountEvents(events) {
		if _, err := st.count.ExecContext(ctx, c.Tenant, c.Minute, c.Type, c.Outcome, c.N); err != nil {
			return fmt.Errorf("count events of %s at %s: %w", c.Tenant, c.Minute, err)
		}
	}
	return nil
}

// rollupOff turns the stats_minutes rollup off, for the benchmark that
// measures its cost (export_test.go); never set otherwise.
var rollupOff atomic.Bool

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
