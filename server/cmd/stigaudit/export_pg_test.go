package main

import (
	"crypto/rand"
	"log/slog"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/stigaudit/stigaudit/hostfns/pgstore"
	"github.com/stigaudit/stigaudit/hostfns/pgstore/pgtest"
	"github.com/stigaudit/stigaudit/server/tlog"
)

// pgExportLog is a PostgreSQL log as serve replicas leave it, with the
// data directory of one of them (its checkpoint.key).
type pgExportLog struct {
	t       *testing.T
	dsn     string
	dataDir string
	vkey    string
}

// newPgExportLog appends n events to a new schema; when signed > 0 the
// elected checkpointer stores a checkpoint of that size first, so the last
// n-signed events are not covered yet. It skips the test without
// STIGAUDIT_TEST_PG_DSN.
func newPgExportLog(t *testing.T, n, signed int) *pgExportLog {
	t.Helper()
	l := &pgExportLog{t: t, dsn: pgtest.DSN(t), dataDir: t.TempDir()}
	key, err := tlog.LoadOrCreateKey(l.dataDir, "", rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	l.vkey = key.VerifierKey
	st, err := pgstore.Open(bg, l.dsn, pgstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if signed > 0 {
		if _, err := st.Append(bg, testEvents(0, signed, nil)); err != nil {
			t.Fatal(err)
		}
		leader := st.NewLeader(checkpointerRole, pgstore.LeaderOptions{Logger: slog.New(slog.DiscardHandler)})
		defer leader.Close()
		<-leader.Settled()
		if !leader.IsLeader() {
			t.Fatal("the only store is not elected")
		}
		cp, err := tlog.New(bg, tlog.Config{Tree: st, Checkpoints: st.Checkpoints(leader), Key: key})
		if err != nil {
			t.Fatal(err)
		}
		if s, err := cp.Sync(bg); err != nil || s.Size != uint64(signed) {
			t.Fatalf("signing size %d: %v (signed %d)", signed, err, s.Size)
		}
	}
	if _, err := st.Append(bg, testEvents(signed, n-signed, nil)); err != nil {
		t.Fatal(err)
	}
	return l
}

// export runs a local `stigaudit export --format ndjson` on the log.
func (l *pgExportLog) export(args ...string) (code int, stdout, stderr string) {
	l.t.Helper()
	return cli(l.t, append([]string{"export", "--format", "ndjson", "--data-dir", l.dataDir, "--database-url", l.dsn}, args...)...)
}

// storedSize is the size of the latest stored checkpoint, -1 for none.
func (l *pgExportLog) storedSize() int64 {
	l.t.Helper()
	conn, err := pgx.Connect(bg, l.dsn)
	if err != nil {
		l.t.Fatal(err)
	}
	defer conn.Close(bg)
	var size int64
	if err := conn.QueryRow(bg, `SELECT COALESCE(max(tree_size), -1) FROM checkpoints`).Scan(&size); err != nil {
		l.t.Fatal(err)
	}
	return size
}

// holdSignerRole takes the checkpoint signer's role as a serve replica's
// Leader would, until the test ends or the returned function is called.
func (l *pgExportLog) holdSignerRole() (release func()) {
	l.t.Helper()
	st, err := pgstore.Open(bg, l.dsn, pgstore.Options{})
	if err != nil {
		l.t.Fatal(err)
	}
	leader := st.NewLeader(checkpointerRole, pgstore.LeaderOptions{Interval: 50 * time.Millisecond, Logger: slog.New(slog.DiscardHandler)})
	<-leader.Settled()
	for deadline := time.Now().Add(10 * time.Second); !leader.IsLeader(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			l.t.Fatal("could not take the signer role")
		}
	}
	release = func() {
		leader.Close()
		st.Close()
	}
	l.t.Cleanup(release)
	return release
}

var exportedRE = regexp.MustCompile(`exported (\d+) events \(([^)]*)\) covered by checkpoint \S+ size (\d+)`)

// verifyExport checks stdout with `stigaudit verify --ndjson` and returns
// the number of events and the checkpoint size the export reported.
func (l *pgExportLog) verifyExport(stdout, stderr string) (events, size int64) {
	l.t.Helper()
	m := exportedRE.FindStringSubmatch(stderr)
	if m == nil {
		l.t.Fatalf("export did not report what it wrote: %q", stderr)
	}
	events, _ = strconv.ParseInt(m[1], 10, 64)
	size, _ = strconv.ParseInt(m[3], 10, 64)
	code, out, errOut := cli(l.t, "verify", "--ndjson", writeLines(l.t, strings.Split(strings.TrimSuffix(stdout, "\n"), "\n")), "--key", l.vkey)
	if code != 0 || !strings.HasPrefix(out, "OK: ") || !strings.Contains(out, "size "+m[3]+" ") {
		l.t.Fatalf("verify --ndjson of the export: exit %d\nstdout %q\nstderr %q", code, out, errOut)
	}
	return events, size
}

// TestExportPostgres: a local export of a PostgreSQL log verifies against
// the replicas' checkpoint key, whole or filtered (with inclusion proofs).
func TestExportPostgres(t *testing.T) {
	const n, signed = 250, 100
	for _, tc := range []struct {
		name       string
		args       []string
		viaEnv     bool  // the URL comes from STIGAUDIT_DATABASE_URL
		wantSize   int64 // checkpoint the export ends with
		wantEvents int64 // -1: some, fewer than wantSize
		wantProofs bool
	}{
		{"complete, signed by the export", nil, false, n, n, false},
		{"complete, URL from the environment", nil, true, n, n, false},
		{"filtered, with proofs", []string{"--tenant", "acme"}, false, n, -1, true},
		{"resumed, with proofs", []string{"--from", "200"}, false, n, n - 200, true},
		{"no-sign: up to the stored checkpoint", []string{"--no-sign"}, false, signed, signed, false},
		{"no-sign, filtered", []string{"--no-sign", "--event-type", "fact_write"}, false, signed, -1, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := newPgExportLog(t, n, signed)
			var code int
			var out, errOut string
			if tc.viaEnv {
				t.Setenv("STIGAUDIT_DATABASE_URL", l.dsn)
				code, out, errOut = cli(t, append([]string{"export", "--format", "ndjson", "--data-dir", l.dataDir}, tc.args...)...)
			} else {
				code, out, errOut = l.export(tc.args...)
			}
			if code != 0 {
				t.Fatalf("export: exit %d: %s", code, errOut)
			}
			events, size := l.verifyExport(out, errOut)
			if size != tc.wantSize {
				t.Errorf("export ends with checkpoint size %d, want %d", size, tc.wantSize)
			}
			if tc.wantEvents >= 0 && events != tc.wantEvents || tc.wantEvents < 0 && (events == 0 || events >= tc.wantSize) {
				t.Errorf("exported %d events, want %d of %d", events, tc.wantEvents, tc.wantSize)
			}
			lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
			if int64(len(lines)) != events+1 {
				t.Fatalf("%d lines for %d events and a trailer", len(lines), events)
			}
			for _, line := range lines[:events] {
				if strings.Contains(line, `"proof":`) != tc.wantProofs {
					t.Fatalf("proofs %v wanted, got line %s", tc.wantProofs, line)
				}
			}
			// What the export signed is stored, for the replicas to go on from.
			if got := l.storedSize(); got != tc.wantSize {
				t.Errorf("latest stored checkpoint has size %d, want %d", got, tc.wantSize)
			}
		})
	}
}

// TestExportPostgresLeavesSigningToTheElectedReplica: while a serve replica
// holds the signer role the export signs nothing and ends with the
// replica's latest checkpoint; once the role is free it signs the whole log.
func TestExportPostgresLeavesSigningToTheElectedReplica(t *testing.T) {
	const n, signed = 250, 100
	l := newPgExportLog(t, n, signed)
	release := l.holdSignerRole()
	code, out, errOut := l.export()
	if code != 0 {
		t.Fatalf("export beside a replica: exit %d: %s", code, errOut)
	}
	if !strings.Contains(errOut, "another process (a serve replica) signs the checkpoints") {
		t.Errorf("the export does not say why it ends before the log does: %q", errOut)
	}
	if events, size := l.verifyExport(out, errOut); events != signed || size != signed {
		t.Errorf("export beside a replica: %d events, checkpoint size %d; want %d, %d", events, size, signed, signed)
	}
	if got := l.storedSize(); got != signed {
		t.Fatalf("the export stored a checkpoint of size %d beside the elected replica", got)
	}

	release()
	code, out, errOut = l.export()
	if code != 0 {
		t.Fatalf("export with the role free: exit %d: %s", code, errOut)
	}
	if events, size := l.verifyExport(out, errOut); events != n || size != n {
		t.Errorf("export with the role free: %d events, checkpoint size %d; want %d", events, size, n)
	}

	// The role is the one serve replicas campaign for: while startSigning
	// runs, nobody else is elected.
	st, err := pgstore.Open(bg, l.dsn, pgstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	c := common{dataDir: l.dataDir}
	_, stop, err := c.startSigning(bg, "", "", nil, backend{dbStore: st, shared: st}, nil, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	probe := st.NewLeader(checkpointerRole, pgstore.LeaderOptions{Logger: slog.New(slog.DiscardHandler)})
	defer probe.Close()
	<-probe.Settled()
	if probe.IsLeader() {
		t.Fatalf("role %q is not the one serve's checkpointer holds", checkpointerRole)
	}
}

// TestExportPostgresWithoutCheckpoint: before a replica stored the first
// checkpoint the export fails and says what to do; it never signs the
// first one itself (that would pick the log's key for every replica).
func TestExportPostgresWithoutCheckpoint(t *testing.T) {
	l := newPgExportLog(t, 20, 0)
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"with the key", nil},
		{"no-sign", []string{"--no-sign"}},
		{"without the key", []string{"--data-dir", t.TempDir()}},
		{"filtered", []string{"--tenant", "acme"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := l.export(tc.args...)
			if code != 1 || out != "" {
				t.Fatalf("exit %d, stdout %q, stderr %q; want exit 1 and no output", code, out, errOut)
			}
			if !strings.Contains(errOut, "no checkpoint is stored in postgres://") || !strings.Contains(errOut, "stigaudit serve --database-url") {
				t.Errorf("unclear message: %q", errOut)
			}
			if got := l.storedSize(); got != -1 {
				t.Fatalf("the export stored a checkpoint of size %d", got)
			}
		})
	}
}

// TestExportUsageNamesPostgres: the help says where a local export reads
// from and how it signs on PostgreSQL; a database URL that is not
// PostgreSQL's is a usage error.
func TestExportUsageNamesPostgres(t *testing.T) {
	code, help, _ := cli(t, "export", "--help")
	if code != 0 {
		t.Errorf("export --help: exit %d", code)
	}
	for _, want := range []string{"--database-url postgres://", "PostgreSQL", "leader lock", "-no-sign"} {
		if !strings.Contains(help, want) {
			t.Errorf("export --help does not mention %q:\n%s", want, help)
		}
	}
	code, _, errOut := cli(t, "export", "--format", "ndjson", "--data-dir", t.TempDir(), "--database-url", "mysql://x/y")
	if code != 2 || !strings.Contains(errOut, "postgres://") {
		t.Errorf("a mysql:// URL: exit %d, %q", code, errOut)
	}
}
