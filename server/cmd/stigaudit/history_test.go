package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The faults of "One history, nothing lost" against the real binary: the
// database deleted under a running server, the WAL truncated while it is
// stopped, the signing key deleted, and a second server on the directory.
// Each is refused with one clear line, admin.key is never overwritten, and
// the documented recovery (stigaudit recover --start-new-log) works.

const (
	criticalEvent   = `{"event_type":"fact_write","entity_uri":"urn:test:alice","fact_id":"f1"}`
	bestEffortEvent = `{"event_type":"fact_read","entity_uri":"urn:test:alice","fact_id":"f1"}`
)

func readAdminKey(t testing.TB, dir string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "admin.key"))
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

// verifierKey returns the checkpoint verifier key of the data directory
// dir, as `stigaudit keys checkpoint-key` prints it.
func verifierKey(t testing.TB, dir string) string {
	t.Helper()
	code, out, errOut := cli(t, "keys", "checkpoint-key", "--data-dir", dir)
	if code != 0 {
		t.Fatalf("keys checkpoint-key: exit %d: %s", code, errOut)
	}
	return strings.TrimSpace(out)
}

// waitSigned waits until the server's latest checkpoint covers size.
func waitSigned(t testing.TB, p *serveProc, key string, size int) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		req, _ := http.NewRequest(http.MethodGet, p.url+"/v1/audit/checkpoint", nil)
		req.Header.Set("Authorization", "Bearer "+key)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			lines := strings.Split(string(b), "\n")
			var n int
			if resp.StatusCode == 200 && len(lines) > 1 {
				fmt.Sscan(lines[1], &n)
			}
			if n >= size {
				return
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("no checkpoint of size %d within 15 s", size)
}

// refusedToStart runs serve on dir and expects it to exit non-zero at
// once; it returns what serve printed.
func refusedToStart(t *testing.T, bin, dir string) string {
	t.Helper()
	cmd := exec.Command(bin, "serve", "--data-dir", dir, "--listen", "127.0.0.1:0")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err == nil {
			t.Fatalf("serve exited 0; want a refusal:\n%s", out.String())
		}
	case <-time.After(20 * time.Second):
		cmd.Process.Kill()
		t.Fatalf("serve started; want a refusal:\n%s", out.String())
	}
	if strings.Contains(out.String(), "listening on") {
		t.Fatalf("serve listened before refusing:\n%s", out.String())
	}
	t.Logf("serve refused: %s", out.String())
	return out.String()
}

func TestOneHistory(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and runs the server")
	}
	bin := buildBinary(t)

	t.Run("database deleted while running", func(t *testing.T) {
		dir := t.TempDir()
		p := startServe(t, bin, dir)
		admin := readAdminKey(t, dir)
		for range 5 {
			if code, b := emitHTTP(t, p.url, admin, criticalEvent); code != 201 {
				t.Fatalf("emit: %d %s", code, b)
			}
		}
		waitSigned(t, p, admin, 6) // the bootstrap key's event and five
		for _, suffix := range []string{"", "-wal", "-shm"} {
			os.Remove(filepath.Join(dir, "stigaudit.db"+suffix))
		}
		// Nothing is acknowledged into the unlinked file from the first
		// emit after the deletion on.
		code, b := emitHTTP(t, p.url, admin, criticalEvent)
		var answer struct {
			Error struct{ Code, Message string }
		}
		json.Unmarshal(b, &answer)
		if code != 503 || answer.Error.Code != "store_unavailable" || !strings.Contains(answer.Error.Message, filepath.Join(dir, "stigaudit.db")) {
			t.Fatalf("critical emit after the deletion: %d %s; want 503 store_unavailable naming the file", code, b)
		}
		code, b = emitHTTP(t, p.url, admin, bestEffortEvent)
		if code != 202 || !bytes.Contains(b, []byte(`"stored":false`)) {
			t.Fatalf("best-effort emit after the deletion: %d %s; want 202 stored:false", code, b)
		}
		resp, err := http.Get(p.url + "/readyz")
		if err != nil {
			t.Fatal(err)
		}
		rb, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 503 || !bytes.Contains(rb, []byte("was deleted")) {
			t.Fatalf("readyz after the deletion: %d %s", resp.StatusCode, rb)
		}
		p.kill(syscall.SIGTERM)

		// The restart refuses: no new empty log, admin.key untouched.
		out := refusedToStart(t, bin, dir)
		for _, want := range []string{"no database file", "stigaudit recover --data-dir " + dir + " --start-new-log"} {
			if !strings.Contains(out, want) {
				t.Errorf("refusal does not say %q:\n%s", want, out)
			}
		}
		if got := readAdminKey(t, dir); got != admin {
			t.Fatal("admin.key was overwritten")
		}
		if _, err := os.Stat(filepath.Join(dir, "stigaudit.db")); err == nil {
			t.Fatal("the refused start created a new database")
		}
		recoverAndRestart(t, bin, dir, admin)
	})

	t.Run("WAL truncated while stopped", func(t *testing.T) {
		dir := t.TempDir()
		p := startServe(t, bin, dir)
		admin := readAdminKey(t, dir)
		for range 100 {
			if code, b := emitHTTP(t, p.url, admin, criticalEvent); code != 201 {
				t.Fatalf("emit: %d %s", code, b)
			}
		}
		waitSigned(t, p, admin, 101)
		p.kill(syscall.SIGKILL)
		wal := filepath.Join(dir, "stigaudit.db-wal")
		fi, err := os.Stat(wal)
		if err != nil || fi.Size() < 4096 {
			t.Fatalf("WAL after kill -9: %v (%d bytes); the test needs the events in it", err, fi.Size())
		}
		if err := os.Truncate(wal, fi.Size()/2+1000); err != nil {
			t.Fatal(err)
		}
		out := refusedToStart(t, bin, dir)
		for _, want := range []string{"refusing to start", "was signed at size", "with root", "checkpoint.latest"} {
			if !strings.Contains(out, want) {
				t.Errorf("refusal does not say %q:\n%s", want, out)
			}
		}
		if got := readAdminKey(t, dir); got != admin {
			t.Fatal("admin.key was overwritten")
		}
		recoverAndRestart(t, bin, dir, admin)
	})

	t.Run("signing key deleted", func(t *testing.T) {
		dir := t.TempDir()
		p := startServe(t, bin, dir)
		admin := readAdminKey(t, dir)
		waitSigned(t, p, admin, 1)
		p.kill(syscall.SIGTERM)
		if err := os.Remove(filepath.Join(dir, "checkpoint.key")); err != nil {
			t.Fatal(err)
		}
		out := refusedToStart(t, bin, dir)
		for _, want := range []string{"checkpoint.key is missing", "signed checkpoints up to size", "stigaudit recover --data-dir " + dir + " --start-new-log"} {
			if !strings.Contains(out, want) {
				t.Errorf("refusal does not say %q:\n%s", want, out)
			}
		}
		if _, err := os.Stat(filepath.Join(dir, "checkpoint.key")); err == nil {
			t.Fatal("a new signing key was made")
		}
	})

	t.Run("second server on the directory", func(t *testing.T) {
		dir := t.TempDir()
		p := startServe(t, bin, dir)
		out := refusedToStart(t, bin, dir)
		want := fmt.Sprintf("in use by stigaudit pid %d", p.cmd.Process.Pid)
		if !strings.Contains(out, want) || !strings.Contains(out, "--allow-shared-data-dir") {
			t.Fatalf("second server: %s; want %q", out, want)
		}
	})

	t.Run("admin key readable by others", func(t *testing.T) {
		dir := t.TempDir()
		p := startServe(t, bin, dir)
		p.kill(syscall.SIGTERM)
		key := filepath.Join(dir, "admin.key")
		if err := os.Chmod(key, 0o644); err != nil {
			t.Fatal(err)
		}
		if out := refusedToStart(t, bin, dir); !strings.Contains(out, "chmod 600 "+key) {
			t.Fatalf("admin.key 0644: %s", out)
		}
		os.Chmod(key, 0o600)
		if err := os.Chmod(dir, 0o777); err != nil {
			t.Fatal(err)
		}
		if out := refusedToStart(t, bin, dir); !strings.Contains(out, "chmod go-w "+dir) {
			t.Fatalf("data directory 0777: %s", out)
		}
	})
}

// recoverAndRestart runs the documented recovery and checks the next start
// begins a new log: a new admin key, the old log kept whole beside it.
func recoverAndRestart(t *testing.T, bin, dir, oldAdmin string) {
	t.Helper()
	code, stdout, stderr := cli(t, "recover", "--data-dir", dir, "--start-new-log")
	if code != 0 {
		t.Fatalf("recover: %d %s %s", code, stdout, stderr)
	}
	abandoned, _ := filepath.Glob(filepath.Join(dir, "abandoned-*"))
	if len(abandoned) != 1 {
		t.Fatalf("abandoned directories: %v", abandoned)
	}
	if b, err := os.ReadFile(filepath.Join(abandoned[0], "admin.key")); err != nil || strings.TrimSpace(string(b)) != oldAdmin {
		t.Fatalf("the old admin key is not kept in %s: %v", abandoned[0], err)
	}
	p := startServe(t, bin, dir)
	defer p.kill(syscall.SIGTERM)
	admin := readAdminKey(t, dir)
	if admin == oldAdmin {
		t.Fatal("the new log reuses the old admin key")
	}
	if code, b := emitHTTP(t, p.url, admin, criticalEvent); code != 201 {
		t.Fatalf("emit into the new log: %d %s", code, b)
	}
	if r := p.getStatus(t, "/readyz"); r != 200 {
		t.Fatalf("readyz of the new log: %d", r)
	}
}
