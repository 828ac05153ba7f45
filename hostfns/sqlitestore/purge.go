package sqlitestore

import (
	"context"
	"database/sql"

	"github.com/stigaudit/stigaudit/hostfns"
	"github.com/stigaudit/stigaudit/hostfns/sqlquery"
)

// Purging is the SQL of retention purges on SQLite (migrations/sqlite
// 0004); it satisfies retention.Purging. The database has one server, whose
// Purger runs one purge at a time, so the locks have nothing to do. A plan
// covers the seqs of the ts_blocks (migration 0003) whose least ts is
// before the cutoff, from the lowest seq that was not purged last time.
// A Purging is used by one Purger.
type Purging struct {
	db *sql.DB
	// low: every event below this seq is purged, or was too young when
	// last planned. hi is the end of the last plan.
	low, hi int64
}

// Purging returns a new Purging over the store.
func (s *Store) Purging() *Purging { return &Purging{db: s.db} }

const (
	sqlPurgeSize  = `SELECT COALESCE(MAX(seq), -1) + 1 FROM events`
	sqlPurgeBound = `SELECT COALESCE(MAX(block) + 1, 0) * 1024 FROM ts_blocks WHERE min_ts < ?`
	sqlPurgePlan  = `SELECT tenant_id, COUNT(*), MIN(seq), MAX(seq) FROM events
		WHERE seq >= ? AND seq < ? AND ts < ? AND purged_at IS NULL GROUP BY tenant_id ORDER BY tenant_id`
	sqlPurge = `UPDATE events SET purged_at = ?, ` + sqlquery.PurgeSet + `
		WHERE tenant_id = ? AND seq >= ? AND seq < ? AND ts < ? AND purged_at IS NULL`
	sqlPurgeLowest = `SELECT MIN(seq) FROM events WHERE seq >= ? AND seq < ? AND purged_at IS NULL`
	sqlPurgedAt    = `SELECT purged_at FROM events WHERE seq = ?`
)

// Lock always succeeds: one server purges a SQLite log.
func (p *Purging) Lock(context.Context) (func(), bool, error) { return func() {}, true, nil }

// LockConfig always succeeds: one server records the retention setting.
func (p *Purging) LockConfig(context.Context) (func(), error) { return func() {}, nil }

// Plan returns, per tenant in tenant order, the number and the seq range
// of the live events with a ts before cutoff.
func (p *Purging) Plan(ctx context.Context, cutoff string) ([]hostfns.PurgeRange, error) {
	var size, hi int64
	if err := p.db.QueryRowContext(ctx, sqlPurgeSize).Scan(&size); err != nil {
		return nil, unavailable("read the log size", err)
	}
	// Every event with ts < cutoff lies in a block whose least ts is
	// below the cutoff (migration 0003's block-range index).
	if err := p.db.QueryRowContext(ctx, sqlPurgeBound, cutoff).Scan(&hi); err != nil {
		return nil, unavailable("bound the purge", err)
	}
	p.hi = min(hi, size)
	if p.hi <= p.low {
		return nil, nil
	}
	rows, err := p.db.QueryContext(ctx, sqlPurgePlan, p.low, p.hi, cutoff)
	if err != nil {
		return nil, unavailable("plan the purge", err)
	}
	out, err := sqlquery.ScanPurgeRanges(rows)
	if err != nil {
		return nil, unavailable("plan the purge", err)
	}
	return out, nil
}

// Purge purges tenant's live events with a ts before cutoff among seqs
// [from, to), at stamp, in one statement, and returns how many.
func (p *Purging) Purge(ctx context.Context, tenant string, from, to int64, stamp, cutoff string) (int64, error) {
	n, err := sqlquery.ExecCount(ctx, p.db, sqlPurge, stamp, tenant, from, to, cutoff)
	if err != nil {
		return 0, unavailable("purge", err)
	}
	return n, nil
}

// Purged records that everything the last plan found is purged, so the
// next plan may skip it.
func (p *Purging) Purged(ctx context.Context, _ string) {
	var lowest sql.NullInt64
	if err := p.db.QueryRowContext(ctx, sqlPurgeLowest, p.low, p.hi).Scan(&lowest); err == nil {
		if lowest.Valid {
			p.low = lowest.Int64
		} else {
			p.low = max(p.low, p.hi)
		}
	}
}

// PurgedAt returns when retention purged event seq, "" if it did not.
func (p *Purging) PurgedAt(ctx context.Context, seq int64) (string, error) {
	return sqlquery.PurgedAt(ctx, p.db, sqlPurgedAt, seq)
}
