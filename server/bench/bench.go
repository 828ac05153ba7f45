package bench

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/stigaudit/stigaudit"
	"github.com/stigaudit/stigaudit/core/event"
	"github.com/stigaudit/stigaudit/hostfns/sqlitestore"
)

// Config describes one emit benchmark.
type Config struct {
	// HTTP is the base URL of a running server; "" runs in process.
	HTTP string
	// Key is the API key for HTTP runs (needs audit.write).
	Key string
	// TLS configures the client of an https:// run (a CA to trust, a
	// client certificate); nil uses the system's roots.
	TLS *tls.Config
	// DataDir holds the in-process SQLite file; "" uses a temporary
	// directory that is removed afterwards.
	DataDir string
	// Concurrency is the number of concurrent emitters (default 64).
	Concurrency int
	// Events is the total number of events (default 20000).
	Events int
	// Batch is the number of events per HTTP request (default 1).
	Batch int
	// Baseline also measures one transaction per event, in process.
	Baseline bool
	// DetailBytes pads each event's detail to about this size (default 100).
	DetailBytes int
	// NoFileCheck turns off the store's check, before every commit, that
	// its database is still the file it opened, to measure what it costs.
	NoFileCheck bool
}

// Result is what a run measured. Latencies are per call, in milliseconds.
type Result struct {
	Mode               string  `json:"mode"`
	Concurrency        int     `json:"concurrency"`
	Events             int     `json:"events"`
	Batch              int     `json:"batch"`
	Seconds            float64 `json:"seconds"`
	EventsPerS         float64 `json:"events_per_s"`
	P50Ms              float64 `json:"p50_ms"`
	P99Ms              float64 `json:"p99_ms"`
	MaxMs              float64 `json:"max_ms"`
	Errors             int64   `json:"errors"`
	BaselineEventsPerS float64 `json:"baseline_events_per_s,omitempty"`
	BaselineP50Ms      float64 `json:"baseline_p50_ms,omitempty"`
	BaselineP99Ms      float64 `json:"baseline_p99_ms,omitempty"`
	Ratio              float64 `json:"ratio,omitempty"`
	Cores              int     `json:"cores"`
	// Store names the durable store of an in-process run; an HTTP run
	// cannot see the server's, so it is left out.
	Store string `json:"store,omitempty"`
}

func (c *Config) defaults() {
	if c.Concurrency <= 0 {
		c.Concurrency = 64
	}
	if c.Events <= 0 {
		c.Events = 20000
	}
	if c.Batch <= 0 {
		c.Batch = 1
	}
	if c.DetailBytes <= 0 {
		c.DetailBytes = 100
	}
}

// Run executes the benchmark described by cfg.
func Run(ctx context.Context, cfg Config) (Result, error) {
	cfg.defaults()
	var (
		res Result
		err error
	)
	if cfg.HTTP != "" {
		res, err = runHTTP(ctx, cfg)
	} else {
		res, err = runLocal(ctx, cfg, cfg.DataDir, sqlitestore.Options{DisableFileCheck: cfg.NoFileCheck})
	}
	if err != nil {
		return res, err
	}
	if cfg.Baseline {
		// The seed's way: every event its own transaction and fsync.
		bcfg := cfg
		bcfg.Batch = 1
		base, err := runLocal(ctx, bcfg, "", sqlitestore.Options{MaxBatchEvents: 1})
		if err != nil {
			return res, fmt.Errorf("baseline: %w", err)
		}
		res.BaselineEventsPerS = base.EventsPerS
		res.BaselineP50Ms = base.P50Ms
		res.BaselineP99Ms = base.P99Ms
		if base.EventsPerS > 0 {
			res.Ratio = res.EventsPerS / base.EventsPerS
		}
	}
	return res, nil
}

func detailFor(n int) []byte {
	pad := bytes.Repeat([]byte("x"), n)
	return []byte(`{"action":"bench","pad":"` + string(pad) + `"}`)
}

func runLocal(ctx context.Context, cfg Config, dir string, opts sqlitestore.Options) (Result, error) {
	if dir == "" {
		tmp, err := os.MkdirTemp("", "stigaudit-bench-")
		if err != nil {
			return Result{}, err
		}
		defer os.RemoveAll(tmp)
		dir = tmp
	}
	store, err := sqlitestore.Open(filepath.Join(dir, "stigaudit.db"), opts)
	if err != nil {
		return Result{}, err
	}
	log, err := stigaudit.Open(stigaudit.Options{Store: store})
	if err != nil {
		store.Close()
		return Result{}, err
	}
	defer log.Close()
	detail := detailFor(cfg.DetailBytes)
	call := func(ctx context.Context, i int) error {
		_, err := log.Emit(ctx, event.Draft{
			Type:      "admin_action",
			EntityURI: "urn:bench:emitter-" + strconv.Itoa(i%cfg.Concurrency),
			FactID:    "fact-" + strconv.Itoa(i),
			Detail:    detail,
		})
		return err
	}
	res := drive(ctx, cfg.Concurrency, cfg.Events, 1, call)
	res.Mode = "in-process"
	res.Store = "sqlite synchronous=FULL"
	return res, nil
}

func runHTTP(ctx context.Context, cfg Config) (Result, error) {
	if cfg.Key == "" {
		return Result{}, errors.New("an API key with audit.write is required for --http (STIGAUDIT_KEY)")
	}
	tr := &http.Transport{MaxIdleConns: cfg.Concurrency * 2, MaxIdleConnsPerHost: cfg.Concurrency * 2, MaxConnsPerHost: cfg.Concurrency * 2, TLSClientConfig: cfg.TLS}
	client := &http.Client{Transport: tr, Timeout: 30 * time.Second}
	defer tr.CloseIdleConnections()
	url := cfg.HTTP + "/v1/audit/events"
	detail := string(detailFor(cfg.DetailBytes))
	one := func(i int) string {
		return `{"event_type":"admin_action","entity_uri":"urn:bench:emitter-` + strconv.Itoa(i%cfg.Concurrency) +
			`","fact_id":"fact-` + strconv.Itoa(i) + `","detail":` + detail + `}`
	}
	call := func(ctx context.Context, i int) error {
		var body string
		if cfg.Batch == 1 {
			body = one(i)
		} else {
			var b bytes.Buffer
			b.WriteString(`{"events":[`)
			for j := 0; j < cfg.Batch; j++ {
				if j > 0 {
					b.WriteByte(',')
				}
				b.WriteString(one(i*cfg.Batch + j))
			}
			b.WriteString(`]}`)
			body = b.String()
		}
		return PostEvents(ctx, client, url, cfg.Key, bytes.NewBufferString(body))
	}
	calls := (cfg.Events + cfg.Batch - 1) / cfg.Batch
	res := drive(ctx, cfg.Concurrency, calls, cfg.Batch, call)
	res.Mode = "http"
	return res, nil
}

// drive runs calls calls on c workers and measures them. Each call carries
// per events.
// PostEvents sends one emit request (an event, or {"events":[...]}) to
// url with key, and fails unless it is answered 201.
func PostEvents(ctx context.Context, client *http.Client, url, key string, body io.Reader) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, body)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusCreated {
		return fmt.Errorf("HTTP %d: %s", resp.StatusCode, bytes.TrimSpace(msg))
	}
	return nil
}

func drive(ctx context.Context, c, calls, per int, call func(context.Context, int) error) Result {
	lat := make([]time.Duration, calls)
	var next, errs atomic.Int64
	var firstErr atomic.Value
	var wg sync.WaitGroup
	start := time.Now()
	for w := 0; w < c; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= calls || ctx.Err() != nil {
					return
				}
				t0 := time.Now()
				if err := call(ctx, i); err != nil {
					errs.Add(1)
					firstErr.CompareAndSwap(nil, err.Error())
				}
				lat[i] = time.Since(t0)
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	pct := func(p float64) float64 {
		if len(lat) == 0 {
			return 0
		}
		return ms(lat[int(p*float64(len(lat)-1))])
	}
	res := Result{
		Concurrency: c,
		Events:      calls * per,
		Batch:       per,
		Seconds:     elapsed.Seconds(),
		EventsPerS:  float64(calls*per-int(errs.Load())*per) / elapsed.Seconds(),
		P50Ms:       pct(0.50),
		P99Ms:       pct(0.99),
		Errors:      errs.Load(),
		Cores:       runtimeCores(),
	}
	if len(lat) > 0 {
		res.MaxMs = ms(lat[len(lat)-1])
	}
	if e, ok := firstErr.Load().(string); ok && e != "" {
		fmt.Fprintf(os.Stderr, "bench: %d calls failed; first error: %s\n", errs.Load(), e)
	}
	return res
}
