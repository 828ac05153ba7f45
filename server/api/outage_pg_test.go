package api

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/stigaudit/stigaudit"
	"github.com/stigaudit/stigaudit/hostfns/pgstore"
	"github.com/stigaudit/stigaudit/hostfns/pgstore/pgtest"
	"github.com/stigaudit/stigaudit/hostfns/storetest"
	"github.com/stigaudit/stigaudit/server/auth"
	"github.com/stigaudit/stigaudit/server/metrics"
)

// lockedBuffer is a log destination for concurrent writers.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// count returns how many times s occurs in the log.
func (b *lockedBuffer) count(s string) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return strings.Count(b.buf.String(), s)
}

// linesWith returns the lines of the log that contain any of words.
func (b *lockedBuffer) linesWith(words ...string) string {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []string
	for _, l := range strings.Split(b.buf.String(), "\n") {
		for _, w := range words {
			if strings.Contains(l, w) && !strings.Contains(l, "request failed") && !strings.Contains(l, "best effort") {
				out = append(out, l)
				break
			}
		}
	}
	return strings.Join(out, "\n")
}

// outageTally is what the clients of TestPostgresOutage saw.
type outageTally struct {
	mu       sync.Mutex
	acked    map[string]int64 // id → seq of every 201
	statuses map[string]int   // "<type> <status> <code>" → count
	noRetry  int              // 503 answers without Retry-After
}

func (o *outageTally) add(typ string, status int, code string, retryAfter string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.statuses[fmt.Sprintf("%s %d %s", typ, status, code)]++
	if status == http.StatusServiceUnavailable && retryAfter == "" {
		o.noRetry++
	}
}

// TestPostgresOutage stops PostgreSQL (a cluster of the test's own) for
// 10 s under 16 clients of the real HTTP handler, wired as serve wires
// it, each emitting critical fact_write and best-effort fact_read events:
// no acknowledged event is lost, no best-effort emit answers 503 (the
// clients' keys stay valid on their grace, the emits answer 202
// stored:false), critical emits answer 503 store_unavailable with
// Retry-After, the store dials at most ~20 times a second, the logs say
// each thing once, and critical emits succeed again within 2 s of
// PostgreSQL's return.
func TestPostgresOutage(t *testing.T) {
	if testing.Short() {
		t.Skip("stops a PostgreSQL server for 10 s")
	}
	cl := pgtest.NewCluster(t)
	ctx := context.Background()
	logs := &lockedBuffer{}
	logger := slog.New(slog.NewJSONHandler(logs, nil))
	reg := prometheus.NewRegistry()
	m, err := metrics.New(metrics.Config{Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	st, err := pgstore.Open(ctx, cl.DSN(), pgstore.Options{OnCommit: m.ObserveCommit, Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	keys := auth.New(st.APIKeys(), auth.Options{Params: auth.Params{Time: 1, Memory: 64, Threads: 1}, Logger: logger})
	l, err := stigaudit.Open(stigaudit.Options{Store: st, Logger: logger, Observer: m})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	srv := httptest.NewServer(mount(Config{Log: l, Keys: keys, Metrics: m, Logger: logger}, reg))
	t.Cleanup(srv.Close)

	const clients = 16
	texts := make([]string, clients)
	for i := range texts {
		text, _, err := keys.Create(ctx, auth.Spec{Tenant: "t", EntityURI: fmt.Sprintf("urn:client:%d", i), Perms: auth.PermAuditWrite})
		if err != nil {
			t.Fatal(err)
		}
		texts[i] = text
	}
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: clients}, Timeout: 30 * time.Second}
	tally := &outageTally{acked: map[string]int64{}, statuses: map[string]int{}}
	var lastCritical atomic.Int64 // unix ns of the latest critical 201
	var clientErr atomic.Value
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for c := range clients {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				typ := "fact_write"
				if i%2 == 1 {
					typ = "fact_read"
				}
				body, _ := json.Marshal(ev(typ, "urn:target", "fact_id", fmt.Sprintf("f-%d", c)))
				req, _ := http.NewRequest(http.MethodPost, srv.URL+"/v1/audit/events", bytes.NewReader(body))
				req.Header.Set("Authorization", "Bearer "+texts[c])
				req.Header.Set("Content-Type", "application/json")
				resp, err := hc.Do(req)
				if err != nil {
					clientErr.Store(err)
					return
				}
				raw, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				var a struct {
					ID    string `json:"id"`
					Seq   *int64 `json:"seq"`
					Error struct {
						Code string `json:"code"`
					} `json:"error"`
				}
				_ = json.Unmarshal(raw, &a)
				tally.add(typ, resp.StatusCode, a.Error.Code, resp.Header.Get("Retry-After"))
				switch resp.StatusCode {
				case http.StatusCreated:
					if a.Seq == nil {
						clientErr.Store(fmt.Errorf("201 without a seq: %s", raw))
						return
					}
					tally.mu.Lock()
					tally.acked[a.ID] = *a.Seq
					tally.mu.Unlock()
					if typ == "fact_write" {
						lastCritical.Store(time.Now().UnixNano())
					}
				default:
					time.Sleep(20 * time.Millisecond) // a client backing off a little
				}
			}
		})
	}
	defer func() {
		select {
		case <-stop:
		default:
			close(stop)
			wg.Wait()
		}
	}()

	time.Sleep(2 * time.Second)
	before := st.ConnStats()
	stoppedAt := time.Now()
	cl.Stop()
	time.Sleep(5 * time.Second)
	resp, err := hc.Get(srv.URL + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
		t.Errorf("/readyz during the outage: %d, Retry-After %q; want 503 with Retry-After", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	time.Sleep(10*time.Second - time.Since(stoppedAt))
	during := st.ConnStats()
	down := time.Since(stoppedAt)
	cl.Start()
	back := time.Now()
	for lastCritical.Load() < back.UnixNano() {
		if time.Since(back) > 2*time.Second {
			t.Errorf("no critical emit succeeded within 2 s of PostgreSQL's return (%+v)", st.ConnStats())
			break
		}
		time.Sleep(time.Millisecond)
	}
	recovery := time.Duration(lastCritical.Load() - back.UnixNano())
	// Past a key re-check interval (2 s) without a failure the keys' log
	// says the outage is over.
	time.Sleep(4 * time.Second)
	close(stop)
	wg.Wait()
	if err := clientErr.Load(); err != nil {
		t.Fatalf("client: %v", err)
	}

	dials := during.Dials - before.Dials
	t.Logf("PostgreSQL down %v: %d dials (%d failed, %d refused without dialing); first critical 201 %v after its return",
		down.Round(time.Millisecond), dials, during.Failures-before.Failures, during.Refused-before.Refused, recovery.Round(time.Millisecond))
	t.Logf("answers: %v", tally.statuses)
	for k, n := range tally.statuses {
		f := strings.Fields(k)
		typ, status := f[0], f[1]
		switch {
		case status == "201":
		case typ == "fact_read" && status == "503":
			t.Errorf("%d best-effort emits answered 503 (%s)", n, k)
		case typ == "fact_read" && status == "202":
		case typ == "fact_write" && status == "503" && f[2] == "store_unavailable":
		default:
			t.Errorf("%d unexpected answers %q", n, k)
		}
	}
	if tally.statuses["fact_write 503 store_unavailable"] == 0 || tally.statuses["fact_read 202 "] == 0 {
		t.Errorf("the outage was not seen: %v", tally.statuses)
	}
	if tally.noRetry > 0 {
		t.Errorf("%d 503 answers without Retry-After", tally.noRetry)
	}
	if max := uint64(20*down.Seconds()) + pgstore.DefaultMaxConns; dials > max {
		t.Errorf("%d dials in %v of outage, want at most %d", dials, down, max)
	}

	// Every acknowledged event is in the log, with the seq it was given.
	stored := map[string]int64{}
	for _, e := range storetest.Stored(t, st) {
		stored[e.ID] = e.Seq
	}
	lost := 0
	for id, seq := range tally.acked {
		if got, ok := stored[id]; !ok || got != seq {
			lost++
		}
	}
	t.Logf("%d acknowledged events, %d stored", len(tally.acked), len(stored))
	if lost > 0 {
		t.Errorf("%d of %d acknowledged events are not in the log", lost, len(tally.acked))
	}

	for _, c := range []struct {
		line     string
		min, max int
	}{
		{"PostgreSQL unreachable", 1, 1},
		{"PostgreSQL reachable again", 1, 1},
		{"PostgreSQL still unreachable", 0, 3},
		{"API keys cannot be re-checked", 1, 1},
		{"API keys are re-checked again", 1, 1},
		{`"msg":"request failed"`, 1, 4}, // at most one per 5 s per code
	} {
		if n := logs.count(c.line); n < c.min || n > c.max {
			t.Errorf("the log has %d lines %q, want %d to %d:\n%s", n, c.line, c.min, c.max, logs.linesWith("PostgreSQL", "API keys"))
		}
	}
}
