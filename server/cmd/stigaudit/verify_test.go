package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/stigaudit/stigaudit/core/event"
	"github.com/stigaudit/stigaudit/core/jcs"
	"github.com/stigaudit/stigaudit/hostfns/sqlitestore"
	"github.com/stigaudit/stigaudit/hostfns/sqlquery"
	"github.com/stigaudit/stigaudit/hostfns/storetest"
	"github.com/stigaudit/stigaudit/server/export"
	"github.com/stigaudit/stigaudit/server/tlog"
)

var bg = context.Background()

// testEvents returns storetest events with canonical details and real leaf
// hashes; alter, when not nil, may change each before it is hashed.
func testEvents(from, n int, alter func(e *event.Event)) []event.Event {
	evs := storetest.NewEvents(from, n)
	for i := range evs {
		e := &evs[i]
		if alter != nil {
			alter(e)
		}
		if e.Detail != nil {
			d, err := jcs.Canonicalize(nil, e.Detail, jcs.Limits{})
			if err != nil {
				panic(err)
			}
			e.Detail = d
		}
		e.LeafHash = event.LeafHash(event.AppendCanonical(nil, e))
	}
	return evs
}

// dataDir is a data directory made the way the server makes one: events
// appended through the store, checkpoints signed by a Checkpointer.
type dataDir struct {
	t    *testing.T
	dir  string
	vkey string
}

func (d *dataDir) db() string { return filepath.Join(d.dir, DBFile) }

// newDataDir appends n events (in steps, signing a checkpoint after each)
// to a new data directory. keyFrom, when not "", is a data directory whose
// checkpoint key is reused (an attacker who stole the key).
func newDataDir(t *testing.T, n int, steps []int, alter func(e *event.Event), keyFrom string) *dataDir {
	t.Helper()
	dir := t.TempDir()
	if keyFrom != "" {
		b, err := os.ReadFile(filepath.Join(keyFrom, tlog.KeyFile))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, tlog.KeyFile), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	st, err := sqlitestore.Open(filepath.Join(dir, DBFile), sqlitestore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	key, err := tlog.LoadOrCreateKey(dir, "", rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	cp, err := tlog.New(bg, tlog.Config{Tree: st, Checkpoints: st.Checkpoints(), Key: key})
	if err != nil {
		t.Fatal(err)
	}
	done := 0
	for _, upTo := range append(steps, n) {
		for done < upTo {
			k := min(upTo-done, 300)
			if _, err := st.Append(bg, testEvents(done, k, alter)); err != nil {
				t.Fatal(err)
			}
			done += k
		}
		if _, err := cp.Sync(bg); err != nil {
			t.Fatal(err)
		}
	}
	return &dataDir{t: t, dir: dir, vkey: key.VerifierKey}
}

// sql runs statements on the database file directly, as someone with access
// to the file (not the server) would.
func (d *dataDir) sql(stmts ...string) {
	d.t.Helper()
	db, err := sql.Open("sqlite", d.db())
	if err != nil {
		d.t.Fatal(err)
	}
	defer db.Close()
	for _, s := range stmts {
		if _, err := db.Exec(s); err != nil {
			d.t.Fatalf("%s: %v", s, err)
		}
	}
}

// checkpointOfSize writes the stored checkpoint of that size to a file.
func (d *dataDir) checkpointOfSize(size int) string {
	d.t.Helper()
	db, err := sql.Open("sqlite", d.db())
	if err != nil {
		d.t.Fatal(err)
	}
	defer db.Close()
	var note string
	if err := db.QueryRow(`SELECT note FROM checkpoints WHERE tree_size = ?`, size).Scan(&note); err != nil {
		d.t.Fatalf("checkpoint of size %d: %v", size, err)
	}
	path := filepath.Join(d.t.TempDir(), fmt.Sprintf("checkpoint-%d.txt", size))
	os.WriteFile(path, []byte(note), 0o644)
	return path
}

// export runs `stigaudit export` into a file and returns its lines.
func (d *dataDir) export(args ...string) []string {
	d.t.Helper()
	code, out, errOut := cli(d.t, append([]string{"export", "--format", "ndjson", "--data-dir", d.dir}, args...)...)
	if code != 0 {
		d.t.Fatalf("export: %d %s", code, errOut)
	}
	return strings.Split(strings.TrimSuffix(out, "\n"), "\n")
}

func writeLines(t *testing.T, lines []string) string {
	path := filepath.Join(t.TempDir(), "export.ndjson")
	if err := os.WriteFile(path, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// cli runs the command in process, as main does.
func cli(t testing.TB, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = run(bg, args, &out, &errOut)
	return code, out.String(), errOut.String()
}

var failRE = regexp.MustCompile(`verification failed(?: at seq (\d+)|: first bad seq in \[(\d+), (\d+)\))? \((\w+)\)`)

// outcome is what a failed verify said: the bad seq range and the reason.
type outcome struct {
	first, until int64 // -1 when no seq was named
	reason       string
}

func parseFailure(t *testing.T, stderr string) outcome {
	t.Helper()
	m := failRE.FindStringSubmatch(stderr)
	if m == nil {
		t.Fatalf("no verification failure in %q", stderr)
	}
	o := outcome{first: -1, until: -1, reason: m[4]}
	if m[1] != "" {
		o.first, _ = strconv.ParseInt(m[1], 10, 64)
		o.until = o.first + 1
	} else if m[2] != "" {
		o.first, _ = strconv.ParseInt(m[2], 10, 64)
		o.until, _ = strconv.ParseInt(m[3], 10, 64)
	}
	return o
}

func TestVerifyAcceptsAnUntouchedLog(t *testing.T) {
	d := newDataDir(t, 1500, []int{100, 1024}, nil, "")
	old := d.checkpointOfSize(100)
	for _, args := range [][]string{
		{"--db", d.db()},
		{"--db", d.db(), "--since-checkpoint", old},
		{"--db", d.db(), "--checkpoint", d.checkpointOfSize(1024), "--allow-tail"},
		{"--ndjson", writeLines(t, d.export())},
		{"--ndjson", writeLines(t, d.export()), "--since-checkpoint", old, "--since-checkpoint", d.checkpointOfSize(1024)},
		{"--ndjson", writeLines(t, d.export("--tenant", "acme", "--outcome", "denied"))},
	} {
		code, out, errOut := cli(t, append([]string{"verify", "--key", d.vkey}, args...)...)
		if code != 0 || !strings.HasPrefix(out, "OK: ") || strings.Count(out, "\n") != 1 {
			t.Errorf("verify %v: exit %d\nstdout %q\nstderr %q", args, code, out, errOut)
		}
	}
	// The key may also be given as a file, as checkpoint-key prints it.
	code, keyOut, _ := cli(t, "keys", "checkpoint-key", "--data-dir", d.dir)
	if code != 0 || strings.TrimSpace(keyOut) != d.vkey {
		t.Fatalf("checkpoint-key printed %q, want %q", keyOut, d.vkey)
	}
	keyFile := filepath.Join(t.TempDir(), "key")
	os.WriteFile(keyFile, []byte(keyOut), 0o644)
	if code, out, errOut := cli(t, "verify", "--db", d.db(), "--key", keyFile); code != 0 {
		t.Fatalf("verify with a key file: %d %s %s", code, out, errOut)
	}
}

// TestVerifyLocatesTampering is the list: each tampering is caught,
// and named by the first bad seq.
func TestVerifyLocatesTampering(t *testing.T) {
	const n = 300
	type check func(t *testing.T, o outcome)
	exactly := func(seq int64, reason string) check {
		return func(t *testing.T, o outcome) {
			if o.first != seq || o.until != seq+1 || o.reason != reason {
				t.Fatalf("named %+v, want seq %d (%s)", o, seq, reason)
			}
		}
	}
	within := func(seq, width int64, reasons ...string) check {
		return func(t *testing.T, o outcome) {
			if o.first > seq || o.until <= seq || o.until-o.first > width || !strings.Contains(strings.Join(reasons, " "), o.reason) {
				t.Fatalf("named %+v, want a range of at most %d holding seq %d (%v)", o, width, seq, reasons)
			}
		}
	}
	reason := func(r string) check {
		return func(t *testing.T, o outcome) {
			if o.reason != r {
				t.Fatalf("reason %q, want %q", o.reason, r)
			}
		}
	}

	// Database tampering.
	for _, tc := range []struct {
		name   string
		tamper func(d *dataDir) []string // extra verify args
		want   check
	}{
		{"a changed byte in detail", func(d *dataDir) []string {
			d.sql(`DROP TRIGGER events_no_update`, `UPDATE events SET detail = replace(detail, '"n":141', '"n":142') WHERE seq = 141`)
			return nil
		}, exactly(141, "leaf_mismatch")},
		{"a changed byte with its leaf hash recomputed", func(d *dataDir) []string {
			// The attacker also rewrites leaf_hash; the stored tree nodes
			// still locate the change.
			e := testEvents(141, 1, func(e *event.Event) { e.Detail = []byte(`{"n":142,"note":"caf\u00e9 \"quoted\""}`) })[0]
			d.sql(`DROP TRIGGER events_no_update`,
				fmt.Sprintf(`UPDATE events SET detail = '%s', leaf_hash = x'%x' WHERE seq = 141`, e.Detail, e.LeafHash))
			return nil
		}, within(141, 2, "tree_node_mismatch", "root_mismatch")},
		{"a deleted row", func(d *dataDir) []string {
			d.sql(`DROP TRIGGER events_no_delete`, `DELETE FROM events WHERE seq = 77`)
			return nil
		}, exactly(77, "seq_gap")},
		{"two swapped rows", func(d *dataDir) []string {
			d.sql(`DROP TRIGGER events_no_update`,
				`UPDATE events SET seq = 100000 WHERE seq = 130`,
				`UPDATE events SET seq = 130 WHERE seq = 137`,
				`UPDATE events SET seq = 137 WHERE seq = 100000`)
			return nil
		}, within(130, 2, "tree_node_mismatch", "root_mismatch")},
		{"a row appended behind the server's back", func(d *dataDir) []string {
			e := testEvents(n, 1, nil)[0]
			d.sql(fmt.Sprintf(`INSERT INTO events (seq, id, event_type, ts, tenant_id, entity_uri, source, outcome, leaf_hash)
				VALUES (%d, '%s', '%s', '%s', '%s', '%s', '%s', '%s', x'%x')`,
				n, e.ID, e.Type, e.TS, e.Tenant, e.EntityURI, e.Source, e.Outcome, e.LeafHash))
			return nil
		}, exactly(n, "beyond_checkpoint")},
		{"a stored checkpoint with a forged signature", func(d *dataDir) []string {
			forged := forge(t, d)
			d.sql(`DROP TRIGGER checkpoints_no_update`, fmt.Sprintf(`UPDATE checkpoints SET note = '%s' WHERE tree_size = %d`, forged, n))
			return nil
		}, reason("bad_checkpoint")},
		{"a checkpoint file with a forged signature", func(d *dataDir) []string {
			path := filepath.Join(t.TempDir(), "forged")
			os.WriteFile(path, []byte(forge(t, d)), 0o644)
			return []string{"--checkpoint", path}
		}, reason("bad_checkpoint")},
		{"rows truncated with the checkpoints", func(d *dataDir) []string {
			old := d.checkpointOfSize(n) // the client kept the latest checkpoint
			d.sql(`DROP TRIGGER events_no_delete`, `DROP TRIGGER checkpoints_no_delete`,
				`DELETE FROM events WHERE seq >= 250`, fmt.Sprintf(`DELETE FROM checkpoints WHERE tree_size > %d`, 200))
			return []string{"--checkpoint", old}
		}, exactly(250, "truncated")},
	} {
		t.Run("db/"+tc.name, func(t *testing.T) {
			d := newDataDir(t, n, []int{200}, nil, "")
			extra := tc.tamper(d)
			code, out, errOut := cli(t, append([]string{"verify", "--db", d.db(), "--key", d.vkey}, extra...)...)
			if code != 1 || out != "" {
				t.Fatalf("exit %d, stdout %q, stderr %q", code, out, errOut)
			}
			t.Log(strings.TrimSpace(errOut))
			tc.want(t, parseFailure(t, errOut))
		})
	}

	// Export tampering: edit the NDJSON file.
	seqOf := func(line string) int {
		m := regexp.MustCompile(`"seq":(\d+)`).FindStringSubmatch(line)
		if m == nil {
			return -1
		}
		i, _ := strconv.Atoi(m[1])
		return i
	}
	for _, tc := range []struct {
		name   string
		tamper func(d *dataDir, lines []string) []string
		want   check
	}{
		{"a changed byte in detail", func(d *dataDir, lines []string) []string {
			lines[141] = strings.Replace(lines[141], `"n":141`, `"n":142`, 1)
			return lines
		}, exactly(141, "leaf_mismatch")},
		{"a deleted line", func(d *dataDir, lines []string) []string {
			return append(lines[:77:77], lines[78:]...)
		}, exactly(77, "seq_gap")},
		{"two swapped lines", func(d *dataDir, lines []string) []string {
			lines[130], lines[137] = lines[137], lines[130]
			return lines
		}, exactly(130, "seq_gap")},
		{"two swapped lines, renumbered", func(d *dataDir, lines []string) []string {
			lines[130], lines[137] = lines[137], lines[130]
			lines[130] = strings.Replace(lines[130], `"seq":137`, `"seq":130`, 1)
			lines[137] = strings.Replace(lines[137], `"seq":130`, `"seq":137`, 1)
			return lines
		}, reason("root_mismatch")},
		{"a line appended", func(d *dataDir, lines []string) []string {
			extra := testEvents(n, 1, nil)[0]
			extra.Seq = n
			line := string(export.AppendLine(nil, &extra, nil))
			return append(lines[:n:n], line, lines[n])
		}, exactly(n, "beyond_checkpoint")},
		{"a forged checkpoint line", func(d *dataDir, lines []string) []string {
			lines[n] = string(export.AppendTrailer(nil, export.Trailer{Checkpoint: []byte(forge(t, d))}))
			return lines
		}, reason("bad_checkpoint")},
		{"an unreadable line", func(d *dataDir, lines []string) []string {
			lines[10] = lines[10][:len(lines[10])/2]
			return lines
		}, exactly(10, "unreadable")},
	} {
		t.Run("ndjson/"+tc.name, func(t *testing.T) {
			d := newDataDir(t, n, []int{200}, nil, "")
			lines := d.export()
			if len(lines) != n+1 || seqOf(lines[141]) != 141 {
				t.Fatalf("export has %d lines", len(lines))
			}
			path := writeLines(t, tc.tamper(d, lines))
			code, out, errOut := cli(t, "verify", "--ndjson", path, "--key", d.vkey)
			if code != 1 || out != "" {
				t.Fatalf("exit %d, stdout %q, stderr %q", code, out, errOut)
			}
			t.Log(strings.TrimSpace(errOut))
			tc.want(t, parseFailure(t, errOut))
		})
	}

	// A filtered export: each event stands on its own proof.
	t.Run("ndjson/filtered, a changed byte", func(t *testing.T) {
		d := newDataDir(t, n, nil, nil, "")
		lines := d.export("--tenant", "globex")
		i := 3
		seq := seqOf(lines[i])
		lines[i] = strings.Replace(lines[i], `"source":""`, `"source":"x"`, 1)
		lines[i] = strings.Replace(lines[i], `"source":"api"`, `"source":"apx"`, 1)
		code, _, errOut := cli(t, "verify", "--ndjson", writeLines(t, lines), "--key", d.vkey)
		if code != 1 {
			t.Fatalf("exit %d: %s", code, errOut)
		}
		exactly(int64(seq), "leaf_mismatch")(t, parseFailure(t, errOut))
	})
	t.Run("ndjson/filtered, a proof for another event", func(t *testing.T) {
		d := newDataDir(t, n, nil, nil, "")
		lines := d.export("--tenant", "globex")
		// Graft line 4's event into line 3's proof: the proof no longer
		// leads from this leaf to the root.
		re := regexp.MustCompile(`"proof":\{"hashes":\[[^\]]*\]`)
		lines[3] = re.ReplaceAllString(lines[3], re.FindString(lines[4]))
		code, _, errOut := cli(t, "verify", "--ndjson", writeLines(t, lines), "--key", d.vkey)
		if code != 1 {
			t.Fatalf("exit %d: %s", code, errOut)
		}
		exactly(int64(seqOf(lines[3])), "proof_invalid")(t, parseFailure(t, errOut))
	})
}

// TestVerifyRewrittenHistory: someone with the data directory (and so the
// signing key) rewrites an early event, rebuilds the whole tree and signs
// a new checkpoint. The new log verifies on its own; a client holding a
// checkpoint from before proves the rewrite.
func TestVerifyRewrittenHistory(t *testing.T) {
	honest := newDataDir(t, 120, []int{50}, nil, "")
	old := honest.checkpointOfSize(50)
	forged := newDataDir(t, 150, []int{60}, func(e *event.Event) {
		if e.ID == storetest.NewEvent(10).ID {
			e.Outcome = event.OutcomeSuccess
			e.Detail = []byte(`{"rewritten":true}`)
		}
	}, honest.dir)
	if forged.vkey != honest.vkey {
		t.Fatal("the forger does not hold the key")
	}
	if code, _, errOut := cli(t, "verify", "--db", forged.db(), "--key", forged.vkey); code != 0 {
		t.Fatalf("the re-signed log does not verify on its own: %s", errOut)
	}
	for _, args := range [][]string{
		{"--db", forged.db()},
		{"--ndjson", writeLines(t, forged.export())},
	} {
		code, _, errOut := cli(t, append([]string{"verify", "--key", honest.vkey, "--since-checkpoint", old}, args...)...)
		if code != 1 {
			t.Fatalf("verify %v: exit %d %s", args, code, errOut)
		}
		o := parseFailure(t, errOut)
		if o.reason != "inconsistent_history" || o.first > 10 || o.until <= 10 || o.until > 50 {
			t.Fatalf("verify %v: %+v (%s)", args, o, errOut)
		}
	}
}

func TestVerifyUsage(t *testing.T) {
	d := newDataDir(t, 5, nil, nil, "")
	for _, args := range [][]string{
		{"verify"},
		{"verify", "--db", d.db()},
		{"verify", "--db", d.db(), "--ndjson", "x", "--key", d.vkey},
		{"verify", "--ndjson", writeLines(t, d.export()), "--key", d.vkey, "--allow-tail"},
		{"verify", "--db", d.db(), "--key", "not-a-key"},
		{"export", "--data-dir", d.dir},
		{"export", "--data-dir", d.dir, "--format", "ndjson", "--outcome", "maybe"},
		{"export", "--data-dir", d.dir, "--format", "ndjson", "--since", "yesterday"},
	} {
		if code, _, _ := cli(t, args...); code != 2 {
			t.Errorf("%v: exit %d, want 2 (usage)", args, code)
		}
	}
	// A filtered export cannot prove consistency with an older checkpoint.
	code, _, errOut := cli(t, "verify", "--ndjson", writeLines(t, d.export("--tenant", "acme")), "--key", d.vkey, "--since-checkpoint", d.checkpointOfSize(5))
	if code != 2 || !strings.Contains(errOut, "filtered") {
		t.Errorf("filtered export with --since-checkpoint: %d %s", code, errOut)
	}
	// A database that does not exist is not created.
	missing := filepath.Join(t.TempDir(), "nope.db")
	if code, _, _ := cli(t, "verify", "--db", missing, "--key", d.vkey); code != 1 {
		t.Errorf("missing database: exit %d", code)
	}
	if _, err := os.Stat(missing); err == nil {
		t.Error("verify created the database")
	}
}

// forge returns the latest checkpoint of d with one bit of its signature
// flipped: the key name and hash still say it is the log's.
func forge(t *testing.T, d *dataDir) string {
	t.Helper()
	db, _ := sql.Open("sqlite", d.db())
	defer db.Close()
	s, _, err := sqlquery.ReadLatestCheckpoint(bg, db)
	if err != nil {
		t.Fatal(err)
	}
	body, sigs, _ := bytes.Cut(s.Note, []byte("\n\n"))
	f := strings.Fields(string(sigs)) // "—", name, base64(hash ‖ signature)
	raw, err := base64.StdEncoding.DecodeString(f[2])
	if err != nil {
		t.Fatal(err)
	}
	raw[10] ^= 1
	return string(body) + "\n\n" + f[0] + " " + f[1] + " " + base64.StdEncoding.EncodeToString(raw) + "\n"
}
