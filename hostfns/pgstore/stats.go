package pgstore

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/stigaudit/stigaudit/hostfns"
	"github.com/stigaudit/stigaudit/hostfns/sqlquery"
)

// Stats returns the counts of events per minute of [q.Since, q.Until),
// grouped by q.Group, in (minute, key) order. Counts by tenant, event type
// and outcome are read from the rollup stats_minutes (migration 0010),
// which the events insert trigger keeps; counts for one entity or by
// entity from the events table, through the (tenant_id, ts) index
// (docs/decisions.md §34).
func (s *Store) Stats(ctx context.Context, q hostfns.StatsQuery) ([]hostfns.StatsRow, error) {
	if err := q.Check(); err != nil {
		return nil, fmt.Errorf("pgstore: stats: %w", err)
	}
	query, args := buildStats(q)
	rows, err := s.pool.Query(ctx, query, args...)
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

// buildStats turns q (checked) into SQL with $n placeholders and its
// arguments.
func buildStats(q hostfns.StatsQuery) (string, []any) {
	var args []any
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	var where []string
	if q.Tenant != "" {
		where = append(where, "tenant_id = "+arg(q.Tenant))
	}
	if !q.FromEvents() {
		where = append(where, "minute >= "+arg(q.Since), "minute < "+arg(q.Until))
		return `SELECT minute, ` + q.Group + `, SUM(n)::bigint FROM stats_minutes WHERE ` + strings.Join(where, " AND ") +
			` GROUP BY minute, ` + q.Group + ` ORDER BY minute COLLATE "C", ` + q.Group + ` COLLATE "C"`, args
	}
	if q.EntityURI != "" {
		where = append(where, "entity_uri = "+arg(q.EntityURI))
	}
	where = append(where, "ts >= "+arg(sqlquery.MinuteTS(q.Since)), "ts < "+arg(sqlquery.MinuteTS(q.Until)),
		"seq < "+sqlDurableSize) // only the durable prefix, as Query
	return `SELECT substr(ts, 1, 16) AS minute, ` + q.Group + ` AS k, count(*) FROM events WHERE ` + strings.Join(where, " AND ") +
		` GROUP BY 1, 2 ORDER BY substr(ts, 1, 16) COLLATE "C", ` + q.Group + ` COLLATE "C"`, args
}
