package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stigaudit/stigaudit/server/auth"
	"github.com/stigaudit/stigaudit/server/export"
	"github.com/stigaudit/stigaudit/server/exportapi"
)

func TestRecordTracker(t *testing.T) {
	csvText := "seq,id,source\r\n0,a,plain\r\n1,b,\"multi\r\nline, \"\"quoted\"\"\"\r\n22,c,\"x\ny\"\r\n"
	ndjson := `{"detail":{"seq":99},"id":"a","seq":3}` + "\n" + `{"id":"b","proof":{"seq":4},"seq":4}` + "\n" + `{"checkpoint":"x\ny"}` + "\n"
	ocsfText := `{"class_uid":6003,"unmapped":{"seq":5,"detail":{"seq":99}}}` + "\n" + `{"class_uid":3004,"unmapped":{"proof":{"seq":7},"seq":7}}` + "\n" + `{"checkpoint":"x\ny"}` + "\n"
	for _, tc := range []struct {
		name, format, text string
		records, last      int64
	}{
		{"csv", "csv", csvText, 3, 22},
		{"csv cut inside a quoted cell", "csv", csvText[:strings.Index(csvText, "line")], 1, 0},
		{"csv cut mid record", "csv", csvText[:len(csvText)-3], 2, 1},
		{"csv header only", "csv", "seq,id\r\n", 0, -1},
		{"ndjson", "ndjson", ndjson, 2, 4},
		{"ndjson cut mid line", "ndjson", ndjson[:50], 1, 3},
		{"ocsf", "ocsf", ocsfText, 2, 7},
		{"ocsf cut mid line", "ocsf", ocsfText[:70], 1, 5},
	} {
		for _, step := range []int{1, 3, 7, 1 << 20} {
			t.Run(fmt.Sprintf("%s/%d", tc.name, step), func(t *testing.T) {
				var out bytes.Buffer
				tr := newRecordTracker(&out, tc.format)
				for b := []byte(tc.text); len(b) > 0; {
					n := min(step, len(b))
					if w, err := tr.Write(b[:n]); w != n || err != nil {
						t.Fatalf("Write = %d, %v", w, err)
					}
					b = b[n:]
				}
				if tr.records != tc.records || tr.lastSeq != tc.last {
					t.Fatalf("records %d, last %d; want %d, %d", tr.records, tr.lastSeq, tc.records, tc.last)
				}
				// Only whole records are passed on.
				if want := wholeRecords(tc.format, tc.text); out.String() != want {
					t.Fatalf("passed on %q, want %q", out.String(), want)
				}
			})
		}
	}
}

// wholeRecords is the prefix of text made of whole records.
func wholeRecords(format, text string) string {
	if format != "csv" {
		return text[:strings.LastIndexByte(text, '\n')+1]
	}
	end, quote := 0, false
	for i := 0; i < len(text); i++ {
		switch text[i] {
		case '"':
			quote = !quote
		case '\n':
			if !quote {
				end = i + 1
			}
		}
	}
	return text[:end]
}

// serveInProcess runs `stigaudit serve` on a free port and returns its URL
// and data directory.
func serveInProcess(t *testing.T) (string, string) {
	t.Helper()
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- cmdServe(ctx, []string{"--data-dir", dir, "--listen", "127.0.0.1:0"}, pw, io.Discard)
		pw.Close()
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	line, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil {
		t.Fatalf("serve: %v", err)
	}
	go io.Copy(io.Discard, pr)
	url, ok := strings.CutPrefix(strings.TrimSpace(line), "stigaudit listening on ")
	if !ok {
		t.Fatalf("serve said %q", line)
	}
	return url, dir
}

func postEvent(t *testing.T, url, key, body string) {
	t.Helper()
	req, _ := http.NewRequest("POST", url+"/v1/audit/events", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 201 {
		t.Fatalf("emit: %d", resp.StatusCode)
	}
}

// TestExportRemote exports through a running server and from its data
// directory: the same records.
func TestExportRemote(t *testing.T) {
	url, dir := serveInProcess(t)
	admin, err := os.ReadFile(filepath.Join(dir, auth.AdminKeyFile))
	if err != nil {
		t.Fatal(err)
	}
	key := strings.TrimSpace(string(admin))
	for i := range 40 {
		postEvent(t, url, key, fmt.Sprintf(`{"event_type":"fact_write","entity_uri":"urn:p:%d","source":"=1+%d","detail":{"note":"a,\"b\"\nc"}}`, i, i))
	}
	t.Setenv("STIGAUDIT_KEY", key)
	exportCSV := func(args ...string) [][]string {
		t.Helper()
		var out, errOut bytes.Buffer
		if code := run(context.Background(), append([]string{"export", "--format", "csv", "--event-type", "fact_write"}, args...), &out, &errOut); code != 0 {
			t.Fatalf("export %v: exit %d: %s", args, code, errOut.String())
		}
		recs, err := csv.NewReader(&out).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		return recs[1:]
	}
	remote := exportCSV("--server", url)
	local := exportCSV("--data-dir", dir)
	if len(remote) != 40 || fmt.Sprint(remote) != fmt.Sprint(local) {
		t.Fatalf("remote %d records, local %d, equal: %v", len(remote), len(local), fmt.Sprint(remote) == fmt.Sprint(local))
	}
	if remote[0][10] != "'=1+0" {
		t.Fatalf("source cell %q is not neutralised", remote[0][10])
	}
	// --from continues.
	if rest := exportCSV("--server", url, "--from", remote[30][0]); len(rest) != 10 || rest[0][0] != remote[30][0] {
		t.Fatalf("--from %s: %d records", remote[30][0], len(rest))
	}
	// NDJSON, redacted.
	var out, errOut bytes.Buffer
	if code := run(context.Background(), []string{"export", "--format", "ndjson", "--server", url, "--redact", "--event-type", "fact_write"}, &out, &errOut); code != 0 {
		t.Fatalf("ndjson: exit %d: %s", code, errOut.String())
	}
	if bytes.Contains(out.Bytes(), []byte("urn:p:")) {
		t.Fatal("a redacted export holds a clear entity_uri")
	}
	r := export.NewReader(&out)
	n := 0
	for r.Next() {
		n++
	}
	if r.Err() != nil || n != 40 || r.Trailer() == nil {
		t.Fatalf("ndjson: %d events, %v", n, r.Err())
	}
	// OCSF, remote and local: 40 API Activity / Create records, each with
	// its seq in unmapped, then the checkpoint line.
	for _, where := range [][]string{{"--server", url}, {"--data-dir", dir}} {
		out.Reset()
		errOut.Reset()
		if code := run(context.Background(), append([]string{"export", "--format", "ocsf", "--event-type", "fact_write"}, where...), &out, &errOut); code != 0 {
			t.Fatalf("ocsf %v: exit %d: %s", where, code, errOut.String())
		}
		lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
		if len(lines) != 41 || !strings.HasPrefix(lines[40], `{"checkpoint":`) || !strings.Contains(errOut.String(), "exported 40 events") {
			t.Fatalf("ocsf %v: %d lines, stderr %s", where, len(lines), errOut.String())
		}
		for _, l := range lines[:40] {
			if !strings.HasPrefix(l, `{"activity_id":1,`) || !strings.Contains(l, `"type_uid":600301,`) || !strings.Contains(l, `"unmapped":{"seq":`) {
				t.Fatalf("ocsf %v: %s", where, l)
			}
		}
	}
	// A key without audit.read is refused.
	var ro bytes.Buffer
	runErr := run(context.Background(), []string{"keys", "create", "--data-dir", dir, "--tenant", "default", "--entity", "urn:r", "--perm", "read"}, &ro, io.Discard)
	if runErr != 0 {
		t.Fatal("keys create failed")
	}
	t.Setenv("STIGAUDIT_KEY", strings.TrimSpace(ro.String()))
	errOut.Reset()
	if code := run(context.Background(), []string{"export", "--format", "csv", "--server", url}, io.Discard, &errOut); code != 1 || !strings.Contains(errOut.String(), "403 forbidden") {
		t.Fatalf("read key: exit %d: %s", code, errOut.String())
	}
}

// TestExportRemoteInterrupted: a connection that breaks mid-export leaves
// whole records on standard output and names the --from that continues.
func TestExportRemoteInterrupted(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set(exportapi.HeaderCheckpointSize, "100")
		w.Header().Set("Trailer", exportapi.TrailerComplete)
		io.WriteString(w, "seq,id,source\r\n5,a,x\r\n9,b,\"two\nlines\"\r\n12,c,\"cut")
		w.(http.Flusher).Flush()
		time.Sleep(10 * time.Millisecond)
		panic(http.ErrAbortHandler)
	}))
	defer srv.Close()
	t.Setenv("STIGAUDIT_KEY", "k")
	var out, errOut bytes.Buffer
	code := run(context.Background(), []string{"export", "--format", "csv", "--server", srv.URL}, &out, &errOut)
	if code != 1 || !strings.Contains(errOut.String(), "interrupted after seq 9") || !strings.Contains(errOut.String(), "--from 10") {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	if want := "seq,id,source\r\n5,a,x\r\n9,b,\"two\nlines\"\r\n"; out.String() != want {
		t.Fatalf("standard output %q, want the whole records %q", out.String(), want)
	}
}
