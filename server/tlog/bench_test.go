package tlog_test

import (
	"crypto/rand"
	"fmt"
	mrand "math/rand/v2"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stigaudit/stigaudit"
	"github.com/stigaudit/stigaudit/core/event"
	"github.com/stigaudit/stigaudit/hostfns/sqlitestore"
	"github.com/stigaudit/stigaudit/server"
	"github.com/stigaudit/stigaudit/server/auth"
	"github.com/stigaudit/stigaudit/server/monitor"
	"github.com/stigaudit/stigaudit/server/tlog"
)

// The 1,000,000-event store is built only when a benchmark that needs it
// runs (never by `go test` without -bench), once per process.
const benchLogSize = 1_000_000

var (
	bench1MOnce sync.Once
	bench1M     *node
	bench1MDir  string
)

// TestMain removes the 1M-event store after the benchmarks.
func TestMain(m *testing.M) {
	code := m.Run()
	if bench1M != nil {
		bench1M.close()
		os.RemoveAll(bench1MDir)
	}
	os.Exit(code)
}

func store1M(b *testing.B) *node {
	bench1MOnce.Do(func() {
		// b.TempDir would vanish with the first benchmark that uses it.
		dir, err := os.MkdirTemp("", "stigaudit-tlog-bench-")
		if err != nil {
			b.Fatal(err)
		}
		bench1MDir = dir
		start := time.Now()
		st, err := sqlitestore.Open(filepath.Join(dir, "stigaudit.db"), sqlitestore.Options{Synchronous: "OFF"})
		if err != nil {
			b.Fatal(err)
		}
		for i := 0; i < benchLogSize; i += 1000 {
			if _, err := st.Append(ctx, testEvents(i, 1000)); err != nil {
				b.Fatal(err)
			}
		}
		st.Close()
		b.Logf("built a %d-event store in %v", benchLogSize, time.Since(start))
		// Not openNode: its cleanup would close the store after the first
		// benchmark. TestMain removes the directory.
		if st, err = sqlitestore.Open(filepath.Join(dir, "stigaudit.db"), sqlitestore.Options{}); err != nil {
			b.Fatal(err)
		}
		key, err := tlog.LoadOrCreateKey(dir, "", rand.Reader)
		if err != nil {
			b.Fatal(err)
		}
		cp, err := tlog.New(ctx, tlog.Config{Tree: st, Checkpoints: st.Checkpoints(), Key: key, Logger: quiet})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := cp.Sync(ctx); err != nil {
			b.Fatal(err)
		}
		bench1M = &node{t: b, dir: dir, store: st, key: key, cp: cp, next: benchLogSize}
	})
	if bench1M == nil {
		b.Fatal("no 1M store")
	}
	bench1M.t = b
	return bench1M
}

// BenchmarkInclusionProof1M serves inclusion proofs for random events of a
// 1,000,000-event SQLite log, as GET /v1/audit/proof/inclusion does (minus
// HTTP), and reports the p50 and p99 latency.
func BenchmarkInclusionProof1M(b *testing.B) {
	n := store1M(b)
	p := tlog.NewProver(n.store, n.cp)
	rng := mrand.New(mrand.NewPCG(1, 2))
	lat := make([]time.Duration, 0, 1<<16)
	b.ResetTimer()
	for b.Loop() {
		seq := rng.Uint64N(benchLogSize)
		start := time.Now()
		pr, err := p.Inclusion(ctx, seq, 0)
		lat = append(lat, time.Since(start))
		if err != nil || pr.TreeSize != benchLogSize {
			b.Fatal(err)
		}
	}
	reportLatency(b, lat, "proof")
}

// BenchmarkConsistencyProof1M is BenchmarkInclusionProof1M for consistency
// proofs from a random earlier size.
func BenchmarkConsistencyProof1M(b *testing.B) {
	n := store1M(b)
	p := tlog.NewProver(n.store, n.cp)
	rng := mrand.New(mrand.NewPCG(3, 4))
	lat := make([]time.Duration, 0, 1<<16)
	b.ResetTimer()
	for b.Loop() {
		from := rng.Uint64N(benchLogSize) + 1
		start := time.Now()
		_, err := p.Consistency(ctx, from, benchLogSize)
		lat = append(lat, time.Since(start))
		if err != nil {
			b.Fatal(err)
		}
	}
	reportLatency(b, lat, "proof")
}

// BenchmarkSign1M is the cost of one checkpoint of a 1,000,000-event log:
// root from the stored nodes, consistency with the previous one, Ed25519
// signature, insert.
func BenchmarkSign1M(b *testing.B) {
	n := store1M(b)
	b.ResetTimer()
	for b.Loop() {
		b.StopTimer()
		n.append(1)
		b.StartTimer()
		if _, err := n.cp.Sync(ctx); err != nil {
			b.Fatal(err)
		}
	}
}

func reportLatency(b *testing.B, lat []time.Duration, what string) {
	slices.Sort(lat)
	q := func(f float64) float64 { return float64(lat[int(f*float64(len(lat)-1))].Microseconds()) }
	b.ReportMetric(q(0.50), "p50_µs/"+what)
	b.ReportMetric(q(0.99), "p99_µs/"+what)
	b.ReportMetric(float64(lat[len(lat)-1].Microseconds()), "max_µs/"+what)
}

// BenchmarkEmitCheckpointLag drives durable emits (SQLite, synchronous=FULL)
// from 64 concurrent emitters, like `stigaudit bench emit`, with the
// checkpointer off and on. It reports emit throughput and, with the
// checkpointer on, the lag from an acknowledged emit to the first
// checkpoint that covers it (goal, README.md#measured: ≤ 2 s p99; throughput within 10%).
func BenchmarkEmitCheckpointLag(b *testing.B) {
	for _, on := range []bool{false, true} {
		b.Run(fmt.Sprintf("checkpointer=%v", on), func(b *testing.B) {
			benchEmit(b, on)
		})
	}
}

func benchEmit(b *testing.B, checkpointer bool) {
	const emitters = 64
	dir := b.TempDir()
	st, err := sqlitestore.Open(filepath.Join(dir, "stigaudit.db"), sqlitestore.Options{})
	if err != nil {
		b.Fatal(err)
	}
	l, err := stigaudit.Open(stigaudit.Options{Store: st, Logger: quiet})
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()

	// ackAt[seq] is when the emit of seq returned; signedAt records each
	// checkpoint's size and time.
	var ackMu sync.Mutex
	ackAt := map[int64]time.Time{}
	type signing struct {
		size uint64
		at   time.Time
	}
	var sigMu sync.Mutex
	var signings []signing
	var cp *tlog.Checkpointer
	if checkpointer {
		key, err := tlog.LoadOrCreateKey(dir, "", rand.Reader)
		if err != nil {
			b.Fatal(err)
		}
		cp, err = tlog.New(ctx, tlog.Config{Tree: st, Checkpoints: st.Checkpoints(), Key: key, Logger: quiet,
			OnSign: func(s tlog.Signed) {
				sigMu.Lock()
				signings = append(signings, signing{s.Size, time.Now()})
				sigMu.Unlock()
			}})
		if err != nil {
			b.Fatal(err)
		}
		cp.Start()
	}
	detail := []byte(`{"pad":"` + strings.Repeat("x", 80) + `"}`)
	var next atomic.Int64
	total := int64(b.N)
	start := time.Now()
	var wg sync.WaitGroup
	for w := 0; w < emitters; w++ {
		wg.Go(func() {
			for next.Add(1) <= total {
				e, err := l.Emit(ctx, event.Draft{Type: "fact_read", Tenant: "bench", EntityURI: "urn:bench", Detail: detail})
				if err != nil {
					b.Error(err)
					return
				}
				if checkpointer {
					now := time.Now()
					ackMu.Lock()
					ackAt[e.Seq] = now
					ackMu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	if b.Failed() {
		return
	}
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "events/s")
	if !checkpointer {
		return
	}
	// Wait for the last event to be covered, then measure every lag.
	size, _ := st.Size(ctx)
	for {
		if s, ok := cp.Latest(); ok && s.Size >= uint64(size) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	cp.Stop(ctx)
	sigMu.Lock()
	defer sigMu.Unlock()
	var lags []time.Duration
	for seq, at := range ackAt {
		i, _ := slices.BinarySearchFunc(signings, uint64(seq)+1, func(s signing, want uint64) int {
			switch {
			case s.size < want:
				return -1
			case s.size > want:
				return 1
			}
			return 0
		})
		if i == len(signings) {
			b.Fatalf("seq %d never covered", seq)
		}
		lags = append(lags, max(signings[i].at.Sub(at), 0))
	}
	slices.Sort(lags)
	b.ReportMetric(float64(lags[len(lags)/2].Milliseconds()), "lag_p50_ms")
	b.ReportMetric(float64(lags[len(lags)*99/100].Milliseconds()), "lag_p99_ms")
	b.ReportMetric(float64(lags[len(lags)-1].Milliseconds()), "lag_max_ms")
	b.ReportMetric(float64(len(signings)), "checkpoints")
}

// BenchmarkTiles1M serves random full tiles of the 1,000,000-event SQLite
// log through the server's route table (server.New, minus the network),
// with an admin key: hash tiles at level 0 and entry bundles of 256
// canonical events. It reports p50 and p99 (goals, docs/tamper-evidence.md:
// a full hash tile ≤ 1 ms p99, an entry bundle ≤ 5 ms p99).
//
//	go test -run '^$' -bench Tiles1M -benchtime 2000x ./server/tlog/
func BenchmarkTiles1M(b *testing.B) {
	n := store1M(b)
	l, err := stigaudit.Open(stigaudit.Options{Store: unclosable{n.store}, Logger: quiet})
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	keys := auth.New(n.store.APIKeys(), auth.Options{Params: auth.Params{Time: 1, Memory: 64, Threads: 1}})
	admin, _, err := keys.Create(ctx, auth.Spec{EntityURI: "urn:bench:admin", Perms: auth.PermAdmin})
	if err != nil {
		b.Fatal(err)
	}
	h, err := server.New(server.Config{Log: l, Keys: keys, Store: n.store, Checkpointer: n.cp, Logger: quiet})
	if err != nil {
		b.Fatal(err)
	}
	for _, kind := range []string{"hash", "entries"} {
		b.Run(kind, func(b *testing.B) {
			rng := mrand.New(mrand.NewPCG(5, 6))
			want := 256 * 32
			lat := make([]time.Duration, 0, 1<<14)
			for b.Loop() {
				idx := rng.Uint64N(benchLogSize / 256)
				path := tlog.TilesPrefix + "/tile/0/" + monitor.TileIndex(idx)
				if kind == "entries" {
					path = tlog.TilesPrefix + "/tile/entries/" + monitor.TileIndex(idx)
				}
				req := httptest.NewRequest("GET", path, nil)
				req.Header.Set("Authorization", "Bearer "+admin)
				rec := httptest.NewRecorder()
				start := time.Now()
				h.ServeHTTP(rec, req)
				lat = append(lat, time.Since(start))
				if rec.Code != 200 || kind == "hash" && rec.Body.Len() != want {
					b.Fatalf("%s: %d, %d bytes", path, rec.Code, rec.Body.Len())
				}
			}
			reportLatency(b, lat, "tile")
		})
	}
}

// unclosable is a store whose Close does nothing: the 1M store outlives the
// Log a benchmark opens over it (TestMain closes it).
type unclosable struct{ *sqlitestore.Store }

func (unclosable) Close() error { return nil }
