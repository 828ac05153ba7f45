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

// TestReceiptNotInTime: a wait longer than --max-wait answers 202 with the
// stored event and no receipt.
func TestReceiptNotInTime(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the server")
	}
	bin := buildBinary(t)
	dir := t.TempDir()
	p := startServe(t, bin, dir, "--max-wait", "1ms")
	admin := readAdminKey(t, dir)
	code, b := emitWait(t, p.url+"/v1/audit/events?wait=checkpoint", admin, criticalEvent)
	if code != 202 || bytes.Contains(b, []byte(`"receipt"`)) || !bytes.Contains(b, []byte(`"seq":`)) || bytes.Contains(b, []byte(`"stored":false`)) {
		t.Fatalf("a wait that ran out: %d %s", code, b)
	}
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
	vkey := verifierKey(t, dir)
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
	// wait=checkpoint: the answer carries the receipt, one per event of a
	// batch, each verifying offline.
	for _, body := range []string{criticalEvent, `{"events":[` + criticalEvent + `,` + bestEffortEvent + `,` + criticalEvent + `]}`} {
		code, b := emitWait(t, p.url+"/v1/audit/events?wait=checkpoint", admin, body)
		if code != 201 {
			t.Fatalf("wait=checkpoint: %d %s", code, b)
		}
		var one struct{ Receipt string }
		var many struct{ Events []struct{ Receipt string } }
		json.Unmarshal(b, &one)
		json.Unmarshal(b, &many)
		recs := []string{one.Receipt}
		if strings.HasPrefix(body, `{"events"`) {
			recs = nil
			for _, e := range many.Events {
				recs = append(recs, e.Receipt)
			}
		}
		if len(recs) == 0 {
			t.Fatalf("no receipts in %s", b)
		}
		for _, r := range recs {
			os.WriteFile(file, []byte(r), 0o644)
			if code, out, stderr := cli(t, "verify", "--receipt", file, "--key", vkey); code != 0 {
				t.Fatalf("a receipt from wait=checkpoint: %d %s %s\n%s", code, out, stderr, r)
			}
		}
	}
	if code, b := emitWait(t, p.url+"/v1/audit/events?wait=witnessed", admin, criticalEvent); code != 400 {
		t.Fatalf("wait=witnessed without a policy: %d %s", code, b)
	}
	if code, b := emitWait(t, p.url+"/v1/audit/events?wait=soon", admin, criticalEvent); code != 400 {
		t.Fatalf("wait=soon: %d %s", code, b)
	}

	// A key of another tenant cannot get it.
	_, other, stderr := cli(t, "keys", "create", "--data-dir", dir, "--tenant", "other", "--entity", "urn:x", "--perm", "read,audit.read")
	if code, b := getReceipt(t, p.url, strings.TrimSpace(other), ids[4]); code != 404 {
		t.Fatalf("another tenant's receipt: %d %s (%s)", code, b, stderr)
	}
}
