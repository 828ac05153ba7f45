package retention

import (
	"context"
	"database/sql"
	"errors"
)

// sqlitePurge is purgeDB on SQLite (migrations/sqlite 0004). The database
// has one server, whose Purger runs one purge at a time, so lock has
// nothing to do. A plan covers the seqs of the ts_blocks (migration 0003)
// whose least ts is before the cutoff, from the lowest seq that was not
// purged last time.
type sqlitePurge struct {
	db *sql.DB
	// low: every event below this seq is purged, or was too young when
	// last planned. hi is the end of the last plan.
	low, hi int64
}

const (
	sqlSQLiteSize  = `SELECT COALESCE(MAX(seq), -1) + 1 FROM events`
	sqlSQLiteBound = `SELECT COALESCE(MAX(block) + 1, 0) * 1024 FROM ts_blocks WHERE min_ts < ?`
	sqlSQLitePlan  = `SELECT tenant_id, COUNT(*), MIN(seq), MAX(seq) FROM events
		WHERE seq >= ? AND seq < ? AND ts < ? AND purged_at IS NULL GROUP BY tenant_id ORDER BY tenant_id`
	sqlSQLitePurge = `UPDATE events SET purged_at = ?, hlc = NULL, entity_uri = '', emitter = NULL, oidc_sub = NULL,
		fact_id = NULL, source = '', attested_key_id = NULL, scope = NULL, detail = NULL
		WHERE tenant_id = ? AND seq >= ? AND seq < ? AND ts < ? AND purged_at IS NULL`
	sqlSQLiteLowest = `SELECT MIN(seq) FROM events WHERE seq >= ? AND seq < ? AND purged_at IS NULL`
)

func (s *sqlitePurge) lock(context.Context) (func(), bool, error) { return func() {}, true, nil }

func (s *sqlitePurge) lockConfig(context.Context) (func(), error) { return func() {}, nil }

func (s *sqlitePurge) plan(ctx context.Context, cutoff string) ([]TenantResult, error) {
	var size, hi int64
	if err := s.db.QueryRowContext(ctx, sqlSQLiteSize).Scan(&size); err != nil {
		return nil, unavailable("read the log size", err)
	}
	// Every event with ts < cutoff lies in a block whose least ts is
	// below the cutoff (migration 0003's block-range index).
	if err := s.db.QueryRowContext(ctx, sqlSQLiteBound, cutoff).Scan(&hi); err != nil {
		return nil, unavailable("bound the purge", err)
	}
	s.hi = min(hi, size)
	if s.hi <= s.low {
		return nil, nil
	}
	rows, err := s.db.QueryContext(ctx, sqlSQLitePlan, s.low, s.hi, cutoff)
	if err != nil {
		return nil, unavailable("plan the purge", err)
	}
	return scanPlan(rows)
}

func (s *sqlitePurge) purge(ctx context.Context, tenant string, from, to int64, stamp, cutoff string) (int64, error) {
	return execPurge(ctx, s.db, sqlSQLitePurge, stamp, tenant, from, to, cutoff)
}

func (s *sqlitePurge) purged(ctx context.Context, _ string) {
	var lowest sql.NullInt64
	if err := s.db.QueryRowContext(ctx, sqlSQLiteLowest, s.low, s.hi).Scan(&lowest); err == nil {
		if lowest.Valid {
			s.low = lowest.Int64
		} else {
			s.low = max(s.low, s.hi)
		}
	}
}

// scanPlan reads the rows of a plan query: tenant, count, first and last
// seq. It closes rows.
func scanPlan(rows *sql.Rows) ([]TenantResult, error) {
	var out []TenantResult
	for rows.Next() {
		var t TenantResult
		if err := rows.Scan(&t.Tenant, &t.Planned, &t.FirstSeq, &t.LastSeq); err != nil {
			rows.Close()
			return nil, unavailable("plan the purge", err)
		}
		out = append(out, t)
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return nil, unavailable("plan the purge", err)
	}
	return out, nil
}

// execPurge runs one purge statement and returns the rows it purged.
func execPurge(ctx context.Context, db *sql.DB, query string, args ...any) (int64, error) {
	r, err := db.ExecContext(ctx, query, args...)
	if err != nil {
		return 0, unavailable("purge", err)
	}
	n, err := r.RowsAffected()
	if err != nil {
		return 0, unavailable("purge", err)
	}
	return n, nil
}
