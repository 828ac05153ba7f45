package main

import (
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// httpDo sends one request with an API key (none when key is "") and
// returns the status and body.
func httpDo(t testing.TB, method, url, key, body string) (int, []byte) {
	t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, url, r)
	if err != nil {
		t.Fatal(err)
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// emitHTTP posts one event (or batch) and returns the status and body.
func emitHTTP(t testing.TB, url, key, body string) (int, []byte) {
	t.Helper()
	return httpDo(t, http.MethodPost, url+"/v1/audit/events", key, body)
}

// emitWait posts body to url, query included.
func emitWait(t testing.TB, url, key, body string) (int, []byte) {
	t.Helper()
	return httpDo(t, http.MethodPost, url, key, body)
}

// getWith GETs url with key.
func getWith(t testing.TB, url, key string) (int, []byte) {
	t.Helper()
	return httpDo(t, http.MethodGet, url, key, "")
}

// getCheckpoint returns GET /v1/audit/checkpoint's status and body.
func getCheckpoint(t testing.TB, p *serveProc, key, query string) (int, []byte) {
	t.Helper()
	return getWith(t, p.url+"/v1/audit/checkpoint"+query, key)
}

// metricSum sums the series of a metric served at base+"/metrics" whose
// lines contain want (a label, or "" for all).
func metricSum(t testing.TB, base, name, want string) float64 {
	t.Helper()
	_, b := getWith(t, base+"/metrics", "")
	var sum float64
	for _, line := range strings.Split(string(b), "\n") {
		if (strings.HasPrefix(line, name+"{") || strings.HasPrefix(line, name+" ")) && strings.Contains(line, want) {
			f := strings.Fields(line)
			v, _ := strconv.ParseFloat(f[len(f)-1], 64)
			sum += v
		}
	}
	return sum
}

// toolBin finds a tool the interop tests run: $env, else name in PATH or
// $(go env GOPATH)/bin. Without it the test is skipped with the install
// command, or fails when the require variable is 1 (CI).
func toolBin(t testing.TB, env, require, name, install string) string {
	t.Helper()
	if p := os.Getenv(env); p != "" {
		return p
	}
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	if out, err := exec.Command("go", "env", "GOPATH").Output(); err == nil {
		p := filepath.Join(strings.TrimSpace(string(out)), "bin", name)
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	if os.Getenv(require) == "1" {
		t.Fatalf("%s not found and %s=1 (%s)", name, require, install)
	}
	t.Skipf("%s not found: skipped (%s)", name, install)
	return ""
}
