package sqlitestore_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/stigaudit/stigaudit/hostfns"
	"github.com/stigaudit/stigaudit/hostfns/sqlitestore"
	"github.com/stigaudit/stigaudit/hostfns/storetest"
	"github.com/stigaudit/stigaudit/migrations"
)

// A log written before migration 0009 gets its counts when the migration
// is applied (stigaudit migrate opens the store, which applies it): the
// rollup is dropped and the migration forgotten, then the store is
// opened again, and every count is back.
func TestStatsRebuiltByMigration(t *testing.T) {
	ctx := context.Background()
	s, path := open(t, sqlitestore.Options{})
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

	latest, err := migrations.Latest(migrations.SQLiteFiles())
	if err != nil {
		t.Fatal(err)
	}
	if latest != 9 {
		t.Fatalf("the test forgets migration 9, the latest is %d: forget the later ones too", latest)
	}
	db := rawDB(t, path)
	for _, stmt := range []string{
		`DROP TABLE stats_minutes`,
		`DELETE FROM schema_migrations WHERE version = 9`,
	} {
		if _, err := db.Exec(stmt); err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
	}
	db.Close()

	s2, err := sqlitestore.Open(path, sqlitestore.Options{})
	if err != nil {
		t.Fatalf("Open (applies the migrations): %v", err)
	}
	defer s2.Close()
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
