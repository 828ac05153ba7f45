package main

import (
	"crypto/rand"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/stigaudit/stigaudit/core/event"
	"github.com/stigaudit/stigaudit/hostfns/pgstore"
	"github.com/stigaudit/stigaudit/hostfns/pgstore/pgtest"
	"github.com/stigaudit/stigaudit/server/tlog"
)

// pgLog is a PostgreSQL log made the way serve makes one: events appended
// through pgstore, checkpoints signed by a Checkpointer and stored by the
// elected replica.
type pgLog struct {
	t    testing.TB
	dsn  string
	vkey string
}

// newPgLog appends n events to a new schema (in steps, signing a
// checkpoint after each). It skips the test without STIGAUDIT_TEST_PG_DSN.
func newPgLog(t testing.TB, n int, steps []int) *pgLog {
	t.Helper()
	dsn := pgtest.DSN(t)
	st, err := pgstore.Open(bg, dsn, pgstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	leader := st.NewLeader("checkpointer", pgstore.LeaderOptions{Logger: slog.New(slog.DiscardHandler)})
	defer leader.Close()
	<-leader.Settled()
	if !leader.IsLeader() {
		t.Fatal("the only store is not elected")
	}
	key, err := tlog.LoadOrCreateKey(t.TempDir(), "", rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	cp, err := tlog.New(bg, tlog.Config{Tree: st, Checkpoints: st.Checkpoints(leader), Key: key})
	if err != nil {
		t.Fatal(err)
	}
	done := 0
	for _, upTo := range append(steps, n) {
		for done < upTo {
			k := min(upTo-done, 1000)
			if _, err := st.Append(bg, testEvents(done, k, nil)); err != nil {
				t.Fatal(err)
			}
			done += k
		}
		if s, err := cp.Sync(bg); err != nil || s.Size != uint64(upTo) {
			t.Fatalf("signing size %d: %v (signed %d)", upTo, err, s.Size)
		}
	}
	return &pgLog{t: t, dsn: dsn, vkey: key.VerifierKey}
}

// sql runs statements as a superuser connected to the database directly
// (not through the server), with every trigger off: what an attacker who
// holds the database can do.
func (l *pgLog) sql(stmts ...string) {
	l.t.Helper()
	l.exec(append([]string{`SET session_replication_role = replica`}, stmts...)...)
}

// exec runs statements on one connection, with the database's guards on.
func (l *pgLog) exec(stmts ...string) {
	l.t.Helper()
	conn, err := pgx.Connect(bg, l.dsn)
	if err != nil {
		l.t.Fatal(err)
	}
	defer conn.Close(bg)
	for _, s := range stmts {
		if _, err := conn.Exec(bg, s); err != nil {
			l.t.Fatalf("%s: %v", s, err)
		}
	}
}

// checkpointOfSize writes the stored checkpoint of that size to a file.
func (l *pgLog) checkpointOfSize(size int) string {
	l.t.Helper()
	conn, err := pgx.Connect(bg, l.dsn)
	if err != nil {
		l.t.Fatal(err)
	}
	defer conn.Close(bg)
	var note string
	if err := conn.QueryRow(bg, `SELECT note FROM checkpoints WHERE tree_size = $1`, size).Scan(&note); err != nil {
		l.t.Fatalf("checkpoint of size %d: %v", size, err)
	}
	path := filepath.Join(l.t.TempDir(), fmt.Sprintf("checkpoint-%d.txt", size))
	if err := os.WriteFile(path, []byte(note), 0o644); err != nil {
		l.t.Fatal(err)
	}
	return path
}

func TestVerifyPostgresAcceptsAnUntouchedLog(t *testing.T) {
	l := newPgLog(t, 1500, []int{100, 1024})
	old := l.checkpointOfSize(100)
	for _, args := range [][]string{
		{"--db", l.dsn},
		{"--db", l.dsn, "--since-checkpoint", old},
		{"--db", l.dsn, "--checkpoint", l.checkpointOfSize(1024), "--allow-tail"},
	} {
		code, out, errOut := cli(t, append([]string{"verify", "--key", l.vkey}, args...)...)
		if code != 0 || !strings.HasPrefix(out, "OK: 1") || strings.Count(out, "\n") != 1 {
			t.Errorf("verify %v: exit %d\nstdout %q\nstderr %q", args, code, out, errOut)
		}
		if !strings.Contains(out, "1500 events match") && !strings.Contains(out, "476 later events") {
			t.Errorf("verify %v: %q does not count the whole log", args, out)
		}
	}
	// Without --db or --ndjson, verify reads the server's database.
	t.Setenv("STIGAUDIT_DATABASE_URL", l.dsn)
	if code, out, errOut := cli(t, "verify", "--key", l.vkey); code != 0 || !strings.Contains(out, "1500 events match") {
		t.Errorf("verify with STIGAUDIT_DATABASE_URL: exit %d\nstdout %q\nstderr %q", code, out, errOut)
	}
	// The connection is read-only: verify cannot have changed anything,
	// and says nothing about the credentials in the URL.
	if code, _, errOut := cli(t, "verify", "--key", l.vkey, "--db", "postgres://someone:s3cret@127.0.0.1:1/nowhere?connect_timeout=2"); code != 1 || strings.Contains(errOut, "s3cret") {
		t.Errorf("an unreachable database: exit %d, %q", code, errOut)
	}
}

// TestVerifyPostgresLocatesTampering: each change made behind the server's
// back is caught against the signed checkpoint and named by its seq, as
// on SQLite.
func TestVerifyPostgresLocatesTampering(t *testing.T) {
	const n = 300
	e := testEvents(n, 1, nil)[0]
	rewritten := testEvents(141, 1, func(e *event.Event) { e.Detail = []byte(`{"n":142}`) })[0]
	for _, tc := range []struct {
		name   string
		tamper []string
		seq    int64
		reason string // several, separated by |, when the range may be two seqs wide
	}{
		{"a changed byte in detail", []string{
			`UPDATE events SET detail = replace(detail, '"n":141', '"n":142') WHERE seq = 141`,
		}, 141, "leaf_mismatch"},
		{"a changed byte with its leaf hash recomputed", []string{
			// The stored tree nodes still locate the change.
			fmt.Sprintf(`UPDATE events SET detail = '%s', leaf_hash = '\x%x' WHERE seq = 141`, rewritten.Detail, rewritten.LeafHash),
		}, 141, "tree_node_mismatch|root_mismatch"},
		{"a deleted row", []string{
			`DELETE FROM events WHERE seq = 77`,
		}, 77, "seq_gap"},
		{"a row appended behind the server's back", []string{
			fmt.Sprintf(`INSERT INTO events (seq, id, event_type, ts, tenant_id, entity_uri, source, outcome, leaf_hash)
				VALUES (%d, '%s', '%s', '%s', '%s', '%s', '%s', '%s', '\x%x')`,
				n, e.ID, e.Type, e.TS, e.Tenant, e.EntityURI, e.Source, e.Outcome, e.LeafHash),
		}, n, "beyond_checkpoint"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := newPgLog(t, n, []int{200})
			l.sql(tc.tamper...)
			code, out, errOut := cli(t, "verify", "--db", l.dsn, "--key", l.vkey)
			if code != 1 || out != "" {
				t.Fatalf("exit %d, stdout %q, stderr %q", code, out, errOut)
			}
			t.Log(strings.TrimSpace(errOut))
			o := parseFailure(t, errOut)
			if exact := !strings.Contains(tc.reason, "|"); exact && (o.first != tc.seq || o.until != tc.seq+1 || o.reason != tc.reason) ||
				!exact && (o.first > tc.seq || o.until <= tc.seq || o.until-o.first > 2 || !slices.Contains(strings.Split(tc.reason, "|"), o.reason)) {
				t.Fatalf("named %+v, want seq %d (%s)", o, tc.seq, tc.reason)
			}
		})
	}
}

// TestVerifyPostgresAcceptsPurgedEvents: a retention purge (the one change
// the database allows) keeps the log verifiable; a purged row's kept leaf
// hash still binds it.
func TestVerifyPostgresAcceptsPurgedEvents(t *testing.T) {
	l := newPgLog(t, 300, nil)
	l.exec(purgeSQL)
	code, out, errOut := cli(t, "verify", "--key", l.vkey, "--db", l.dsn)
	if code != 0 || !strings.Contains(out, "10 purged events (seq 10..19)") {
		t.Fatalf("verify after a purge: exit %d\nstdout %q\nstderr %q", code, out, errOut)
	}
	l.sql(`UPDATE events SET leaf_hash = '\x` + strings.Repeat("00", 32) + `' WHERE seq = 15`)
	code, out, errOut = cli(t, "verify", "--key", l.vkey, "--db", l.dsn)
	if code != 1 {
		t.Fatalf("a rewritten leaf hash of a purged event passed: %q", out)
	}
	if o := parseFailure(t, errOut); o.first > 15 || o.until <= 15 || o.until-o.first > 2 {
		t.Errorf("failure %+v does not locate seq 15", o)
	}
}
