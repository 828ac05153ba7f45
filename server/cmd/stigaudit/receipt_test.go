package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// getReceipt fetches GET /v1/audit/events/{id}/receipt.
func getReceipt(t *testing.T, url, key, id string) (int, []byte) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url+"/v1/audit/events/"+id+"/receipt", nil)
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// TestReceipts: an emitter gets a receipt for its event that `stigaudit
// verify --receipt` checks offline with only the verifier key; a changed
// receipt fails; a key that may not read the event gets none.
func TestReceipts(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the server")
	}
	bin := buildBinary(t)
	dir := t.TempDir()
	p := startServe(t, bin, dir)
	admin := readAdminKey(t, dir)
	_, vkeyOut, _ := cli(t, "keys", "checkpoint-key", "--data-dir", dir)
	vkey := strings.TrimSpace(vkeyOut)
	var ids []string
	for range 7 {
		code, b := emitHTTP(t, p.url, admin, criticalEvent)
		if code != 201 {
			t.Fatalf("emit: %d %s", code, b)
		}
		var e struct{ ID string }
		json.Unmarshal(b, &e)
		ids = append(ids, e.ID)
	}
	waitSigned(t, p, admin, 8)
	code, rec := getReceipt(t, p.url, admin, ids[4])
	if code != 200 || !bytes.HasPrefix(rec, []byte("c2sp.org/tlog-proof@v1\nextra ")) {
		t.Fatalf("receipt: %d %s", code, rec)
	}
	file := filepath.Join(t.TempDir(), "event.tlog-proof")
	os.WriteFile(file, rec, 0o644)
	code, out, stderr := cli(t, "verify", "--receipt", file, "--key", vkey)
	if code != 0 || !strings.Contains(out, "OK: event "+ids[4]) {
		t.Fatalf("verify --receipt: %d %s %s", code, out, stderr)
	}
	// One changed byte anywhere that matters fails.
	lines := strings.Split(string(rec), "\n")
	lines[2] = "index 3" // another event's place
	os.WriteFile(file, []byte(strings.Join(lines, "\n")), 0o644)
	if code, out, stderr := cli(t, "verify", "--receipt", file, "--key", vkey); code == 0 {
		t.Fatalf("a receipt moved to another index verified: %s %s", out, stderr)
	}
	// A key of another tenant cannot get it.
	_, other, stderr := cli(t, "keys", "create", "--data-dir", dir, "--tenant", "other", "--entity", "urn:x", "--perm", "read,audit.read")
	if code, b := getReceipt(t, p.url, strings.TrimSpace(other), ids[4]); code != 404 {
		t.Fatalf("another tenant's receipt: %d %s (%s)", code, b, stderr)
	}
}
