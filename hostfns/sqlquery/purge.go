package sqlquery

import (
	"context"
	"database/sql"
	"errors"

	"github.com/stigaudit/stigaudit/hostfns"
)

// PurgeSet is the SET list of a retention purge, the same in both
// dialects: the content goes, the tenant, type, ts, outcome and leaf hash
// (what binds the tree) stay, and purged_at says when.
const PurgeSet = `hlc = NULL, entity_uri = '', emitter = NULL, oidc_sub = NULL,
		fact_id = NULL, source = '', attested_key_id = NULL, scope = NULL, detail = NULL`

// ScanPurgeRanges reads the rows of a purge plan: tenant, count, first and
// last seq. It closes rows.
func ScanPurgeRanges(rows *sql.Rows) ([]hostfns.PurgeRange, error) {
	var out []hostfns.PurgeRange
	for rows.Next() {
		var r hostfns.PurgeRange
		if err := rows.Scan(&r.Tenant, &r.Count, &r.FirstSeq, &r.LastSeq); err != nil {
			rows.Close()
			return nil, err
		}
		out = append(out, r)
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return nil, err
	}
	return out, nil
}

// ExecCount runs one statement and returns the rows it changed.
func ExecCount(ctx context.Context, db *sql.DB, query string, args ...any) (int64, error) {
	r, err := db.ExecContext(ctx, query, args...)
	if err != nil {
		return 0, err
	}
	return r.RowsAffected()
}

// PurgedAt reads when retention purged event seq ("" when it was not);
// query is the dialect's `SELECT purged_at FROM events WHERE seq = ?`.
func PurgedAt(ctx context.Context, db *sql.DB, query string, seq int64) (string, error) {
	var at sql.NullString
	err := db.QueryRowContext(ctx, query, seq).Scan(&at)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	return at.String, err
}
