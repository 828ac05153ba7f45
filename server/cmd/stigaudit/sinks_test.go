package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stigaudit/stigaudit/hostfns/sqlitestore"
	"github.com/stigaudit/stigaudit/server/tlog"
)

// sinkLag returns stigaudit_sink_lag_events for sink on p's /metrics, or
// -1 when the series is missing.
func sinkLag(t *testing.T, p *serveProc, sink string) int64 {
	t.Helper()
	resp, err := http.Get(p.url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	prefix := fmt.Sprintf("stigaudit_sink_lag_events{sink=%q} ", sink)
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), prefix); ok {
			var f float64
			fmt.Sscan(v, &f)
			return int64(f)
		}
	}
	return -1
}

// TestSinkSurvivesKill9 runs the real server with a file sink, kills it
// (SIGKILL) while 8 clients emit, and starts it again: the file sink
// resumes from its cursor, so afterwards the file holds every seq of the
// log in order (the events written after the last saved cursor may appear
// twice, none is missing), and the sink's lag returns to 0 within 30 s.
func TestSinkSurvivesKill9(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and runs the server")
	}
	bin := buildBinary(t)
	dir := t.TempDir()
	sinkFile := filepath.Join(t.TempDir(), "sink.jsonl")
	sinkName := "file:" + sinkFile
	p := startServe(t, bin, dir, "--sink", sinkName)
	admin := readAdminKey(t, dir)

	client := &http.Client{Timeout: 5 * time.Second}
	emit := func(p *serveProc, stop *atomic.Bool, clients, each int) int {
		var wg sync.WaitGroup
		var acked atomic.Int64
		for w := range clients {
			wg.Go(func() {
				for i := 0; (each == 0 || i < each) && !stop.Load(); i++ {
					body := fmt.Sprintf(`{"event_type":"fact_read","entity_uri":"urn:load:%d","detail":{"i":%d}}`, w, i)
					req, _ := http.NewRequest(http.MethodPost, p.url+"/v1/audit/events", strings.NewReader(body))
					req.Header.Set("Authorization", "Bearer "+admin)
					resp, err := client.Do(req)
					if err != nil {
						return // the server is gone
					}
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode == http.StatusCreated {
						acked.Add(1)
					}
				}
			})
		}
		wg.Wait()
		return int(acked.Load())
	}

	var stop atomic.Bool
	done := make(chan int)
	go func() { done <- emit(p, &stop, 8, 0) }()
	time.Sleep(2 * time.Second)
	p.kill(syscall.SIGKILL)
	stop.Store(true)
	before := <-done
	if before < 100 {
		t.Fatalf("only %d events acknowledged before the kill", before)
	}

	p2 := startServe(t, bin, dir, "--sink", sinkName)
	var never atomic.Bool
	after := emit(p2, &never, 4, 25)
	// The newest event, as the API sees it: the lag must come back to 0
	// with the file holding it, while the server runs.
	var newest struct {
		Events []struct {
			Seq int64 `json:"seq"`
		} `json:"events"`
	}
	if err := json.Unmarshal(p2.get(t, admin, "/v1/audit?limit=1"), &newest); err != nil || len(newest.Events) != 1 {
		t.Fatalf("newest event: %v %+v", err, newest)
	}
	last := newest.Events[0].Seq
	start := time.Now()
	for {
		lag := sinkLag(t, p2, sinkName)
		seqs := sinkFileSeqs(t, sinkFile)
		if lag == 0 && len(seqs) > 0 && seqs[len(seqs)-1] >= last {
			break
		}
		if time.Since(start) > 30*time.Second {
			t.Fatalf("30 s after the restart's load: stigaudit_sink_lag_events{sink=%q} = %d, the file ends at seq %d, the log at %d", sinkName, lag, seqs[len(seqs)-1], last)
		}
		time.Sleep(100 * time.Millisecond)
	}
	caughtUp := time.Since(start)
	p2.kill(syscall.SIGTERM)

	store, err := sqlitestore.Open(filepath.Join(dir, DBFile), sqlitestore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	size, err := store.Size(context.Background())
	store.Close()
	if err != nil {
		t.Fatal(err)
	}
	seqs := sinkFileSeqs(t, sinkFile)
	seen := map[int64]int{}
	dups := 0
	for i, s := range seqs {
		if i > 0 && s <= seqs[i-1] && seen[s] == 0 {
			t.Fatalf("seq %d after %d in the sink file: out of order", s, seqs[i-1])
		}
		seen[s]++
		if seen[s] > 1 {
			dups++
		}
	}
	for s := int64(0); s < size; s++ {
		if seen[s] == 0 {
			t.Fatalf("seq %d of %d is missing from the sink file", s, size)
		}
	}
	t.Logf("killed after %d acknowledged events, %d more after the restart; the log holds %d, the file %d lines (%d written twice); lag 0 %v after the restart's load",
		before, after, size, len(seqs), dups, caughtUp.Round(time.Millisecond))
}

// TestServeOCSFSink runs the real server with a format=ocsf file sink:
// every event of the log, the bootstrap key's included, reaches the file
// once as an OCSF record naming the log's origin (the checkpoint key's,
// known only after the sinks were made) in metadata.log_name — an origin
// given with --origin, and one generated with a new log's key.
func TestServeOCSFSink(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and runs the server")
	}
	bin := buildBinary(t)
	for _, given := range []string{"audit.example.org/ocsf-sink", ""} {
		t.Run("origin="+given, func(t *testing.T) { testServeOCSFSink(t, bin, given) })
	}
}

func testServeOCSFSink(t *testing.T, bin, origin string) {
	dir := t.TempDir()
	sinkFile := filepath.Join(t.TempDir(), "siem.ocsf.jsonl")
	spec := "file:" + sinkFile + "?format=ocsf"
	args := []string{"--sink", spec}
	if origin != "" {
		args = append(args, "--origin", origin)
	}
	p := startServe(t, bin, dir, args...)
	admin := readAdminKey(t, dir)
	if origin == "" {
		key, err := tlog.LoadKey(dir)
		if err != nil {
			t.Fatal(err)
		}
		origin = key.Origin
	}
	const n = 20
	for i := range n {
		body := fmt.Sprintf(`{"event_type":"fact_read","entity_uri":"urn:test:%d","detail":{"i":%d}}`, i, i)
		req, _ := http.NewRequest(http.MethodPost, p.url+"/v1/audit/events", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+admin)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusCreated {
			t.Fatalf("emit %d: HTTP %d", i, resp.StatusCode)
		}
	}
	for start := time.Now(); sinkLag(t, p, spec) != 0; time.Sleep(50 * time.Millisecond) {
		if time.Since(start) > 30*time.Second {
			t.Fatalf("stigaudit_sink_lag_events{sink=%q} = %d after 30 s", spec, sinkLag(t, p, spec))
		}
	}
	p.kill(syscall.SIGTERM)
	data, err := os.ReadFile(sinkFile)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[int64]bool{}
	for i, line := range strings.Split(strings.TrimSuffix(string(data), "\n"), "\n") {
		var r struct {
			ClassUID int `json:"class_uid"`
			Metadata struct {
				UID     string `json:"uid"`
				LogName string `json:"log_name"`
			} `json:"metadata"`
			Unmapped struct {
				Seq int64 `json:"seq"`
			} `json:"unmapped"`
		}
		if err := json.Unmarshal([]byte(line), &r); err != nil || r.ClassUID == 0 || r.Metadata.UID == "" {
			t.Fatalf("line %d is not an OCSF record (%v):\n%s", i+1, err, line)
		}
		if r.Metadata.LogName != origin {
			t.Fatalf("line %d: metadata.log_name %q, want %q", i+1, r.Metadata.LogName, origin)
		}
		if seen[r.Unmapped.Seq] {
			t.Fatalf("line %d: seq %d twice", i+1, r.Unmapped.Seq)
		}
		seen[r.Unmapped.Seq] = true
	}
	for s := range int64(n + 1) { // the bootstrap key's event and the n emitted
		if !seen[s] {
			t.Fatalf("seq %d missing from the OCSF sink (%d records)", s, len(seen))
		}
	}
}
