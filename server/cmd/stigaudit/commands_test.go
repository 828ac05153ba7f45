package main

import (
	"database/sql"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stigaudit/stigaudit/migrations"
)

// The operator commands that had no test of their own: migrate, keys list
// and keys revoke, as an operator runs them.
func TestMigrateCommand(t *testing.T) {
	dir := t.TempDir()
	for range 2 { // a second run finds nothing to do and says the same
		code, _, stderr := cli(t, "migrate", "--data-dir", dir)
		if code != 0 || !strings.Contains(stderr, "migrations applied to "+filepath.Join(dir, DBFile)) {
			t.Fatalf("migrate: %d %s", code, stderr)
		}
	}
	db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, DBFile)+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var version, rows int
	if err := db.QueryRow(`SELECT max(version), count(*) FROM schema_migrations`).Scan(&version, &rows); err != nil {
		t.Fatal(err)
	}
	latest, err := migrations.Latest(migrations.SQLiteFiles())
	if err != nil {
		t.Fatal(err)
	}
	if version != latest || rows != latest {
		t.Fatalf("schema at version %d with %d rows; want every migration up to %d, each once", version, rows, latest)
	}
}

func TestKeysListAndRevokeCommands(t *testing.T) {
	dir := t.TempDir()
	code, plain, stderr := cli(t, "keys", "create", "--data-dir", dir, "--tenant", "acme", "--entity", "urn:svc:ingest", "--perm", "audit.write,read", "--label", "ingest")
	if code != 0 {
		t.Fatalf("keys create: %d %s", code, stderr)
	}
	m := regexp.MustCompile(`^sa_([0-9a-z]+)_`).FindStringSubmatch(strings.TrimSpace(plain))
	if m == nil {
		t.Fatalf("keys create printed %q", plain)
	}
	id := m[1]
	row := func() []string {
		t.Helper()
		code, out, stderr := cli(t, "keys", "list", "--data-dir", dir)
		if code != 0 {
			t.Fatalf("keys list: %d %s", code, stderr)
		}
		lines := strings.Split(strings.TrimSpace(out), "\n")
		if !strings.HasPrefix(lines[0], "KEY_ID") {
			t.Fatalf("keys list header: %q", lines[0])
		}
		for _, l := range lines[1:] {
			if f := strings.Fields(l); len(f) > 0 && f[0] == id {
				return f
			}
		}
		t.Fatalf("keys list does not show %s:\n%s", id, out)
		return nil
	}
	f := row()
	if f[1] != "acme" || f[2] != "urn:svc:ingest" || !strings.Contains(f[3], "audit.write") || !strings.Contains(strings.Join(f, " "), " - ") {
		t.Fatalf("keys list row before revoking: %q", f)
	}
	if code, _, stderr := cli(t, "keys", "revoke", "--data-dir", dir, id); code != 0 || !strings.Contains(stderr, "revoked "+id) {
		t.Fatalf("keys revoke: %d %s", code, stderr)
	}
	if f := row(); !regexp.MustCompile(`\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ .*\d{4}-\d\d-\d\dT`).MatchString(strings.Join(f, " ")) {
		t.Fatalf("keys list row after revoking shows no revocation time: %q", f)
	}
	if code, _, _ := cli(t, "keys", "revoke", "--data-dir", dir, "nosuchkey"); code == 0 {
		t.Fatal("revoking an unknown key id succeeded")
	}
	// Both are in the log, with the key id.
	db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, DBFile)+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, typ := range []string{"api_key_create", "api_key_revoke"} {
		var n int
		if err := db.QueryRow(`SELECT count(*) FROM events WHERE event_type = ? AND detail LIKE ?`, typ, `%"key_id":"`+id+`"%`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != 1 {
			t.Errorf("%d %s events for key %s; want 1", n, typ, id)
		}
	}
}

// TestServeRefusesAnOCSFClassItCannotRender: a catalogue whose operator
// type declares an OCSF class the encoder cannot render stops serve at
// start, naming the type; a class it renders is accepted (the server then
// starts; the test only checks it gets past the catalogue).
func TestServeRefusesAnOCSFClassItCannotRender(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.json")
	os.WriteFile(bad, []byte(`{"event_types":[{"name":"billing.refund","ocsf":{"class_uid":1001,"activity_id":1}}]}`), 0o644)
	code, _, stderr := cli(t, "serve", "--data-dir", filepath.Join(dir, "data"), "--listen", "127.0.0.1:0", "--catalogue", bad)
	if code == 0 || !strings.Contains(stderr, "billing.refund") || !strings.Contains(stderr, "1001") {
		t.Fatalf("serve with an OCSF class it cannot render: exit %d: %s", code, stderr)
	}
}
