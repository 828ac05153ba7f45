package pgstore_test

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stigaudit/stigaudit/core/event"
	"github.com/stigaudit/stigaudit/hostfns/pgstore"
	"github.com/stigaudit/stigaudit/hostfns/pgstore/pgtest"
	"github.com/stigaudit/stigaudit/hostfns/storetest"
)

// BenchmarkAppend measures durable single-event Appends from 64 goroutines
// spread over 1 or 3 stores on one schema (replicas, in process: no HTTP),
// with group commit and with one transaction per event. It reports
// events/s and the mean events per commit.
func BenchmarkAppend(b *testing.B) {
	for _, bc := range []struct {
		replicas, maxBatch int
	}{
		{1, 0}, {3, 0}, {1, 1}, {3, 1},
	} {
		name := fmt.Sprintf("replicas=%d/group=%v", bc.replicas, bc.maxBatch != 1)
		b.Run(name, func(b *testing.B) {
			dsn := pgtest.DSN(b)
			var commits, written atomic.Int64
			var stores []*pgstore.Store
			for range bc.replicas {
				stores = append(stores, open(b, dsn, pgstore.Options{MaxBatchEvents: bc.maxBatch, OnCommit: func(events, _ int, _ time.Duration) {
					commits.Add(1)
					written.Add(int64(events))
				}}))
			}
			const goroutines = 64
			var next atomic.Int64
			var wg sync.WaitGroup
			b.ResetTimer()
			start := time.Now()
			for g := range goroutines {
				wg.Add(1)
				go func() {
					defer wg.Done()
					s := stores[g%len(stores)]
					for {
						i := int(next.Add(1) - 1)
						if i >= b.N {
							return
						}
						if _, err := s.Append(ctx, []event.Event{storetest.NewEvent(i)}); err != nil {
							b.Error(err)
							return
						}
					}
				}()
			}
			wg.Wait()
			b.StopTimer()
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "events/s")
			if c := commits.Load(); c > 0 {
				b.ReportMetric(float64(written.Load())/float64(c), "events/commit")
			}
		})
	}
}
