package pgstore_test

import (
	"slices"
	"testing"
	"time"

	"github.com/stigaudit/stigaudit/hostfns"
	"github.com/stigaudit/stigaudit/hostfns/pgstore"
	"github.com/stigaudit/stigaudit/hostfns/pgstore/pgtest"
	"github.com/stigaudit/stigaudit/hostfns/storetest"
	"github.com/stigaudit/stigaudit/migrations"
)

// TestStatsConformance runs the stats contract over every way the store
// inserts events (the group commit's one statement, one transaction per
// event, the slow path): the trigger counts them all.
func TestStatsConformance(t *testing.T) {
	pgtest.DSN(t)
	for _, tc := range []struct {
		name string
		opts pgstore.Options
	}{
		{"GroupCommit", pgstore.Options{}},
		{"NoGroupCommit", pgstore.Options{MaxBatchEvents: 1}},
		{"SlowPath", pgstore.WithSlowPath(pgstore.Options{})},
	} {
		t.Run(tc.name, func(t *testing.T) {
			storetest.RunStats(t, func(t *testing.T) (storetest.StatsStore, storetest.Purger) {
				s := open(t, pgtest.DSN(t), tc.opts)
				return s, s.Purging()
			})
		})
	}
}

// A log written before migration 0010 gets its counts when the migration
// is applied (stigaudit migrate opens the store, which applies it): the
// rollup and its trigger are dropped and the migration forgotten, then the
// store is opened again, and every count is back.
func TestStatsRebuiltByMigration(t *testing.T) {
	dsn := pgtest.DSN(t)
	s := open(t, dsn, pgstore.Options{})
	evs := storetest.StatsEvents(2000, 11)
	for i := 0; i < len(evs); i += 100 {
		if _, err := s.Append(ctx, evs[i:i+100]); err != nil {
			t.Fatal(err)
		}
	}
	base := time.Date(2026, 6, 1, 10, 0, 0, 0, time.UTC)
	queries := []hostfns.StatsQuery{
		{Tenant: "acme", Group: hostfns.GroupEventType, Since: storetest.Minute(base), Until: storetest.Minute(base.Add(3 * time.Hour))},
		{Group: hostfns.GroupOutcome, Since: storetest.Minute(base.Add(time.Hour)), Until: storetest.Minute(base.Add(2 * time.Hour))},
	}
	var before [][]hostfns.StatsRow
	for _, q := range queries {
		rows, err := s.Stats(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		if len(rows) == 0 {
			t.Fatalf("Stats(%+v) is empty", q)
		}
		before = append(before, rows)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	if latest, err := migrations.Latest(migrations.PostgresFiles()); err != nil || latest != 10 {
		t.Fatalf("the test forgets migration 10, the latest is %d (%v): forget the later ones too", latest, err)
	}
	c := mustConn(t, dsn)
	for _, stmt := range []string{
		`DROP TRIGGER events_count ON events`,
		`DROP TABLE stats_minutes`,
		`DROP FUNCTION stigaudit_count_events(), stigaudit_stats_grow()`,
		`DELETE FROM schema_migrations WHERE version = 10`,
	} {
		if _, err := c.Exec(ctx, stmt); err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
	}

	s2 := open(t, dsn, pgstore.Options{})
	for i, q := range queries {
		rows, err := s2.Stats(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(rows, before[i]) {
			t.Errorf("Stats(%+v) after the migration rebuilt the rollup: %d rows, before %d", q, len(rows), len(before[i]))
		}
	}
}

// The database refuses to lower or delete a count, whoever connects.
func TestStatsCountsOnlyGrow(t *testing.T) {
	dsn := pgtest.DSN(t)
	s := open(t, dsn, pgstore.Options{})
	if _, err := s.Append(ctx, storetest.NewEvents(0, 8)); err != nil {
		t.Fatal(err)
	}
	c := mustConn(t, dsn)
	for _, stmt := range []string{
		`UPDATE stats_minutes SET n = n - 1`,
		`DELETE FROM stats_minutes`,
		`TRUNCATE stats_minutes`,
	} {
		if _, err := c.Exec(ctx, stmt); err == nil {
			t.Errorf("%s: no error", stmt)
		}
	}
}
