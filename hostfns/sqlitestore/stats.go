package sqlitestore

import (
	"context"
	"fmt"
	"slices"
	"strconv"
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
	if !q.FromEvents() {
		return s.rollup(ctx, q)
	}
	var where []string
	var args []any
	if q.Tenant != "" {
		where = append(where, "tenant_id = ?")
		args = append(args, q.Tenant)
	}
	if q.EntityURI != "" {
		where = append(where, "entity_uri = ?")
		args = append(args, q.EntityURI)
	}
	where, args = timeTerms(where, args, sqlquery.MinuteTS(q.Since), sqlquery.MinuteTS(q.Until))
	rows, err := s.rdb.QueryContext(ctx, `SELECT substr(ts, 1, 16) AS minute, `+q.Group+` AS k, COUNT(*) FROM events WHERE `+
		strings.Join(where, " AND ")+` GROUP BY minute, k ORDER BY minute, k`, args...)
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

// The rollup's statements answer one row per minute, since the rows of a
// minute come together in primary key order (tenant_id, minute,
// event_type, outcome) and the per-row cost of the driver dominates: by
// outcome, one column per outcome; by event type, the minute's rows packed
// as type US count RS type US count ... (US, RS: the ASCII unit and record
// separators, which no event type contains), summed by type in Go.
const (
	sqlRollupOutcome = `SELECT minute,
		SUM(CASE outcome WHEN 'success' THEN n ELSE 0 END),
		SUM(CASE outcome WHEN 'failure' THEN n ELSE 0 END),
		SUM(CASE outcome WHEN 'denied' THEN n ELSE 0 END)
		FROM stats_minutes WHERE %s GROUP BY minute ORDER BY minute`
	sqlRollupType = `SELECT minute, group_concat(event_type || char(31) || n, char(30))
		FROM stats_minutes WHERE %s GROUP BY minute ORDER BY minute`
)

// rollup answers q (checked, not from the events) from stats_minutes.
func (s *Store) rollup(ctx context.Context, q hostfns.StatsQuery) ([]hostfns.StatsRow, error) {
	where := "tenant_id = ? AND minute >= ? AND minute < ?"
	args := []any{q.Tenant, q.Since, q.Until}
	prefix := ""
	if q.Tenant == "" {
		// Every tenant: each tenant's range of the primary key, the
		// tenants found by a loose index scan, so the rows read are the
		// window's, not the whole history's.
		where, args, prefix = "tenant_id IN (SELECT id FROM tenants) AND minute >= ? AND minute < ?", args[1:], sqlTenants
	}
	query := sqlRollupType
	if q.Group == hostfns.GroupOutcome {
		query = sqlRollupOutcome
	}
	rows, err := s.rdb.QueryContext(ctx, prefix+fmt.Sprintf(query, where), args...)
	if err != nil {
		return nil, unavailable("stats", err)
	}
	defer rows.Close()
	var out []hostfns.StatsRow
	for rows.Next() {
		var minute string
		if q.Group == hostfns.GroupOutcome {
			var n [3]int64
			if err := rows.Scan(&minute, &n[0], &n[1], &n[2]); err != nil {
				return nil, unavailable("stats", err)
			}
			for i, k := range [3]string{"denied", "failure", "success"} { // key order
				if c := n[[3]int{2, 1, 0}[i]]; c > 0 {
					out = append(out, hostfns.StatsRow{Minute: minute, Key: k, Count: c})
				}
			}
			continue
		}
		var packed string
		if err := rows.Scan(&minute, &packed); err != nil {
			return nil, unavailable("stats", err)
		}
		// One record per (type, outcome) row of the minute (of every
		// tenant): summed by type here.
		from := len(out)
		for rec := range strings.SplitSeq(packed, "\x1e") {
			k, n, ok := strings.Cut(rec, "\x1f")
			c, err := strconv.ParseInt(n, 10, 64)
			if !ok || err != nil {
				return nil, unavailable("stats", fmt.Errorf("minute %s: malformed counts %q", minute, rec))
			}
			if i := slices.IndexFunc(out[from:], func(r hostfns.StatsRow) bool { return r.Key == k }); i >= 0 {
				out[from+i].Count += c
				continue
			}
			out = append(out, hostfns.StatsRow{Minute: minute, Key: k, Count: c})
		}
		slices.SortFunc(out[from:], func(a, b hostfns.StatsRow) int { return strings.Compare(a.Key, b.Key) })
	}
	if err := rows.Err(); err != nil {
		return nil, unavailable("stats", err)
	}
	return out, nil
}
