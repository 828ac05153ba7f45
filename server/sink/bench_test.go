package sink

import (
	"context"
	"errors"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stigaudit/stigaudit/core/event"
	"github.com/stigaudit/stigaudit/hostfns/storetest"
)

// BenchmarkDeliveryFromCursor measures how fast a sink catches up with the
// log from its durable cursor: b.N events are appended to a SQLite log
// first (untimed), then a Dispatcher delivers them all from the cursor,
// reading the log back (nothing is offered in memory). It reports
// events/s; the goal is 10,000/s on 2 cores for the file and NATS sinks.
//
//	go test -run '^$' -bench DeliveryFromCursor -benchtime 50000x ./server/sink/
func BenchmarkDeliveryFromCursor(b *testing.B) {
	b.Run("file", func(b *testing.B) {
		f, err := OpenFile(filepath.Join(b.TempDir(), "events.jsonl"))
		if err != nil {
			b.Fatal(err)
		}
		benchDelivery(b, f)
	})
	b.Run("nats", func(b *testing.B) {
		server, stream, prefix := testNATS(b)
		s, err := NewNATS(server+"?stream="+stream+"&prefix="+prefix, NATSOptions{})
		if err != nil {
			b.Fatal(err)
		}
		benchDelivery(b, s)
	})
}

func benchDelivery(b *testing.B, s Sink) {
	l := openLog(b)
	ctx := context.Background()
	if _, err := l.Cursor(ctx, CursorName(s)); err != nil { // at 0, before the events
		b.Fatal(err)
	}
	for from := 0; from < b.N; from += 1000 {
		if _, err := l.Append(ctx, storetest.NewEvents(from, min(1000, b.N-from))); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	start := time.Now()
	d, err := NewDispatcher(ctx, []Sink{s}, Options{Log: l, Cursors: l, Logger: quiet})
	if err != nil {
		b.Fatal(err)
	}
	for {
		if n, _ := d.Lag(s.Name()); n == 0 && l.cursor(b, s) == int64(b.N) {
			break
		}
		time.Sleep(time.Millisecond)
	}
	elapsed := time.Since(start)
	b.StopTimer()
	if err := d.Close(ctx); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "events/s")
}

// flaky wraps a sink and fails every Write while down is set: a sink
// that is down.
type flaky struct {
	Sink
	down atomic.Bool
}

func (f *flaky) Write(ctx context.Context, evs []event.Event) error {
	if f.down.Load() {
		return errors.New("down")
	}
	return f.Sink.Write(ctx, evs)
}

// BenchmarkEmitWithSinkDown times commits (a SQLite append of 10 events
// and the Enqueue that follows it, from 8 goroutines) in alternating
// phases with a file sink up and down, in one run, and reports the p99 of
// each: a sink that is down must not slow emits (goal: within 20%).
//
//	go test -run '^$' -bench EmitWithSinkDown -benchtime 4000x ./server/sink/
func BenchmarkEmitWithSinkDown(b *testing.B) {
	l := openLog(b)
	ctx := context.Background()
	f, err := OpenFile(filepath.Join(b.TempDir(), "events.jsonl"))
	if err != nil {
		b.Fatal(err)
	}
	s := &flaky{Sink: f}
	d, err := NewDispatcher(ctx, []Sink{s}, Options{Log: l, Cursors: l, Logger: quiet})
	if err != nil {
		b.Fatal(err)
	}
	defer func() {
		s.down.Store(false)
		cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		d.Close(cctx)
	}()
	var seq atomic.Int64
	lat := map[bool][]time.Duration{}
	var mu sync.Mutex
	phase := func(down bool, commits int) {
		s.down.Store(down)
		var wg sync.WaitGroup
		var next atomic.Int64
		for range 8 {
			wg.Go(func() {
				var mine []time.Duration
				for next.Add(1) <= int64(commits) {
					evs := storetest.NewEvents(int(seq.Add(10)-10), 10)
					t0 := time.Now()
					stored, err := l.Append(ctx, evs)
					if err != nil {
						b.Error(err)
						return
					}
					d.Enqueue(stored)
					mine = append(mine, time.Since(t0))
				}
				mu.Lock()
				lat[down] = append(lat[down], mine...)
				mu.Unlock()
			})
		}
		wg.Wait()
	}
	b.ResetTimer()
	for i := range 4 {
		phase(i%2 == 1, max(b.N/4, 1))
	}
	b.StopTimer()
	p99 := func(ds []time.Duration) float64 {
		slices.Sort(ds)
		return float64(ds[min(len(ds)*99/100, len(ds)-1)].Microseconds()) / 1000
	}
	up, down := p99(lat[false]), p99(lat[true])
	lag, _ := d.Lag(s.Name())
	b.ReportMetric(up, "p99_up_ms")
	b.ReportMetric(down, "p99_down_ms")
	b.ReportMetric(down/up, "down/up")
	b.ReportMetric(float64(lag), "lag_at_end")
}
