package pgstore

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/transparency-dev/merkle/compact"

	"github.com/stigaudit/stigaudit/core/auditerr"
	"github.com/stigaudit/stigaudit/hostfns"
	"github.com/stigaudit/stigaudit/hostfns/sqlquery"
)

// Query returns one page of matching events, keyset-paged on seq: the SQL
// is "WHERE <filters> AND seq > After ORDER BY seq LIMIT Limit+1", the extra
// row telling whether there are more. Each page is a single statement, so it
// sees one committed state of the log.
func (s *Store) Query(ctx context.Context, q hostfns.Query) (hostfns.Page, error) {
	if err := q.Check(); err != nil {
		return hostfns.Page{}, fmt.Errorf("pgstore: query: %w", err)
	}
	query, args := buildQuery(q)
	rows, err := s.pool.Query(ctx, query, args...)
	if err != nil {
		return hostfns.Page{}, unavailable("query", err)
	}
	evs, err := sqlquery.ScanEvents(rows, q.Limit+1)
	rows.Close()
	if err != nil {
		return hostfns.Page{}, unavailable("query", err)
	}
	return sqlquery.Page(evs, q.Limit), nil
}

// buildQuery turns q into SQL with $n placeholders and its arguments.
func buildQuery(q hostfns.Query) (string, []any) {
	var args []any
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	where := sqlquery.Terms(q, arg, func(types []string) string {
		return "event_type = ANY(" + arg(types) + "::text[])"
	})
	if q.Since != "" {
		where = append(where, "ts >= "+arg(q.Since))
	}
	if q.Until != "" {
		where = append(where, "ts < "+arg(q.Until))
	}
	where = append(where, "seq < "+sqlDurableSize) // only the durable prefix
	order := "ASC"
	if q.Order == hostfns.Descending {
		order = "DESC"
		if q.After >= 0 {
			where = append(where, "seq < "+arg(q.After))
		}
	} else if q.After >= 0 {
		where = append(where, "seq > "+arg(q.After))
	}
	var b strings.Builder
	b.WriteString("SELECT " + sqlquery.EventColumns + " FROM events WHERE " + strings.Join(where, " AND "))
	b.WriteString(" ORDER BY seq " + order + " LIMIT " + arg(q.Limit+1))
	return b.String(), args
}

// sqlNodes reads the tree nodes named by parallel arrays of levels and
// indexes, returning (position from 1, hash); level 0 is events.leaf_hash.
// A node not stored yet, or covering leaves beyond the durable prefix, has
// a NULL hash.
const sqlNodes = `WITH durable AS (SELECT ` + sqlDurableSize + ` AS size)
	SELECT u.ord, CASE
		WHEN ((u.idx + 1) << u.level) > (SELECT size FROM durable) THEN NULL
		WHEN u.level = 0 THEN (SELECT leaf_hash FROM events WHERE seq = u.idx)
		ELSE (SELECT hash FROM tree_nodes WHERE level = u.level AND idx = u.idx)
	END
	FROM unnest($1::integer[], $2::bigint[]) WITH ORDINALITY AS u(level, idx, ord)`

// ReadNodes returns the hashes of perfect subtrees (level 0: leaf hashes),
// in the order of ids, from one read statement.
func (s *Store) ReadNodes(ctx context.Context, ids []compact.NodeID) ([][]byte, error) {
	if len(ids) == 0 {
		return [][]byte{}, nil
	}
	levels := make([]int32, len(ids))
	idxs := make([]int64, len(ids))
	for i, id := range ids {
		if id.Level >= 63 || id.Index > 1<<62 {
			return nil, auditerr.Errorf(auditerr.ErrNotFound, "pgstore: tree node (%d, %d) is out of range", id.Level, id.Index)
		}
		levels[i], idxs[i] = int32(id.Level), int64(id.Index)
	}
	rows, err := s.pool.Query(ctx, sqlNodes, levels, idxs)
	if err != nil {
		return nil, unavailable("read tree nodes", err)
	}
	defer rows.Close()
	out := make([][]byte, len(ids))
	for rows.Next() {
		var ord int64
		var h []byte
		if err := rows.Scan(&ord, &h); err != nil {
			return nil, unavailable("read tree nodes", err)
		}
		if ord < 1 || ord > int64(len(out)) {
			return nil, unavailable("read tree nodes", fmt.Errorf("row %d of %d", ord, len(out)))
		}
		out[ord-1] = h
	}
	if err := rows.Err(); err != nil {
		return nil, unavailable("read tree nodes", err)
	}
	for i, h := range out {
		if h == nil {
			return nil, auditerr.Errorf(auditerr.ErrNotFound, "pgstore: tree node (%d, %d) is not complete", ids[i].Level, ids[i].Index)
		}
	}
	return out, nil
}

// LeafHashes returns the leaf hashes of seqs [from, to).
func (s *Store) LeafHashes(ctx context.Context, from, to int64) ([][]byte, error) {
	if from < 0 || to < from {
		return nil, auditerr.Errorf(auditerr.ErrInvalidParameter, "pgstore: leaf range [%d, %d)", from, to)
	}
	rows, err := s.pool.Query(ctx, `SELECT leaf_hash FROM events WHERE seq >= $1 AND seq < $2 AND seq < `+sqlDurableSize+` ORDER BY seq`, from, to)
	if err != nil {
		return nil, unavailable("read leaves", err)
	}
	defer rows.Close()
	out := make([][]byte, 0, min(to-from, 1<<16))
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
		return nil, auditerr.Errorf(auditerr.ErrNotFound, "pgstore: leaves [%d, %d) not stored (found %d)", from, to, len(out))
	}
	return out, nil
}
