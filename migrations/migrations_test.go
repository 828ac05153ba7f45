package migrations_test

import (
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"

	_ "modernc.org/sqlite"

	"github.com/stigaudit/stigaudit/core/auditerr"
	"github.com/stigaudit/stigaudit/migrations"
)

func openDB(t *testing.T, path string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?_busy_timeout=5000")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func version(t *testing.T, db *sql.DB) int {
	t.Helper()
	v, err := migrations.Current(context.Background(), db, migrations.SQLite)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestEmbeddedSQLite(t *testing.T) {
	ctx := context.Background()
	latest, err := migrations.Latest(migrations.SQLiteFiles())
	if err != nil {
		t.Fatal(err)
	}
	if latest < 1 {
		t.Fatalf("Latest = %d, want >= 1", latest)
	}
	path := filepath.Join(t.TempDir(), "a.db")

	db := openDB(t, path)
	if got := version(t, db); got != 0 {
		t.Fatalf("fresh database at version %d, want 0", got)
	}
	if err := migrations.Apply(ctx, db, migrations.SQLiteFiles(), migrations.SQLite); err != nil {
		t.Fatalf("first Apply: %v", err)
	}
	if got := version(t, db); got != latest {
		t.Fatalf("after Apply version %d, want %d", got, latest)
	}
	for _, table := range []string{"events", "tree_nodes", "api_keys", "schema_migrations"} {
		var n int
		if err := db.QueryRow(`SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?`, table).Scan(&n); err != nil || n != 1 {
			t.Errorf("table %s: count %d, err %v", table, n, err)
		}
	}
	db.Close()

	// Re-open: applying again changes nothing and records nothing twice.
	db = openDB(t, path)
	if err := migrations.Apply(ctx, db, migrations.SQLiteFiles(), migrations.SQLite); err != nil {
		t.Fatalf("second Apply: %v", err)
	}
	var rows int
	if err := db.QueryRow(`SELECT count(*) FROM schema_migrations`).Scan(&rows); err != nil {
		t.Fatal(err)
	}
	if rows != latest {
		t.Fatalf("schema_migrations has %d rows, want %d", rows, latest)
	}

	// A database from the future is refused and left alone.
	if _, err := db.Exec(`INSERT INTO schema_migrations (version, name, applied_at) VALUES (9999, 'future', '2030-01-01T00:00:00.000000Z')`); err != nil {
		t.Fatal(err)
	}
	err = migrations.Apply(ctx, db, migrations.SQLiteFiles(), migrations.SQLite)
	if !errors.Is(err, auditerr.ErrSchemaTooNew) {
		t.Fatalf("Apply on version 9999: %v, want ErrSchemaTooNew", err)
	}
	if !strings.Contains(err.Error(), "upgrade") || !strings.Contains(err.Error(), "9999") {
		t.Errorf("error does not say what to do: %v", err)
	}
}

func TestApplyFS(t *testing.T) {
	ctx := context.Background()
	good := fstest.MapFS{
		"0001_a.sql":  {Data: []byte("CREATE TABLE a (x INTEGER); CREATE TABLE a2 (y INTEGER);")},
		"0002_b.sql":  {Data: []byte("CREATE TABLE b (x INTEGER);")},
		"README.md":   {Data: []byte("ignored")},
		"sub/9_x.sql": {Data: []byte("ignored: not at the root")},
	}
	tests := []struct {
		name    string
		fsys    fstest.MapFS
		want    int    // version after Apply
		wantErr string // substring of the error, "" for none
	}{
		{"applies in order", good, 2, ""},
		{"empty", fstest.MapFS{}, 0, ""},
		{"gap", fstest.MapFS{"0001_a.sql": good["0001_a.sql"], "0003_c.sql": good["0002_b.sql"]}, 0, "contiguous"},
		{"bad name", fstest.MapFS{"1_a.sql": good["0001_a.sql"]}, 0, "NNNN_name.sql"},
		{"failure keeps earlier versions", fstest.MapFS{
			"0001_a.sql": good["0001_a.sql"],
			"0002_b.sql": {Data: []byte("CREATE TABLE b (x INTEGER); CREATE TABLE nope (;")},
		}, 1, "0002_b"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			db := openDB(t, filepath.Join(t.TempDir(), "t.db"))
			err := migrations.Apply(ctx, db, tc.fsys, migrations.SQLite)
			if tc.wantErr == "" && err != nil {
				t.Fatalf("Apply: %v", err)
			}
			if tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
				t.Fatalf("Apply: %v, want error containing %q", err, tc.wantErr)
			}
			if got := version(t, db); got != tc.want {
				t.Fatalf("version %d, want %d", got, tc.want)
			}
			if tc.name == "applies in order" {
				var n int
				db.QueryRow(`SELECT count(*) FROM sqlite_master WHERE name IN ('a', 'a2', 'b')`).Scan(&n)
				if n != 3 {
					t.Fatalf("%d of tables a, a2, b exist: every statement of a file must run", n)
				}
			}
			if tc.name == "failure keeps earlier versions" {
				var n int
				db.QueryRow(`SELECT count(*) FROM sqlite_master WHERE name = 'b'`).Scan(&n)
				if n != 0 {
					t.Fatal("table b of the failed migration exists: the migration was not atomic")
				}
			}
		})
	}
}

func TestUnknownDialect(t *testing.T) {
	db := openDB(t, filepath.Join(t.TempDir(), "t.db"))
	if err := migrations.Apply(context.Background(), db, fstest.MapFS{}, "oracle"); err == nil {
		t.Fatal("Apply with an unknown dialect succeeded")
	}
}
