package sqlitestore

import (
	"context"
	"fmt"
	"strings"

	"github.com/stigaudit/stigaudit/hostfns"
	"github.com/stigaudit/stigaudit/hostfns/sqlquery"
)

// Stats returns the counts of events per minute of [q.Since, q.Until),
// grouped by q.Group, in (minute, key) order. Counts by tenant, event type
// and outcome are read from the rollup stats_minutes (migration 0009),
// which the append transaction keeps; counts for one entity or by entity
// from the events table, through the (tenant_id, entity_uri, seq) index
// and the seq range ts_blocks gives the window (docs/decisions.md §34).
func (s *Store) Stats(ctx context.Context, q hostfns.StatsQuery) ([]hostfns.StatsRow, error) {
	if err := q.Check(); err != nil {
		return nil, fmt.Errorf("sqlitestore: stats: %w", err)
	}
	query, args := buildStats(q)
	rows, err := s.rdb.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, unavailable("stats", err)
	}
	defer rows.Close()
	out, err := sqlquery.ScanStats(rows)
	if err != nil {
		return nil, unavailable("stats", err)
	}
	return out, nil
}

// sqlTenants lists the tenants of stats_minutes with one primary key
// search each.
const sqlTenants = `WITH RECURSIVE tenants(id) AS (SELECT MIN(tenant_id) FROM stats_minutes
	UNION ALL SELECT (SELECT MIN(tenant_id) FROM stats_minutes WHERE tenant_id > tenants.id) FROM tenants WHERE tenants.id IS NOT NULL) `

// buildStats turns q (checked) into SQL and its arguments.
func buildStats(q hostfns.StatsQuery) (string, []any) {
	var where []string
	var args []any
	if q.Tenant != "" {
		where = append(where, "tenant_id = ?")
		args = append(args, q.Tenant)
	}
	if !q.FromEvents() {
		if q.Tenant == "" {
			// Every tenant: each tenant's range of the primary key, the
			// tenants found by a loose index scan, so the rows read are
			// the window's, not the whole history's.
			where = append(where, "tenant_id IN (SELECT id FROM tenants)")
		}
		where = append(where, "minute >= ?", "minute < ?")
		args = append(args, q.Since, q.Until)
		return sqlTenants + `SELECT minute, ` + q.Group + `, SUM(n) FROM stats_minutes WHERE ` + strings.Join(where, " AND ") +
			` GROUP BY minute, ` + q.Group + ` ORDER BY minute, ` + q.Group, args
	}
	if q.EntityURI != "" {
		where = append(where, "entity_uri = ?")
		args = append(args, q.EntityURI)
	}
	where, args = timeTerms(where, args, sqlquery.MinuteTS(q.Since), sqlquery.MinuteTS(q.Until))
	return `SELECT substr(ts, 1, 16) AS minute, ` + q.Group + ` AS k, COUNT(*) FROM events WHERE ` + strings.Join(where, " AND ") +
		` GROUP BY minute, k ORDER BY minute, k`, args
}
