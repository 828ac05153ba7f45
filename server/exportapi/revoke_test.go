package exportapi_test

import (
	"bufio"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stigaudit/stigaudit/server/auth"
	"github.com/stigaudit/stigaudit/server/exportapi"
)

// TestExportEndsWhenItsKeyIsRevoked: an export running for a client that
// has stopped reading ends soon after another process (the CLI) revokes
// its key; it is recorded as ended by key_revoked and never looks
// complete.
func TestExportEndsWhenItsKeyIsRevoked(t *testing.T) {
	n := newNode(t, nodeOpts{fill: 100000})
	key := n.key(t, "acme", "urn:auditor", "audit.read")
	resp := n.do(t, http.MethodGet, exportapi.Route+"?format=csv", key, nil)
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d", resp.StatusCode)
	}
	br := bufio.NewReader(resp.Body)
	if _, err := br.ReadString('\n'); err != nil { // the CSV header; then stop reading
		t.Fatal(err)
	}
	cli := auth.New(n.store.APIKeys(), auth.Options{})
	start := time.Now()
	if err := cli.Revoke(ctx, strings.Split(key, "_")[1]); err != nil {
		t.Fatal(err)
	}
	var end string
	deadline := time.Now().Add(10 * time.Second)
	for end == "" {
		if time.Now().After(deadline) {
			t.Fatal("the export was not recorded as ended after its key was revoked")
		}
		for _, e := range n.exportEvents(t) {
			if strings.Contains(string(e.Detail), `"phase":"end"`) {
				end = string(e.Detail)
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	took := time.Since(start)
	if !strings.Contains(end, `"error":"key_revoked"`) || !strings.Contains(end, `"complete":false`) {
		t.Fatalf("end record %s, want complete false and error key_revoked", end)
	}
	if _, err := io.Copy(io.Discard, br); err == nil {
		t.Fatal("the cut export read to a clean end")
	}
	if resp.Trailer.Get(exportapi.TrailerComplete) == "true" {
		t.Fatal("the cut export says it is complete")
	}
	t.Logf("the export ended %v after the revocation", took)
}
