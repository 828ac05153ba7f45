package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stigaudit/stigaudit/core/checkpoint"
	"github.com/stigaudit/stigaudit/server/bench"
	"github.com/stigaudit/stigaudit/server/monitor"
	"github.com/stigaudit/stigaudit/server/witness"
)

// BenchmarkWitnessing measures what two witnesses (omniwitness, quorum 2)
// cost an emitting server, in one run, alternating: emit throughput over
// HTTP (64 clients, one event per request) with and without the policy,
// and, with it, how long a signed checkpoint waits to be witnessed (p50,
// p99, from sampling both checkpoint routes every 20 ms under the load).
//
//	go test -run '^$' -bench Witnessing -benchtime 1x ./server/cmd/stigaudit/
func BenchmarkWitnessing(b *testing.B) {
	bin := buildBinary(b)
	const rounds, events = 3, 60000
	var on, off []float64
	var lags []time.Duration
	for b.Loop() {
		for range rounds {
			for _, withWitnesses := range []bool{false, true} {
				dir := b.TempDir()
				args := []string{}
				var policy *witness.Policy
				if withWitnesses {
					vkey := verifierKey(b, dir)
					origin := vkey[:strings.Index(vkey, "+")]
					w1 := startOmniwitness(b, origin, vkey, "witness.test/w1")
					w2 := startOmniwitness(b, origin, vkey, "witness.test/w2")
					text := fmt.Sprintf("witness w1 %s %s\nwitness w2 %s %s\ngroup both 2 w1 w2\nquorum both\n", w1.cosigVKey, w1.url, w2.cosigVKey, w2.url)
					pf := filepath.Join(b.TempDir(), "policy")
					os.WriteFile(pf, []byte(text), 0o644)
					policy, _ = witness.ParsePolicy([]byte(text))
					args = append(args, "--witness-policy", pf)
				}
				p := startServe(b, bin, dir, args...)
				admin := readAdminKey(b, dir)
				var mu sync.Mutex
				firstSigned := map[uint64]time.Time{}
				stop := make(chan struct{})
				var wg sync.WaitGroup
				if withWitnesses {
					wg.Go(func() {
						var witnessed uint64
						for {
							select {
							case <-stop:
								return
							case <-time.After(20 * time.Millisecond):
							}
							if code, s := getWith(b, p.url+"/v1/audit/checkpoint?witnessed=0", admin); code == 200 {
								mu.Lock()
								if _, ok := firstSigned[servedSize(s)]; !ok {
									firstSigned[servedSize(s)] = time.Now()
								}
								mu.Unlock()
							}
							if code, w := getWith(b, p.url+"/v1/audit/checkpoint", admin); code == 200 && policy.Satisfied(w) {
								n := servedSize(w)
								if n > witnessed {
									mu.Lock()
									for sz, at := range firstSigned {
										if sz <= n && sz > witnessed {
											lags = append(lags, time.Since(at))
										}
									}
									mu.Unlock()
									witnessed = n
								}
							}
						}
					})
				}
				res, err := bench.Run(context.Background(), bench.Config{HTTP: p.url, Key: admin, Concurrency: 64, Events: events})
				close(stop)
				wg.Wait()
				p.kill(syscall.SIGTERM)
				if err != nil {
					b.Fatal(err)
				}
				if withWitnesses {
					on = append(on, res.EventsPerS)
				} else {
					off = append(off, res.EventsPerS)
				}
			}
		}
	}
	mean := func(v []float64) float64 {
		s := 0.0
		for _, x := range v {
			s += x
		}
		return s / float64(len(v))
	}
	sort.Slice(lags, func(i, j int) bool { return lags[i] < lags[j] })
	b.ReportMetric(mean(off), "events/s-without")
	b.ReportMetric(mean(on), "events/s-witnessed")
	b.ReportMetric(100*(mean(on)/mean(off)-1), "%-change")
	if len(lags) > 0 {
		b.ReportMetric(float64(lags[len(lags)/2].Milliseconds()), "ms-witness-p50")
		b.ReportMetric(float64(lags[len(lags)*99/100].Milliseconds()), "ms-witness-p99")
	}
	b.Logf("without witnesses %v events/s; with two %v; %d signed sizes witnessed", off, on, len(lags))
}

// BenchmarkMonitorFollows runs a monitor (the server/monitor package, as
// `stigaudit monitor` does, one check a second) beside a server taking
// batches of 100 events from 16 clients, and reports the emit rate and how
// far the monitor's verified size trails the newest signed checkpoint,
// sampled each second, in seconds of log growth (p50, max).
//
//	go test -run '^$' -bench MonitorFollows -benchtime 1x ./server/cmd/stigaudit/
func BenchmarkMonitorFollows(b *testing.B) {
	bin := buildBinary(b)
	for b.Loop() {
		dir := b.TempDir()
		p := startServe(b, bin, dir)
		admin := readAdminKey(b, dir)
		v, err := checkpoint.NewVerifier(verifierKey(b, dir))
		if err != nil {
			b.Fatal(err)
		}
		m, err := monitor.Open(monitor.Config{Server: p.url, APIKey: admin, Verifier: v, StateDir: b.TempDir()})
		if err != nil {
			b.Fatal(err)
		}
		stop := make(chan struct{})
		var behind []float64 // events the monitor trails the newest signed checkpoint by
		var wg sync.WaitGroup
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				case <-time.After(time.Second):
				}
				if err := m.Check(context.Background()); err != nil {
					b.Errorf("monitor: %v", err)
					return
				}
				if code, s := getWith(b, p.url+"/v1/audit/checkpoint?witnessed=0", admin); code == 200 {
					behind = append(behind, float64(servedSize(s))-float64(m.Size()))
				}
			}
		})
		start := time.Now()
		res, err := bench.Run(context.Background(), bench.Config{HTTP: p.url, Key: admin, Concurrency: 16, Events: 300000, Batch: 100})
		if err != nil {
			b.Fatal(err)
		}
		time.Sleep(3 * time.Second)
		close(stop)
		wg.Wait()
		p.kill(syscall.SIGTERM)
		lags := make([]float64, len(behind))
		for i, n := range behind {
			lags[i] = n / res.EventsPerS // in seconds of log growth at the measured rate
		}
		sort.Float64s(lags)
		b.ReportMetric(res.EventsPerS, "events/s")
		if len(lags) > 0 {
			b.ReportMetric(lags[len(lags)/2], "s-lag-p50")
			b.ReportMetric(lags[len(lags)-1], "s-lag-max")
		}
		b.Logf("%.0f events/s for %v; monitor lag samples (s): %.2f", res.EventsPerS, time.Since(start).Round(time.Second), lags)
	}
}
