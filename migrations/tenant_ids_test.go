package migrations_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"testing/fstest"

	_ "github.com/jackc/pgx/v5/stdlib"

	"github.com/stigaudit/stigaudit/hostfns/pgstore/pgtest"
	"github.com/stigaudit/stigaudit/migrations"
)

// upTo returns the migrations of fsys numbered below version.
func upTo(t *testing.T, fsys fs.FS, version int) fs.FS {
	t.Helper()
	ms, err := migrations.List(fsys)
	if err != nil {
		t.Fatal(err)
	}
	out := fstest.MapFS{}
	for _, m := range ms {
		if m.Version < version {
			out[fmt.Sprintf("%04d_%s.sql", m.Version, m.Name)] = &fstest.MapFile{Data: []byte(m.SQL)}
		}
	}
	return out
}

// versionOf returns the number of the migration called name.
func versionOf(t *testing.T, fsys fs.FS, name string) int {
	t.Helper()
	ms, err := migrations.List(fsys)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range ms {
		if m.Name == name {
			return m.Version
		}
	}
	t.Fatalf("no migration %s", name)
	return 0
}

type row struct {
	seq              int64
	id, tenant, hash string
}

func rows(t *testing.T, db *sql.DB) []row {
	t.Helper()
	rs, err := db.Query(`SELECT seq, id, tenant_id, leaf_hash FROM events ORDER BY seq`)
	if err != nil {
		t.Fatal(err)
	}
	defer rs.Close()
	var out []row
	for rs.Next() {
		var r row
		var h []byte
		if err := rs.Scan(&r.seq, &r.id, &r.tenant, &h); err != nil {
			t.Fatal(err)
		}
		r.hash = string(h)
		out = append(out, r)
	}
	return out
}

func names(t *testing.T, db *sql.DB, query string) []string {
	t.Helper()
	rs, err := db.Query(query)
	if err != nil {
		t.Fatal(err)
	}
	defer rs.Close()
	var out []string
	for rs.Next() {
		var s string
		if err := rs.Scan(&s); err != nil {
			t.Fatal(err)
		}
		out = append(out, s)
	}
	slices.Sort(out)
	return out
}

const (
	idA = "0196a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b"
	idB = "0196a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5c"
)

// TestTenantScopedIDsSQLite migrates a SQLite database holding events to
// tenant-scoped ids: every row kept, every index and trigger of events kept
// (by name and definition, but the id trigger), the same id now storable in
// another tenant and still refused in its own, and the table still
// append-only.
func TestTenantScopedIDsSQLite(t *testing.T) {
	ctx := context.Background()
	all := migrations.SQLiteFiles()
	v := versionOf(t, all, "tenant_scoped_ids")
	db := openDB(t, filepath.Join(t.TempDir(), "old.db"))
	if err := migrations.Apply(ctx, db, upTo(t, all, v), migrations.SQLite); err != nil {
		t.Fatal(err)
	}
	insert := `INSERT INTO events (seq, id, event_type, ts, tenant_id, entity_uri, outcome, leaf_hash, scope, oidc_sub)
		VALUES (?, ?, 'fact_write', '2026-05-03T12:00:00.000000Z', ?, 'urn:a', 'success', ?, 's', 'o')`
	hash := func(b byte) []byte { return []byte(strings.Repeat(string(rune(b)), 32)) }
	for i, r := range []struct{ id, tenant string }{{idA, "acme"}, {idB, "acme"}, {idA, "other"}} {
		_, err := db.Exec(insert, i, r.id, r.tenant, hash(byte('a'+i)))
		if i == 2 {
			if err == nil {
				t.Fatal("before the migration the same id was storable in another tenant")
			}
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	const objects = `SELECT name || ': ' || sql FROM sqlite_master WHERE tbl_name = 'events' AND sql IS NOT NULL AND name <> 'events'`
	before, beforeRows := names(t, db, objects), rows(t, db)

	if err := migrations.Apply(ctx, db, all, migrations.SQLite); err != nil {
		t.Fatalf("migrating: %v", err)
	}
	if got := rows(t, db); !slices.Equal(got, beforeRows) {
		t.Fatalf("rows after the migration %v, before %v", got, beforeRows)
	}
	after := names(t, db, objects)
	norm := func(ss []string) []string {
		var out []string
		for _, s := range ss {
			if strings.HasPrefix(s, "events_id_once:") {
				continue // rewritten for tenants
			}
			out = append(out, strings.Join(strings.Fields(s), " "))
		}
		return out
	}
	if !slices.Equal(norm(after), norm(before)) {
		t.Errorf("indexes and triggers of events changed:\nbefore %q\nafter  %q", norm(before), norm(after))
	}
	if len(after) != len(before) {
		t.Errorf("%d objects on events after, %d before", len(after), len(before))
	}

	if _, err := db.Exec(insert, 2, idA, "other", hash('c')); err != nil {
		t.Fatalf("the same id in another tenant: %v", err)
	}
	if _, err := db.Exec(insert, 3, idA, "acme", hash('d')); err == nil {
		t.Fatal("the same id stored twice in one tenant")
	}
	if _, err := db.Exec(strings.Replace(insert, "INSERT", "INSERT OR REPLACE", 1), 3, idA, "acme", hash('d')); err == nil {
		t.Fatal("INSERT OR REPLACE of a stored (tenant, id)")
	}
	for _, stmt := range []string{`UPDATE events SET outcome = 'denied' WHERE seq = 0`, `DELETE FROM events WHERE seq = 0`,
		`INSERT INTO events (seq, id, event_type, ts, tenant_id, entity_uri, outcome, leaf_hash) VALUES (9, 'x', 't', 'ts', 'a', 'u', 'success', zeroblob(32))`} {
		if _, err := db.Exec(stmt); err == nil || !strings.Contains(err.Error(), "stigaudit:") {
			t.Errorf("%s: %v, want the append-only refusal", stmt, err)
		}
	}
	// A trigger of another table that reads events still works.
	if _, err := db.Exec(`INSERT INTO tree_nodes (level, idx, hash) VALUES (3, 0, zeroblob(32))`); err == nil || !strings.Contains(err.Error(), "not stored") {
		t.Errorf("tree_nodes_complete after the rebuild: %v", err)
	}
}

// TestTenantScopedIDsPostgres is the same migration on PostgreSQL.
func TestTenantScopedIDsPostgres(t *testing.T) {
	ctx := context.Background()
	db, err := sql.Open("pgx", pgtest.DSN(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	all := migrations.PostgresFiles()
	v := versionOf(t, all, "tenant_scoped_ids")
	if err := migrations.Apply(ctx, db, upTo(t, all, v), migrations.Postgres); err != nil {
		t.Fatal(err)
	}
	appendOne := func(id, tenant string, b byte) error {
		arr := func(s string) []string { return []string{s} }
		var first int64
		err := db.QueryRow(`SELECT stigaudit_append($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)`,
			arr(id), arr("fact_write"), arr("2026-05-03T12:00:00.000000Z"), []*string{nil}, arr(tenant), arr("urn:a"),
			[]*string{nil}, []*string{nil}, []*string{nil}, arr(""), []*string{nil}, []*string{nil}, arr("success"), []*string{nil},
			[][]byte{[]byte(strings.Repeat(string(rune(b)), 32))}).Scan(&first)
		if err == nil && first < 0 {
			err = errors.New("stigaudit_append: the id is stored")
		}
		return err
	}
	if err := appendOne(idA, "acme", 'a'); err != nil {
		t.Fatal(err)
	}
	if err := appendOne(idB, "acme", 'b'); err != nil {
		t.Fatal(err)
	}
	if err := appendOne(idA, "other", 'c'); err == nil {
		t.Fatal("before the migration the same id was storable in another tenant")
	}
	const objects = `SELECT indexname || ': ' || indexdef FROM pg_indexes WHERE tablename = 'events' AND schemaname = current_schema()
		UNION ALL SELECT tgname FROM pg_trigger WHERE tgrelid = 'events'::regclass AND NOT tgisinternal`
	before, beforeRows := names(t, db, objects), rows(t, db)
	// This migration alone: later ones add their own objects on events
	// (0010's events_count trigger).
	if err := migrations.Apply(ctx, db, upTo(t, all, v+1), migrations.Postgres); err != nil {
		t.Fatalf("migrating: %v", err)
	}
	if got := rows(t, db); !slices.Equal(got, beforeRows) {
		t.Fatalf("rows after the migration %v, before %v", got, beforeRows)
	}
	after := names(t, db, objects)
	var kept []string
	for _, s := range before {
		if !strings.HasPrefix(s, "events_id_key:") {
			kept = append(kept, s)
		}
	}
	for _, s := range kept {
		if !slices.Contains(after, s) {
			t.Errorf("lost by the migration: %s", s)
		}
	}
	if !slices.ContainsFunc(after, func(s string) bool { return strings.HasPrefix(s, "events_id_tenant_key: CREATE UNIQUE INDEX") }) || len(after) != len(kept)+1 {
		t.Errorf("after the migration: %q", after)
	}
	if err := appendOne(idA, "other", 'c'); err != nil {
		t.Fatalf("the same id in another tenant: %v", err)
	}
	if err := appendOne(idA, "acme", 'd'); err == nil {
		t.Fatal("the same id stored twice in one tenant")
	}
	if _, err := db.Exec(`UPDATE events SET outcome = 'denied' WHERE seq = 0`); err == nil {
		t.Error("UPDATE after the migration")
	}
}
