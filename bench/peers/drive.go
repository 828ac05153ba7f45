package main

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"
)

// run is what one cell measured once.
type run struct {
	Events     int     `json:"events"`
	Errors     int     `json:"errors"`
	Seconds    float64 `json:"seconds"`
	EventsPerS float64 `json:"events_per_s"`
	P50Ms      float64 `json:"p50_ms"`
	P99Ms      float64 `json:"p99_ms"`
	FirstError string  `json:"first_error,omitempty"`
}

// drive runs writers concurrent writers against s for d: each calls in a
// loop until d has passed, and a call in flight then is waited for and
// counted. Throughput counts acknowledged events only; every event of a
// call gets that call's latency (send to durable acknowledgement).
func drive(ctx context.Context, s *session, perCall, writers int, d time.Duration) run {
	var (
		mu       sync.Mutex
		lat      []time.Duration
		errs     int
		firstErr string
		wg       sync.WaitGroup
	)
	start := time.Now()
	deadline := start.Add(d)
	for w := range writers {
		wg.Go(func() {
			var mine []time.Duration
			var bad int
			var first string
			for i := 0; time.Now().Before(deadline) && ctx.Err() == nil; i++ {
				t0 := time.Now()
				if err := s.Call(ctx, w, i); err != nil {
					bad++
					if first == "" {
						first = err.Error()
					}
					continue
				}
				mine = append(mine, time.Since(t0))
			}
			mu.Lock()
			lat = append(lat, mine...)
			errs += bad
			if firstErr == "" {
				firstErr = first
			}
			mu.Unlock()
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	slices.Sort(lat)
	r := run{
		Events:     len(lat) * perCall,
		Errors:     errs * perCall,
		Seconds:    elapsed.Seconds(),
		EventsPerS: float64(len(lat)*perCall) / elapsed.Seconds(),
		P50Ms:      pct(lat, 0.50),
		P99Ms:      pct(lat, 0.99),
		FirstError: firstErr,
	}
	return r
}

// pct is the p-quantile of sorted, in milliseconds (nearest rank).
func pct(sorted []time.Duration, p float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	return float64(sorted[int(p*float64(len(sorted)-1)+0.5)].Microseconds()) / 1000
}

// cell opens a fresh store for p under base, drives it and closes it.
func cell(ctx context.Context, p peer, base string, writers int, d time.Duration) (run, error) {
	dir, err := mkdirTemp(base, p.Name)
	if err != nil {
		return run{}, err
	}
	defer removeAll(dir)
	s, err := p.Open(ctx, dir)
	if err != nil {
		return run{}, fmt.Errorf("open %s: %w", p.Name, err)
	}
	r := drive(ctx, s, p.PerCall, writers, d)
	if err := s.Close(); err != nil {
		return r, fmt.Errorf("close %s: %w", p.Name, err)
	}
	return r, nil
}
