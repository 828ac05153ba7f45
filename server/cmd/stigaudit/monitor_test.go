package main

import (
	"crypto/hmac"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
)

// TestMonitor runs `stigaudit monitor --once` against the real server: it
// verifies a growing log round after round, and raises the right alert —
// with a non-zero exit and a signed webhook — when an event is changed
// behind the server's back and when another history is served under the
// same key.
func TestMonitor(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the server")
	}
	bin := buildBinary(t)
	dir := t.TempDir()
	p := startServe(t, bin, dir)
	admin := readAdminKey(t, dir)
	vkey := verifierKey(t, dir)
	state := t.TempDir()

	var mu sync.Mutex
	var got []map[string]string
	secret := "s3cret"
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mac := hmac.New(sha256.New, []byte(secret))
		mac.Write(body)
		if r.Header.Get("X-Stigaudit-Signature") != "sha256="+hex.EncodeToString(mac.Sum(nil)) {
			http.Error(w, "bad signature", http.StatusUnauthorized)
			return
		}
		var a map[string]string
		json.Unmarshal(body, &a)
		mu.Lock()
		got = append(got, a)
		mu.Unlock()
	}))
	defer hook.Close()
	secretFile := filepath.Join(t.TempDir(), "secret")
	os.WriteFile(secretFile, []byte(secret+"\n"), 0o600)

	monitorOnce := func(url string, apiKey ...string) (int, string) {
		t.Helper()
		k := admin
		if len(apiKey) > 0 {
			k = apiKey[0]
		}
		code, out, stderr := cli(t, "monitor", "--server", url, "--api-key", k, "--key", vkey, "--state", state, "--once",
			"--alert-webhook", hook.URL, "--alert-secret-file", secretFile)
		return code, out + stderr
	}
	emitN := func(url, key string, n int) {
		t.Helper()
		for range n {
			if code, b := emitHTTP(t, url, key, criticalEvent); code != 201 {
				t.Fatalf("emit: %d %s", code, b)
			}
		}
	}

	emitN(p.url, admin, 10)
	waitSigned(t, p, admin, 12)
	if code, out := monitorOnce(p.url); code != 0 || !strings.Contains(out, "OK: size") {
		t.Fatalf("first round: %d %s", code, out)
	}
	emitN(p.url, admin, 10)
	waitSigned(t, p, admin, 22)
	if code, out := monitorOnce(p.url); code != 0 {
		t.Fatalf("second round: %d %s", code, out)
	}

	// An event after the verified size is changed in the file while the
	// server is stopped; its tree nodes are not, so the server starts.
	emitN(p.url, admin, 5)
	waitSigned(t, p, admin, 27)
	p.kill(syscall.SIGTERM)
	db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, DBFile))
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{`DROP TRIGGER events_no_update`, `UPDATE events SET entity_uri = 'urn:test:mallory' WHERE seq = 24`} {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	db.Close()
	p = startServe(t, bin, dir)
	code, out := monitorOnce(p.url)
	if code == 0 || !strings.Contains(out, "changed_event") || !strings.Contains(out, "seq 24") {
		t.Fatalf("a changed event: %d %s", code, out)
	}
	// It stays alerted: the state did not move past the bad checkpoint.
	if code, out := monitorOnce(p.url); code == 0 || !strings.Contains(out, "changed_event") {
		t.Fatalf("second look at a changed event: %d %s", code, out)
	}
	p.kill(syscall.SIGTERM)

	// Another history under the same key: a rollback to a smaller tree.
	other := t.TempDir()
	key, _ := os.ReadFile(filepath.Join(dir, "checkpoint.key"))
	os.WriteFile(filepath.Join(other, "checkpoint.key"), key, 0o600)
	q := startServe(t, bin, other)
	otherAdmin := readAdminKey(t, other)
	waitSigned(t, q, otherAdmin, 1)
	if code, out := monitorOnce(q.url, otherAdmin); code == 0 || !strings.Contains(out, "rollback") {
		t.Fatalf("a smaller history: %d %s", code, out)
	}
	// ... and, once it is longer, a fork.
	emitN(q.url, otherAdmin, 40)
	waitSigned(t, q, otherAdmin, 40)
	if code, out := monitorOnce(q.url, otherAdmin); code == 0 || !strings.Contains(out, "fork") {
		t.Fatalf("a longer other history: %d %s", code, out)
	}

	mu.Lock()
	defer mu.Unlock()
	var kinds []string
	for _, a := range got {
		kinds = append(kinds, a["kind"])
	}
	if strings.Join(kinds, ",") != "changed_event,changed_event,rollback,fork" {
		t.Fatalf("webhook received %v", kinds)
	}
}

// TestMonitorTiles runs `stigaudit monitor --tiles --once` with a key that
// may only read: it follows the log through its tlog-tiles round after
// round (full and partial level-0 tiles), and raises a rollback and then a
// fork when another history is served under the same signing key.
func TestMonitorTiles(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the server")
	}
	bin := buildBinary(t)
	dir := t.TempDir()
	p := startServe(t, bin, dir)
	admin := readAdminKey(t, dir)
	vkey := verifierKey(t, dir)
	state := t.TempDir()
	readKey := func(dir string) string {
		t.Helper()
		code, out, stderr := cli(t, "keys", "create", "--data-dir", dir, "--tenant", "default", "--entity", "urn:test:monitor", "--perm", "read")
		if code != 0 {
			t.Fatalf("keys create: %d %s", code, stderr)
		}
		return strings.TrimSpace(out)
	}
	reader := readKey(dir)
	monitorOnce := func(url, key string) (int, string) {
		t.Helper()
		code, out, stderr := cli(t, "monitor", "--tiles", "--server", url, "--api-key", key, "--verifier-key", vkey, "--state", state, "--once")
		return code, out + stderr
	}
	emitN := func(url, key string, n int) {
		t.Helper()
		for range n {
			if code, b := emitHTTP(t, url, key, criticalEvent); code != 201 {
				t.Fatalf("emit: %d %s", code, b)
			}
		}
	}
	// The bootstrap key's creation and the read key's are the first two
	// events; then a partial tile, a full one and a partial, a partial again.
	size := 2
	for _, n := range []int{10, 300, 5} {
		emitN(p.url, admin, n)
		size += n
		waitSigned(t, p, admin, size)
		if code, out := monitorOnce(p.url, reader); code != 0 || !strings.Contains(out, "OK: size") {
			t.Fatalf("round at size %d: %d %s", size, code, out)
		}
	}
	p.kill(syscall.SIGTERM)

	// Another history under the same key: smaller, then longer.
	other := t.TempDir()
	key, _ := os.ReadFile(filepath.Join(dir, "checkpoint.key"))
	os.WriteFile(filepath.Join(other, "checkpoint.key"), key, 0o600)
	q := startServe(t, bin, other)
	otherAdmin := readAdminKey(t, other)
	otherReader := readKey(other)
	waitSigned(t, q, otherAdmin, 2)
	if code, out := monitorOnce(q.url, otherReader); code == 0 || !strings.Contains(out, "rollback") {
		t.Fatalf("a smaller history: %d %s", code, out)
	}
	emitN(q.url, otherAdmin, size)
	waitSigned(t, q, otherAdmin, size+2)
	if code, out := monitorOnce(q.url, otherReader); code == 0 || !strings.Contains(out, "fork") {
		t.Fatalf("a longer other history: %d %s", code, out)
	}
}
