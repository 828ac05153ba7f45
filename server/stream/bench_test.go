package stream_test

import (
	"bytes"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stigaudit/stigaudit"
	"github.com/stigaudit/stigaudit/core/event"
	"github.com/stigaudit/stigaudit/hostfns/sqlitestore"
	"github.com/stigaudit/stigaudit/server"
	"github.com/stigaudit/stigaudit/server/auth"
	"github.com/stigaudit/stigaudit/server/stream"
)

// commitClock records when each seq was committed: it sits beside the Hub
// in the Log's Observer, so it is told right after each commit.
type commitClock struct {
	mu sync.Mutex
	at map[int64]time.Time
}

func (c *commitClock) Committed(evs []event.Event) {
	now := time.Now()
	c.mu.Lock()
	for _, e := range evs {
		c.at[e.Seq] = now
	}
	c.mu.Unlock()
}
func (c *commitClock) Emitted(int, time.Duration, error)      {}
func (c *commitClock) BestEffortFailed(string, string, error) {}

// BenchmarkStreamLatency: 50 SSE readers follow the log while 16 emitters
// append as fast as they can (durable, synchronous=FULL, group commit);
// it reports the delay from each event's commit to its arrival at each
// reader (p50, p99, max over every reader and event) and the emit rate.
func BenchmarkStreamLatency(b *testing.B) {
	const readers, emitters, events = 50, 16, 4000
	for b.Loop() {
		store, err := sqlitestore.Open(filepath.Join(b.TempDir(), "db"), sqlitestore.Options{})
		if err != nil {
			b.Fatal(err)
		}
		clock := &commitClock{at: make(map[int64]time.Time, events)}
		hub := stream.NewHub(stream.HubOptions{})
		log, err := stigaudit.Open(stigaudit.Options{Store: store, Observer: stream.Tee(clock, hub)})
		if err != nil {
			b.Fatal(err)
		}
		keys := auth.New(store.APIKeys(), auth.Options{Params: auth.Params{Time: 1, Memory: 64, Threads: 1}})
		h, err := server.New(server.Config{Log: log, Keys: keys, Store: store, Hub: hub})
		if err != nil {
			b.Fatal(err)
		}
		srv := httptest.NewServer(h)
		n := &node{log: log, keys: keys, hub: hub, srv: srv}
		key := n.key(b, "acme", "urn:auditor", "audit.read")

		arrivals := make([][]time.Time, readers) // by seq
		var rg sync.WaitGroup
		for r := range readers {
			c := n.open(b, key, "?from=0", nil)
			arrivals[r] = make([]time.Time, events)
			rg.Add(1)
			go func() {
				defer rg.Done()
				for got := 0; got < events; got++ {
					ev, err := c.next()
					if err != nil || ev.typ != "" {
						b.Errorf("reader %d after %d events: %v %s", r, got, err, ev.data)
						return
					}
					seq, _ := strconv.ParseInt(ev.id, 10, 64)
					arrivals[r][seq] = ev.at
				}
			}()
		}
		for hub.Readers() < readers {
			time.Sleep(time.Millisecond)
		}
		start := time.Now()
		var eg sync.WaitGroup
		for w := range emitters {
			eg.Add(1)
			go func() {
				defer eg.Done()
				for i := w; i < events; i += emitters {
					if _, err := log.Emit(ctx, event.Draft{Type: "fact_write", Tenant: "acme", EntityURI: "urn:p",
						FactID: "f" + strconv.Itoa(i), Detail: bytes.Repeat([]byte(`{"k":"v"}`), 1)}); err != nil {
						b.Error(err)
						return
					}
				}
			}()
		}
		eg.Wait()
		emitRate := float64(events) / time.Since(start).Seconds()
		rg.Wait()
		var lat []time.Duration
		clock.mu.Lock()
		for r := range arrivals {
			for seq, at := range arrivals[r] {
				lat = append(lat, max(0, at.Sub(clock.at[int64(seq)])))
			}
		}
		clock.mu.Unlock()
		slices.Sort(lat)
		pct := func(p float64) float64 { return float64(lat[int(p*float64(len(lat)-1))].Microseconds()) / 1000 }
		b.ReportMetric(pct(0.5), "p50_ms")
		b.ReportMetric(pct(0.99), "p99_ms")
		b.ReportMetric(pct(1), "max_ms")
		b.ReportMetric(emitRate, "emits/s")
		hub.Close()
		srv.Close()
		log.Close()
	}
}
