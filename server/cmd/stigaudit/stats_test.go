package main

import (
	"context"
	"database/sql"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/stigaudit/stigaudit/hostfns"
	"github.com/stigaudit/stigaudit/hostfns/sqlitestore"
	"github.com/stigaudit/stigaudit/hostfns/storetest"
)

// `stigaudit migrate` gives a log written before the stats rollup its
// counts: the rollup is dropped and its migration forgotten, as in a log
// of an earlier release, and migrate brings every count back.
func TestMigrateRebuildsStats(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	path := filepath.Join(dir, DBFile)
	s, err := sqlitestore.Open(path, sqlitestore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	evs := storetest.StatsEvents(1000, 3)
	for i := 0; i < len(evs); i += 50 {
		if _, err := s.Append(ctx, evs[i:i+50]); err != nil {
			t.Fatal(err)
		}
	}
	base := time.Date(2026, 6, 1, 10, 0, 0, 0, time.UTC)
	q := hostfns.StatsQuery{Group: hostfns.GroupEventType, Since: storetest.Minute(base), Until: storetest.Minute(base.Add(3 * time.Hour))}
	want, err := s.Stats(ctx, q)
	if err != nil || len(want) == 0 {
		t.Fatalf("Stats = %d rows, %v", len(want), err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	for _, stmt := range []string{`DROP TABLE stats_minutes`, `DELETE FROM schema_migrations WHERE name = 'stats_minutes'`} {
		if _, err := db.Exec(stmt); err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
	}
	db.Close()

	if code, _, stderr := cli(t, "migrate", "--data-dir", dir); code != 0 {
		t.Fatalf("migrate: %d %s", code, stderr)
	}
	s, err = sqlitestore.Open(path, sqlitestore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	got, err := s.Stats(ctx, q)
	if err != nil || !slices.Equal(got, want) {
		t.Fatalf("Stats after migrate = %d rows (%v), before %d", len(got), err, len(want))
	}
}
