package main

import (
	"bufio"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stigaudit/stigaudit/hostfns/pgstore/pgtest"
)

// TestServeSurvivesPostgresOutage runs the real binary on a PostgreSQL
// cluster of the test's own and stops that cluster: critical emits answer
// 503 store_unavailable with Retry-After, best-effort ones 202
// stored:false, /metrics shows the outage, the log announces it once and
// its end once, and critical emits succeed again after PostgreSQL returns.
func TestServeSurvivesPostgresOutage(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and stops a PostgreSQL server")
	}
	cl := pgtest.NewCluster(t)
	bin := buildBinary(t)
	dir := t.TempDir()
	logPath := filepath.Join(dir, "serve.log")
	logf, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	cmd := exec.Command(bin, "serve", "--data-dir", dir, "--database-url", cl.DSN(), "--listen", "127.0.0.1:0")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(20 * time.Second):
			cmd.Process.Kill()
			<-exited
		}
	})
	var url string
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		if u, ok := strings.CutPrefix(sc.Text(), "stigaudit listening on "); ok {
			url = u
			break
		}
	}
	go io.Copy(io.Discard, stdout)
	if url == "" {
		b, _ := os.ReadFile(logPath)
		t.Fatalf("serve did not start: %s", b)
	}
	admin := readAdminKey(t, dir)
	client := &http.Client{Timeout: 10 * time.Second}
	emit := func(typ string) (int, string, string) {
		t.Helper()
		body := `{"event_type":"` + typ + `","entity_uri":"urn:outage","fact_id":"f-1"}`
		req, _ := http.NewRequest(http.MethodPost, url+"/v1/audit/events", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+admin)
		req.Header.Set("Content-Type", "application/json")
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b), resp.Header.Get("Retry-After")
	}
	metric := func(name string) string {
		t.Helper()
		resp, err := client.Get(url + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		m := regexp.MustCompile(`(?m)^` + name + ` (\S+)$`).FindStringSubmatch(string(b))
		if m == nil {
			t.Fatalf("/metrics has no %s", name)
		}
		return m[1]
	}

	if code, body, _ := emit("fact_write"); code != http.StatusCreated {
		t.Fatalf("before the outage: %d %s", code, body)
	}
	if got := metric("stigaudit_postgres_down"); got != "0" {
		t.Errorf("stigaudit_postgres_down = %s before the outage", got)
	}
	cl.Stop()
	deadline := time.Now().Add(3 * time.Second)
	for time.Now().Before(deadline) {
		code, body, retry := emit("fact_write")
		if code != http.StatusServiceUnavailable || !strings.Contains(body, `"store_unavailable"`) || retry == "" {
			t.Fatalf("critical emit during the outage: %d %s (Retry-After %q)", code, body, retry)
		}
		code, body, _ = emit("fact_read")
		if code != http.StatusAccepted || !strings.Contains(body, `"stored":false`) {
			t.Fatalf("best-effort emit during the outage: %d %s", code, body)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if got := metric("stigaudit_postgres_down"); got != "1" {
		t.Errorf("stigaudit_postgres_down = %s during the outage", got)
	}
	cl.Start()
	back := time.Now()
	for {
		code, _, _ := emit("fact_write")
		if code == http.StatusCreated {
			break
		}
		if time.Since(back) > 5*time.Second {
			t.Fatalf("critical emits still fail 5 s after PostgreSQL returned: %d", code)
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Logf("critical emits succeed again %v after pg_ctl start returned", time.Since(back).Round(time.Millisecond))
	if got := metric("stigaudit_postgres_down"); got != "0" {
		t.Errorf("stigaudit_postgres_down = %s after the outage", got)
	}
	if got := metric("stigaudit_postgres_outages_total"); got != "1" {
		t.Errorf("stigaudit_postgres_outages_total = %s, want 1", got)
	}
	// The keys' log says the outage is over once re-checks have succeeded
	// for a re-check interval (2 s).
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); {
		if code, body, _ := emit("fact_write"); code != http.StatusCreated {
			t.Fatalf("after the outage: %d %s", code, body)
		}
		if logs, _ := os.ReadFile(logPath); strings.Contains(string(logs), "API keys are re-checked again") {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	logs, _ := os.ReadFile(logPath)
	for line, want := range map[string]int{
		"PostgreSQL unreachable":        1,
		"PostgreSQL reachable again":    1,
		"API keys cannot be re-checked": 1,
		"API keys are re-checked again": 1,
	} {
		if n := strings.Count(string(logs), line); n != want {
			t.Errorf("the server log has %d lines %q, want %d:\n%s", n, line, want, logs)
		}
	}
}
