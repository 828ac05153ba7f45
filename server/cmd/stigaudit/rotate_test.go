package main

import (
	"bytes"
	"database/sql"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stigaudit/stigaudit/core/checkpoint"
	"github.com/stigaudit/stigaudit/server/tlog"
)

// TestRotateCheckpointKey rotates a running server's signing key: the
// checkpoints carry both signatures until the old key is retired, then the
// new one's alone; the retirement is in the log; the key history is served
// and verifies the whole log across the rotation; and a checkpoint the
// retired key signs beyond its last size is refused.
func TestRotateCheckpointKey(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the server")
	}
	bin := buildBinary(t)
	dir := t.TempDir()
	p := startServe(t, bin, dir)
	admin := readAdminKey(t, dir)
	oldKey := verifierKey(t, dir)
	origin := oldKey[:strings.Index(oldKey, "+")]
	sigLines := func(note []byte) int { return bytes.Count(note, []byte("\n— "+origin+" ")) }
	emitN := func(n int) {
		for range n {
			if code, b := emitHTTP(t, p.url, admin, criticalEvent); code != 201 {
				t.Fatalf("emit: %d %s", code, b)
			}
		}
	}
	// waitNote waits for a checkpoint covering size with the given number
	// of the log's own signatures.
	waitNote := func(size, sigs int) []byte {
		t.Helper()
		for start := time.Now(); time.Since(start) < 15*time.Second; time.Sleep(100 * time.Millisecond) {
			code, b := getCheckpoint(t, p, admin, "")
			c, err := checkpoint.ParseBody(b[:bytes.Index(b, []byte("\n\n"))+1])
			if code == 200 && err == nil && c.Size >= uint64(size) && sigLines(b) == sigs {
				return b
			}
		}
		t.Fatalf("no checkpoint of size %d with %d signatures", size, sigs)
		return nil
	}

	emitN(5)
	before := waitNote(6, 1)
	code, newOut, stderr := cli(t, "keys", "rotate-checkpoint-key", "--data-dir", dir)
	if code != 0 {
		t.Fatalf("rotate: %d %s", code, stderr)
	}
	newKey := strings.TrimSpace(newOut)
	if !strings.HasPrefix(newKey, origin+"+") || newKey == oldKey {
		t.Fatalf("new key %q for origin %q", newKey, origin)
	}
	// Retiring before the new key has signed is refused.
	if code, _, stderr := cli(t, "keys", "rotate-checkpoint-key", "--data-dir", dir, "--retire-old"); code == 0 || !strings.Contains(stderr, "not signed by the new key yet") {
		t.Fatalf("early retire: %d %s", code, stderr)
	}
	emitN(5)
	during := waitNote(11, 2)
	for _, k := range []string{oldKey, newKey} {
		v, _ := checkpoint.NewVerifier(k)
		if _, err := checkpoint.Open(during, "", v); err != nil {
			t.Fatalf("the checkpoint during the rotation does not open with %s: %v", k, err)
		}
	}
	code, out, stderr := cli(t, "keys", "rotate-checkpoint-key", "--data-dir", dir, "--retire-old")
	if code != 0 || !strings.Contains(out, "retired "+oldKey) {
		t.Fatalf("retire: %d %s %s", code, out, stderr)
	}
	emitN(5)
	after := waitNote(17, 1)
	vNew, _ := checkpoint.NewVerifier(newKey)
	if _, err := checkpoint.Open(after, "", vNew); err != nil {
		t.Fatalf("after the retirement: %v", err)
	}

	histJSON := p.get(t, admin, "/v1/audit/verifier-keys")
	h, err := tlog.ParseHistory(histJSON)
	if err != nil || len(h.Keys) != 2 || h.Keys[0].VerifierKey != oldKey || h.Keys[0].UntilSize == nil || h.Keys[1].VerifierKey != newKey || h.Keys[1].UntilSize != nil {
		t.Fatalf("verifier keys: %s (%v)", histJSON, err)
	}
	if _, all, _ := cli(t, "keys", "checkpoint-key", "--data-dir", dir, "--all"); !strings.Contains(all, oldKey+" from_size=0 until_size=") || !strings.Contains(all, newKey+" from_size=") {
		t.Fatalf("checkpoint-key --all:\n%s", all)
	}
	p.kill(syscall.SIGTERM)
	// A restart opens the pinned checkpoint with the new key.
	p = startServe(t, bin, dir)
	if r := p.getStatus(t, "/readyz"); r != 200 {
		t.Fatalf("readyz after a restart with the rotated key: %d\n%s", r, p.stderr)
	}
	p.kill(syscall.SIGTERM)

	tmp := t.TempDir()
	files := map[string][]byte{"history": histJSON, "before": before, "during": during, "after": after}
	for name, b := range files {
		os.WriteFile(filepath.Join(tmp, name), b, 0o644)
	}
	db := filepath.Join(dir, DBFile)
	verify := func(args ...string) (int, string) {
		code, out, stderr := cli(t, append([]string{"verify", "--db", db, "--allow-tail"}, args...)...)
		return code, out + stderr
	}
	if code, out := verify("--key-history", filepath.Join(tmp, "history"), "--checkpoint", filepath.Join(tmp, "after"),
		"--since-checkpoint", filepath.Join(tmp, "before"), "--since-checkpoint", filepath.Join(tmp, "during")); code != 0 {
		t.Fatalf("verify across the rotation with the history: %s", out)
	}
	if code, out := verify("--key", oldKey, "--key", newKey, "--checkpoint", filepath.Join(tmp, "after"), "--since-checkpoint", filepath.Join(tmp, "before")); code != 0 {
		t.Fatalf("verify with both --key: %s", out)
	}
	if code, out := verify("--key", oldKey, "--checkpoint", filepath.Join(tmp, "after")); code == 0 {
		t.Fatalf("the old key alone verified a checkpoint it did not sign: %s", out)
	}

	// The retired key, kept in the data directory, signs the newest tree:
	// a valid signature, beyond the size it may sign.
	retired, _ := filepath.Glob(filepath.Join(dir, "checkpoint.key.retired-*"))
	if len(retired) != 1 {
		t.Fatalf("retired key files: %v", retired)
	}
	skey, _ := os.ReadFile(retired[0])
	k, err := tlog.ParseKey(strings.TrimSpace(string(skey)))
	if err != nil {
		t.Fatal(err)
	}
	c, _ := checkpoint.Open(after, "", vNew)
	forged, _ := checkpoint.Sign(c, k.Signer)
	os.WriteFile(filepath.Join(tmp, "forged"), forged, 0o644)
	if code, out := verify("--key-history", filepath.Join(tmp, "history"), "--checkpoint", filepath.Join(tmp, "forged")); code == 0 || !strings.Contains(out, "retired") {
		t.Fatalf("a checkpoint by the retired key beyond its last size: %d %s", code, out)
	}

	// The rotation is in the log.
	sdb, err := sql.Open("sqlite", "file:"+db+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer sdb.Close()
	var n int
	if err := sdb.QueryRow(`SELECT count(*) FROM events WHERE event_type = 'key_rotation' AND detail LIKE ?`, `%"key":"`+newKey+`"%`).Scan(&n); err != nil || n != 1 {
		t.Fatalf("key_rotation events naming the new key: %d (%v)", n, err)
	}
}
