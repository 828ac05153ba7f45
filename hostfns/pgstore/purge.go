package pgstore

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"time"

	"github.com/jackc/pgx/v5/stdlib"

	"github.com/stigaudit/stigaudit/hostfns"
	"github.com/stigaudit/stigaudit/hostfns/sqlquery"
)

// unlockTimeout bounds the release of a purge lock.
const unlockTimeout = 10 * time.Second

// Purging is the SQL of retention purges on PostgreSQL (migrations/postgres
// 0003), where several replicas share one log; it satisfies
// retention.Purging. A session-level advisory lock makes one of them purge
// at a time, and the others skip the round; another makes them record the
// retention setting one after the other, so replicas starting together
// record a change once.
//
// A plan reads each tenant's events by ts through the (tenant_id, ts)
// index, from the cutoff of this Purging's last complete purge on (every
// live event older than it was purged then, and a new event is never that
// old), so the hourly purge reads the events that aged out since, not the
// whole log. The tenants come from a loose scan of the (tenant_id, seq)
// index, one probe per tenant. A Purging is used by one Purger.
type Purging struct {
	db *sql.DB
	// from is the cutoff of the last complete purge ("" before the first).
	from string
}

// Purging returns a new Purging over the store.
func (s *Store) Purging() *Purging { return &Purging{db: s.db} }

const (
	sqlPurgePlan = `WITH RECURSIVE tenants(t) AS (
			SELECT min(tenant_id) FROM events
		UNION ALL
			SELECT (SELECT min(e.tenant_id) FROM events e WHERE e.tenant_id > tenants.t) FROM tenants WHERE tenants.t IS NOT NULL
	)
	SELECT tenants.t, p.n, p.lo, p.hi FROM tenants CROSS JOIN LATERAL (
		SELECT count(*) AS n, min(e.seq) AS lo, max(e.seq) AS hi FROM events e
		WHERE e.tenant_id = tenants.t AND e.ts >= $1 AND e.ts < $2 AND e.purged_at IS NULL
	) p
	WHERE tenants.t IS NOT NULL AND p.n > 0 ORDER BY tenants.t`
	sqlPurge = `UPDATE events SET purged_at = $1, ` + sqlquery.PurgeSet + `
		WHERE tenant_id = $2 AND seq >= $3 AND seq < $4 AND ts < $5 AND purged_at IS NULL`
	sqlPurgedAt = `SELECT purged_at FROM events WHERE seq = $1`
)

// Lock makes this purge the only one running on the log, or reports (ok
// false) that another replica is purging it; unlock ends it.
func (p *Purging) Lock(ctx context.Context) (func(), bool, error) {
	return advisoryLock(ctx, p.db, "/stigaudit/retention", false)
}

// LockConfig waits until this replica is the only one recording the
// retention setting.
func (p *Purging) LockConfig(ctx context.Context) (func(), error) {
	unlock, _, err := advisoryLock(ctx, p.db, "/stigaudit/retention-config", true)
	return unlock, err
}

// advisoryLock takes the session-level advisory lock named name in the
// current schema on a connection of db, held until unlock. Unless wait,
// it does not wait for another session holding it, and answers ok false.
func advisoryLock(ctx context.Context, db *sql.DB, name string, wait bool) (unlock func(), ok bool, err error) {
	key := `hashtextextended(current_schema() || '` + name + `', 0)`
	conn, err := db.Conn(ctx)
	if err != nil {
		return nil, false, unavailable("lock "+name, err)
	}
	if wait {
		_, err = conn.ExecContext(ctx, `SELECT pg_advisory_lock(`+key+`)`)
		ok = err == nil
	} else {
		err = conn.QueryRowContext(ctx, `SELECT pg_try_advisory_lock(`+key+`)`).Scan(&ok)
	}
	if err != nil || !ok {
		conn.Close()
		if err != nil {
			return nil, false, unavailable("lock "+name, err)
		}
		return nil, false, nil
	}
	return func() {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), unlockTimeout)
		defer cancel()
		var released bool
		if err := conn.QueryRowContext(ctx, `SELECT pg_advisory_unlock(`+key+`)`).Scan(&released); err != nil || !released {
			// The session may still hold the lock: end it rather than
			// return it to the pool.
			_ = conn.Raw(func(dc any) error {
				if c, ok := dc.(*stdlib.Conn); ok {
					c.Conn().Close(ctx)
				}
				return driver.ErrBadConn
			})
		}
		conn.Close()
	}, true, nil
}

// Plan returns, per tenant in tenant order, the number and the seq range
// of the live events with a ts before cutoff. It runs without JIT
// compilation, which the first plan's estimate (every old event) would
// otherwise trigger for nothing, making the plan several times slower
// (see docs/decisions.md#131-the-postgresql-purge-plans-without-jit).
func (p *Purging) Plan(ctx context.Context, cutoff string) ([]hostfns.PurgeRange, error) {
	tx, err := p.db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, unavailable("plan the purge", err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `SET LOCAL jit = off`); err != nil {
		return nil, unavailable("plan the purge", err)
	}
	rows, err := tx.QueryContext(ctx, sqlPurgePlan, p.from, cutoff)
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

// Purged records that everything up to cutoff is purged, so the next plan
// starts there.
func (p *Purging) Purged(_ context.Context, cutoff string) { p.from = max(p.from, cutoff) }

// PurgedAt returns when retention purged event seq, "" if it did not.
func (p *Purging) PurgedAt(ctx context.Context, seq int64) (string, error) {
	return sqlquery.PurgedAt(ctx, p.db, sqlPurgedAt, seq)
}
