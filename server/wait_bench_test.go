package server_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stigaudit/stigaudit/server/auth"
	"github.com/stigaudit/stigaudit/server/tlog"
)

// BenchmarkWaitCheckpoint: 64 concurrent emitters each POST one event with
// ?wait=checkpoint to a server whose checkpointer signs at the default
// cadence (tlog.DefaultInterval), and every answer must carry a receipt.
// It reports the p50 and p99 of the answer time; the goal
// (docs/tamper-evidence.md#receipts) is the cadence + 1 s at p99.
//
//	go test -run '^$' -bench WaitCheckpoint -benchtime 3000x ./server/
func BenchmarkWaitCheckpoint(b *testing.B) {
	srv, keys, cp := fullServerSigning(b)
	cp.Start()
	defer cp.Stop(context.Background())
	text, _, err := keys.Create(context.Background(), auth.Spec{Tenant: "acme", EntityURI: "urn:bench:emitter", Perms: auth.PermAuditWrite})
	if err != nil {
		b.Fatal(err)
	}
	const emitters = 64
	var (
		mu   sync.Mutex
		lats []time.Duration
	)
	work := make(chan int)
	var wg sync.WaitGroup
	for range emitters {
		wg.Go(func() {
			for i := range work {
				body := fmt.Sprintf(`{"event_type":"fact_read","entity_uri":"agent:%d","detail":{"n":%d}}`, i, i)
				req, _ := http.NewRequest("POST", srv.URL+"/v1/audit/events?wait=checkpoint", strings.NewReader(body))
				req.Header.Set("Authorization", "Bearer "+text)
				req.Header.Set("Content-Type", "application/json")
				start := time.Now()
				resp, err := srv.Client().Do(req)
				if err != nil {
					b.Error(err)
					return
				}
				out, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				d := time.Since(start)
				if resp.StatusCode != http.StatusCreated || !strings.Contains(string(out), `"receipt"`) {
					b.Errorf("answer %d without a receipt: %.200s", resp.StatusCode, out)
					return
				}
				mu.Lock()
				lats = append(lats, d)
				mu.Unlock()
			}
		})
	}
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		work <- i
	}
	close(work)
	wg.Wait()
	b.StopTimer()
	if len(lats) == 0 {
		return
	}
	slices.Sort(lats)
	p := func(q float64) time.Duration { return lats[min(len(lats)-1, int(q*float64(len(lats))))] }
	b.ReportMetric(float64(p(0.50).Milliseconds()), "p50-ms")
	b.ReportMetric(float64(p(0.99).Milliseconds()), "p99-ms")
	b.ReportMetric(float64((tlog.DefaultInterval + time.Second).Milliseconds()), "goal-p99-ms")
}
