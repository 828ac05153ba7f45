package main

import (
	"bytes"
	"database/sql"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/transparency-dev/merkle/rfc6962"

	"github.com/stigaudit/stigaudit/core/event"
	"github.com/stigaudit/stigaudit/server/witness"
)

// witnessedLog is a server with two omniwitnesses and quorum 2 of 2.
type witnessedLog struct {
	t          *testing.T
	bin, dir   string
	vkey       string
	policyFile string
	policy     *witness.Policy
	w          []*omniwitness
	p          *serveProc
	admin      string
}

func newWitnessedLog(t *testing.T, quorum string) *witnessedLog {
	t.Helper()
	l := &witnessedLog{t: t, bin: buildBinary(t), dir: t.TempDir()}
	l.vkey = verifierKey(t, l.dir)
	origin := l.vkey[:strings.Index(l.vkey, "+")]
	l.w = []*omniwitness{startOmniwitness(t, origin, l.vkey, "witness.test/w1"), startOmniwitness(t, origin, l.vkey, "witness.test/w2")}
	text := fmt.Sprintf("log %s\nwitness w1 %s %s\nwitness w2 %s %s\ngroup both %s w1 w2\nquorum both\n",
		l.vkey, l.w[0].cosigVKey, l.w[0].url, l.w[1].cosigVKey, l.w[1].url, quorum)
	l.policyFile = filepath.Join(t.TempDir(), "policy")
	os.WriteFile(l.policyFile, []byte(text), 0o644)
	var err error
	if l.policy, err = witness.ParsePolicy([]byte(text)); err != nil {
		t.Fatal(err)
	}
	l.start()
	l.admin = readAdminKey(t, l.dir)
	return l
}

func (l *witnessedLog) start() { l.p = startServe(l.t, l.bin, l.dir, "--witness-policy", l.policyFile) }

func (l *witnessedLog) emit(n int) {
	l.t.Helper()
	for range n {
		if code, b := emitHTTP(l.t, l.p.url, l.admin, criticalEvent); code != 201 {
			l.t.Fatalf("emit: %d %s", code, b)
		}
	}
}

// waitWitnessed waits for a served checkpoint covering size that meets the
// quorum, and returns it.
func (l *witnessedLog) waitWitnessed(size uint64) []byte {
	l.t.Helper()
	for start := time.Now(); time.Since(start) < 20*time.Second; time.Sleep(100 * time.Millisecond) {
		code, b := getCheckpoint(l.t, l.p, l.admin, "")
		if code == 200 && servedSize(b) >= size && l.policy.Satisfied(b) {
			return b
		}
	}
	l.t.Fatalf("no witnessed checkpoint of size %d within 20 s\n%s", size, l.p.stderr)
	return nil
}

// readyz returns /readyz's status and body.
func (l *witnessedLog) readyz() (int, string) {
	resp, err := http.Get(l.p.url + "/readyz")
	if err != nil {
		l.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// metric returns the sum of a counter's series whose labels contain want.
func (l *witnessedLog) metric(name, want string) float64 {
	l.t.Helper()
	return metricSum(l.t, l.p.url, name, want)
}

// servedSize is a served checkpoint's tree size, 0 for anything else.
func servedSize(b []byte) uint64 {
	lines := strings.SplitN(string(b), "\n", 3)
	if len(lines) < 2 {
		return 0
	}
	n, _ := strconv.ParseUint(lines[1], 10, 64)
	return n
}

// rewriteHistory does what an insider with the data directory does: with
// the server stopped, it rewrites one event's detail, re-hashes its leaf,
// rebuilds every tree node over it, and removes the checkpoints that
// remember the old tree (the database's rows and the pinned file). The
// server then signs the rewritten log with the stolen checkpoint.key.
func rewriteHistory(t *testing.T, dir string, seq int64) {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, DBFile))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, q := range []string{`DROP TRIGGER events_no_update`, `DROP TRIGGER tree_nodes_no_update`, `DROP TRIGGER checkpoints_no_delete`, `DELETE FROM checkpoints`} {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	rows, err := db.Query(`SELECT ` + storedColumns + ` FROM events ORDER BY seq`)
	if err != nil {
		t.Fatal(err)
	}
	var leaves [][]byte
	for rows.Next() {
		e := scanStored(t, rows)
		if e.Seq == seq {
			e.Detail = []byte(`{"note":"rewritten"}`)
			lh := event.LeafHash(event.AppendCanonical(nil, &e))
			if _, err := db.Exec(`UPDATE events SET detail = ?, leaf_hash = ? WHERE seq = ?`, string(e.Detail), lh[:], seq); err != nil {
				t.Fatal(err)
			}
			e.LeafHash = lh
		}
		leaves = append(leaves, e.LeafHash[:])
	}
	rows.Close()
	var node func(level uint, idx uint64) []byte
	node = func(level uint, idx uint64) []byte {
		if level == 0 {
			return leaves[idx]
		}
		return rfc6962.DefaultHasher.HashChildren(node(level-1, 2*idx), node(level-1, 2*idx+1))
	}
	nrows, err := db.Query(`SELECT level, idx FROM tree_nodes`)
	if err != nil {
		t.Fatal(err)
	}
	type id struct {
		level uint
		idx   uint64
	}
	var ids []id
	for nrows.Next() {
		var i id
		nrows.Scan(&i.level, &i.idx)
		ids = append(ids, i)
	}
	nrows.Close()
	for _, i := range ids {
		if _, err := db.Exec(`UPDATE tree_nodes SET hash = ? WHERE level = ? AND idx = ?`, node(i.level, i.idx), i.level, i.idx); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Remove(filepath.Join(dir, "checkpoint.latest")); err != nil {
		t.Fatal(err)
	}
}

// storedColumns and scanStored read an event row as the store wrote it.
const storedColumns = `seq, id, event_type, ts, COALESCE(hlc,''), tenant_id, entity_uri, COALESCE(emitter,''), COALESCE(oidc_sub,''),
	COALESCE(fact_id,''), source, COALESCE(attested_key_id,''), COALESCE(scope,''), outcome, COALESCE(detail,''), leaf_hash`

func scanStored(t *testing.T, rows *sql.Rows) event.Event {
	t.Helper()
	var e event.Event
	var detail string
	var leaf []byte
	if err := rows.Scan(&e.Seq, &e.ID, &e.Type, &e.TS, &e.HLC, &e.Tenant, &e.EntityURI, &e.Emitter, &e.OIDCSub,
		&e.FactID, &e.Source, &e.AttestedKeyID, &e.Scope, &e.Outcome, &detail, &leaf); err != nil {
		t.Fatal(err)
	}
	if detail != "" {
		e.Detail = []byte(detail)
	}
	copy(e.LeafHash[:], leaf)
	if event.LeafHash(event.AppendCanonical(nil, &e)) != e.LeafHash {
		t.Fatalf("seq %d does not re-hash to its stored leaf: the test reads the row wrongly", e.Seq)
	}
	return e
}

// TestWitnessesCatchARewrittenHistory is the attack witnesses exist for:
// an insider with the signing key rewrites an event, rebuilds the tree,
// removes every checkpoint that remembers the old one and restarts the
// server, which signs the forged log. Both witnesses refuse it, /readyz and
// the metrics say so, the forged tree is never served as witnessed, verify
// with the policy refuses it, and a monitor that ran before alerts.
func TestWitnessesCatchARewrittenHistory(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the server and two witnesses")
	}
	l := newWitnessedLog(t, "2")
	l.emit(20)
	honest := l.waitWitnessed(21)
	// An export ends with the cosigned checkpoint: verify requires the
	// quorum on it, and on the database.
	exportFile := filepath.Join(t.TempDir(), "audit.ndjson")
	t.Setenv("STIGAUDIT_KEY", l.admin)
	code, out, stderr := cli(t, "export", "--server", l.p.url, "--format", "ndjson")
	if code != 0 {
		t.Fatalf("export --server: %d %s", code, stderr)
	}
	os.WriteFile(exportFile, []byte(out), 0o644)
	if code, out, stderr := cli(t, "verify", "--ndjson", exportFile, "--key", l.vkey, "--witness-policy", l.policyFile); code != 0 {
		t.Fatalf("verify --witness-policy of an export: %d %s %s", code, out, stderr)
	}
	honestFile := filepath.Join(t.TempDir(), "honest")
	os.WriteFile(honestFile, honest, 0o644)
	if code, out, stderr := cli(t, "verify", "--db", filepath.Join(l.dir, DBFile), "--key", l.vkey, "--checkpoint", honestFile, "--witness-policy", l.policyFile, "--allow-tail"); code != 0 {
		t.Fatalf("verify --witness-policy of the database: %d %s %s", code, out, stderr)
	}
	state := t.TempDir()
	monitorOnce := func() (int, string) {
		code, out, stderr := cli(t, "monitor", "--server", l.p.url, "--api-key", l.admin, "--key", l.vkey, "--state", state,
			"--witness-policy", l.policyFile, "--once")
		return code, out + stderr
	}
	if code, out := monitorOnce(); code != 0 {
		t.Fatalf("monitor before the attack: %s", out)
	}
	l.p.kill(syscall.SIGTERM)

	rewriteHistory(t, l.dir, 10)
	l.start()
	l.emit(3)
	for start := time.Now(); ; time.Sleep(100 * time.Millisecond) {
		code, body := l.readyz()
		if code == 503 && strings.Contains(body, "witness w1 refused") && strings.Contains(body, "witness w2 refused") {
			break
		}
		if time.Since(start) > 20*time.Second {
			t.Fatalf("readyz never named both refusals: %d %s\n%s", code, body, l.p.stderr)
		}
	}
	if n := l.metric("stigaudit_witness_cosign_total", `result="refused"`); n < 2 {
		t.Fatalf("stigaudit_witness_cosign_total{result=\"refused\"} = %v", n)
	}
	if code, b := getCheckpoint(t, l.p, l.admin, ""); code != 404 {
		t.Fatalf("the forged tree was served as witnessed: %d\n%s", code, b)
	}
	_, forged := getCheckpoint(t, l.p, l.admin, "?witnessed=0")
	if bytes.Equal(forged, honest) || servedSize(forged) < 21 {
		t.Fatalf("the forged log's checkpoint:\n%s", forged)
	}
	forgedFile := filepath.Join(t.TempDir(), "forged")
	os.WriteFile(forgedFile, forged, 0o644)
	code, out, stderr = cli(t, "verify", "--db", filepath.Join(l.dir, DBFile), "--key", l.vkey, "--checkpoint", forgedFile, "--witness-policy", l.policyFile, "--allow-tail")
	if code == 0 || !strings.Contains(stderr, "no_witness_quorum") {
		t.Fatalf("verify --witness-policy of the forged checkpoint: %d %s %s", code, out, stderr)
	}
	// The monitor that kept the honest checkpoint sees the fork in the
	// newest signed one.
	if code, out := monitorOnce(); code == 0 || !strings.Contains(out, `"kind":"fork"`) {
		t.Fatalf("the monitor did not alert on the fork: %d %s", code, out)
	}
	if !regexp.MustCompile(`WITNESS REFUSES`).MatchString(l.p.stderr.String()) {
		t.Fatalf("no ERROR line for the refusal")
	}
}

// TestWitnessesCatchARollback: an older copy of the database brought back
// (and the pin with it) is a smaller tree than the witnesses cosigned.
func TestWitnessesCatchARollback(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the server and two witnesses")
	}
	l := newWitnessedLog(t, "2")
	l.emit(5)
	l.waitWitnessed(6)
	l.p.kill(syscall.SIGTERM)
	backup := t.TempDir()
	for _, name := range []string{DBFile, DBFile + "-wal", "checkpoint.latest"} {
		if b, err := os.ReadFile(filepath.Join(l.dir, name)); err == nil {
			os.WriteFile(filepath.Join(backup, name), b, 0o600)
		}
	}
	l.start()
	l.emit(20)
	l.waitWitnessed(26)
	l.p.kill(syscall.SIGTERM)
	for _, name := range []string{DBFile, DBFile + "-wal", DBFile + "-shm", "checkpoint.latest"} {
		os.Remove(filepath.Join(l.dir, name))
		if b, err := os.ReadFile(filepath.Join(backup, name)); err == nil {
			os.WriteFile(filepath.Join(l.dir, name), b, 0o600)
		}
	}
	l.start()
	for start := time.Now(); ; time.Sleep(100 * time.Millisecond) {
		code, body := l.readyz()
		if code == 503 && strings.Contains(body, "rollback") {
			break
		}
		if time.Since(start) > 20*time.Second {
			t.Fatalf("readyz never named the rollback: %d %s\n%s", code, body, l.p.stderr)
		}
	}
	if code, b := getCheckpoint(t, l.p, l.admin, ""); code != 404 {
		t.Fatalf("the rolled-back tree was served as witnessed: %d\n%s", code, b)
	}
}

// TestWitnessDown: with quorum 1 of 2 a witness that is down changes
// nothing; with 2 of 2 readiness degrades and the lag grows while emits go
// on, and both recover when it is back.
func TestWitnessDown(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the server and two witnesses")
	}
	for _, quorum := range []string{"1", "2"} {
		t.Run("quorum "+quorum+" of 2", func(t *testing.T) {
			l := newWitnessedLog(t, quorum)
			l.emit(3)
			l.waitWitnessed(4)
			l.w[1].stop()
			l.emit(5)
			if quorum == "1" {
				l.waitWitnessed(9)
				if code, body := l.readyz(); code != 200 {
					t.Fatalf("readyz with one witness of a 1-of-2 quorum down: %d %s", code, body)
				}
				return
			}
			for start := time.Now(); ; time.Sleep(200 * time.Millisecond) {
				code, body := l.readyz()
				if code == 503 && strings.Contains(body, "waited") && strings.Contains(body, "not cosigned by w2") {
					break
				}
				if time.Since(start) > 30*time.Second {
					t.Fatalf("readyz never degraded: %d %s", code, body)
				}
			}
			if lag := l.metric("stigaudit_witness_lag_seconds", ""); lag < 5 {
				t.Fatalf("stigaudit_witness_lag_seconds = %v after 10 s without the quorum", lag)
			}
			l.w[1].start()
			at := time.Now()
			l.waitWitnessed(9)
			if d := time.Since(at); d > 5*time.Second {
				t.Errorf("witnessed again %v after the witness came back", d)
			}
			if code, body := l.readyz(); code != 200 {
				t.Fatalf("readyz after the witness came back: %d %s", code, body)
			}
		})
	}
}
