package main

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stigaudit/stigaudit/internal/waitfor"
)

// TestSinkReopensOnSIGHUP runs the real server with two file sinks, one
// filtered and redacted, moves the plain one away as logrotate does
// (without copytruncate) and sends SIGHUP: the server keeps running, a new
// file is started, and the two files together hold every event once; the
// redacted sink never shows an entity_uri in the clear.
func TestSinkReopensOnSIGHUP(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and runs the server")
	}
	bin := buildBinary(t)
	dir := t.TempDir()
	out := t.TempDir()
	plain, siem := filepath.Join(out, "all.jsonl"), filepath.Join(out, "siem.jsonl")
	p := startServe(t, bin, dir, "--sink", "file:"+plain, "--sink", "file:"+siem+"?event_type=fact_read&redact=hmac&max_size=4KiB&keep=100")
	admin := readAdminKey(t, dir)
	emit := func(from, n int) {
		for i := from; i < from+n; i++ {
			body := fmt.Sprintf(`{"event_type":"fact_read","entity_uri":"urn:clear:%d"}`, i)
			req, _ := http.NewRequest(http.MethodPost, p.url+"/v1/audit/events", strings.NewReader(body))
			req.Header.Set("Authorization", "Bearer "+admin)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusCreated {
				t.Fatalf("emit: %s", resp.Status)
			}
		}
	}
	has := func(path string, n int) func() bool {
		return func() bool {
			b, err := os.ReadFile(path)
			return err == nil && bytes.Count(b, []byte("urn:clear:")) >= n
		}
	}
	emit(0, 50)
	waitfor.Until(t, 20*time.Second, "50 events in the sink file", has(plain, 50))
	if err := os.Rename(plain, plain+".1"); err != nil {
		t.Fatal(err)
	}
	p.cmd.Process.Signal(syscall.SIGHUP)
	waitfor.Until(t, 20*time.Second, "a new sink file after SIGHUP", func() bool { _, err := os.Stat(plain); return err == nil })
	emit(50, 50)
	waitfor.Until(t, 20*time.Second, "50 more events in the new sink file", has(plain, 50))
	p.kill(syscall.SIGTERM)

	seen := map[int64]int{}
	for _, f := range []string{plain + ".1", plain} {
		for _, s := range sinkFileSeqs(t, f) {
			seen[s]++
		}
	}
	// The bootstrap key's own event comes first; then the 100 emits.
	for s := range int64(101) {
		if seen[s] != 1 {
			t.Errorf("seq %d is in the two files %d times, want once", s, seen[s])
		}
	}
	matches, _ := filepath.Glob(siem + "*")
	var all []byte
	for _, f := range matches {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, b...)
	}
	if n := bytes.Count(all, []byte("hmac-sha256:")); n < 100 || bytes.Contains(all, []byte("urn:clear:")) {
		t.Errorf("the redacted sink holds %d hashes and clear entity URIs: %v", n, bytes.Contains(all, []byte("urn:clear:")))
	}
	if bytes.Contains(all, []byte(`"api_key_create"`)) {
		t.Error("the event_type=fact_read sink received an api_key_create")
	}
	if len(matches) < 3 {
		t.Errorf("the siem sink's files %v: want rotation at 4KiB", matches)
	}
}
