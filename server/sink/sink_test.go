package sink

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/stigaudit/stigaudit/core/auditerr"
	"github.com/stigaudit/stigaudit/core/event"
)

// recorder is a Reporter that remembers what it was told.
type recorder struct {
	mu      sync.Mutex
	dropped map[string]int
	failed  map[string]int
}

func newRecorder() *recorder {
	return &recorder{dropped: map[string]int{}, failed: map[string]int{}}
}

func (r *recorder) Dropped(sink string, n int) {
	r.mu.Lock()
	r.dropped[sink] += n
	r.mu.Unlock()
}

func (r *recorder) Failed(sink string, n int, _ error) {
	r.mu.Lock()
	r.failed[sink] += n
	r.mu.Unlock()
}

func (r *recorder) get(m map[string]int, sink string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return m[sink]
}

// memSink collects events; if gate is non-nil every Write waits on it.
type memSink struct {
	name   string
	gate   chan struct{}
	fail   error
	panics bool

	mu     sync.Mutex
	got    []int64
	closed bool
}

func (s *memSink) Name() string { return s.name }

func (s *memSink) Write(ctx context.Context, evs []event.Event) error {
	if s.gate != nil {
		select {
		case <-s.gate:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if s.panics {
		panic("boom")
	}
	if s.fail != nil {
		return s.fail
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, e := range evs {
		s.got = append(s.got, e.Seq)
	}
	return nil
}

func (s *memSink) Close() error {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	return nil
}

func (s *memSink) seqs() []int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]int64(nil), s.got...)
}

func evs(from, n int) []event.Event {
	out := make([]event.Event, n)
	for i := range out {
		out[i] = event.Event{Seq: int64(from + i), Type: "fact_read"}
	}
	return out
}

func TestDispatcherDeliversInOrder(t *testing.T) {
	a, b := &memSink{name: "a"}, &memSink{name: "b"}
	d := NewDispatcher([]Sink{a, b}, Options{Logger: quiet, MaxBatch: 7})
	for i := 0; i < 100; i += 10 {
		d.Enqueue(evs(i, 10))
	}
	if err := d.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, s := range []*memSink{a, b} {
		got := s.seqs()
		if len(got) != 100 {
			t.Fatalf("sink %s got %d events, want 100", s.name, len(got))
		}
		for i, seq := range got {
			if seq != int64(i) {
				t.Fatalf("sink %s event %d has seq %d: out of order", s.name, i, seq)
			}
		}
		if !s.closed {
			t.Errorf("sink %s not closed", s.name)
		}
	}
}

// A sink that never returns must not slow Enqueue, must not starve the
// other sinks, and its overflow must be counted.
func TestBlockedSinkNeverBlocksAndCountsDrops(t *testing.T) {
	rec := newRecorder()
	blocked := &memSink{name: "blocked", gate: make(chan struct{})}
	healthy := &memSink{name: "healthy"}
	d := NewDispatcher([]Sink{blocked, healthy}, Options{Logger: quiet, QueueSize: 50, MaxBatch: 10, Reporter: rec})

	start := time.Now()
	for i := 0; i < 1000; i += 10 {
		d.Enqueue(evs(i, 10))
	}
	if el := time.Since(start); el > time.Second {
		t.Errorf("1000 events took %v to enqueue behind a blocked sink", el)
	}
	// The blocked sink holds at most QueueSize events (one batch in its
	// Write, the rest queued); everything else was dropped and counted.
	if got := rec.get(rec.dropped, "blocked"); got < 1000-50 || got > 1000-10 {
		t.Errorf("blocked sink dropped %d, want between 950 and 990", got)
	}
	waitFor(t, func() bool { return len(healthy.seqs())+rec.get(rec.dropped, "healthy") == 1000 })
	if len(healthy.seqs()) == 0 {
		t.Error("the healthy sink received nothing while the other was blocked")
	}

	// Close gives up on the blocked sink at its deadline and says so.
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := d.Close(ctx); err == nil {
		t.Error("Close returned nil although a sink never drained")
	}
	// The cancelled Write fails and the queue is dropped: every event is
	// accounted for once the goroutine has wound down.
	waitFor(t, func() bool { return rec.get(rec.dropped, "blocked")+rec.get(rec.failed, "blocked") == 1000 })
}

func TestFailingAndPanickingSinksAreCounted(t *testing.T) {
	rec := newRecorder()
	failing := &memSink{name: "failing", fail: errors.New("disk full")}
	panicky := &memSink{name: "panicky", panics: true}
	d := NewDispatcher([]Sink{failing, panicky}, Options{Logger: quiet, Reporter: rec})
	d.Enqueue(evs(0, 3))
	d.Enqueue(evs(3, 2))
	if err := d.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"failing", "panicky"} {
		if got := rec.get(rec.failed, name); got != 5 {
			t.Errorf("%s: %d events reported failed, want 5", name, got)
		}
	}
}

// Handled never passes an event some sink has not finished with: the
// PostgreSQL feed saves it as the position a new leader resumes from.
func TestHandledWaitsForTheSlowestSink(t *testing.T) {
	rec := newRecorder()
	slow := &memSink{name: "slow", gate: make(chan struct{})}
	fast := &memSink{name: "fast"}
	d := NewDispatcher([]Sink{slow, fast}, Options{Logger: quiet, QueueSize: 20, MaxBatch: 5, Reporter: rec})
	defer d.Close(context.Background())
	if got := d.Handled(); got != 0 {
		t.Fatalf("Handled before any event = %d, want 0", got)
	}
	d.Enqueue(evs(100, 10)) // 100..109
	waitFor(t, func() bool { return len(fast.seqs()) == 10 })
	if got := d.Handled(); got != 100 {
		t.Fatalf("Handled with the slow sink writing 100.. = %d, want 100", got)
	}
	slow.gate <- struct{}{} // first batch 100..104 written
	waitFor(t, func() bool { return len(slow.seqs()) == 5 })
	waitFor(t, func() bool { return d.Handled() == 105 })
	d.Enqueue(evs(110, 30)) // the slow sink's queue overflows: dropped events count as handled once counted
	close(slow.gate)
	waitFor(t, func() bool { return d.Handled() == 140 })
	if got := len(slow.seqs()) + rec.get(rec.dropped, "slow"); got != 40 {
		t.Errorf("slow sink wrote or dropped %d events, want 40", got)
	}
}

func TestEnqueueAfterCloseDrops(t *testing.T) {
	rec := newRecorder()
	s := &memSink{name: "s"}
	d := NewDispatcher([]Sink{s}, Options{Logger: quiet, Reporter: rec})
	if err := d.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	d.Enqueue(evs(0, 4))
	if got := rec.get(rec.dropped, "s"); got != 4 {
		t.Errorf("dropped after close = %d, want 4", got)
	}
	if err := d.Close(context.Background()); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

func TestParse(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		spec string
		ok   bool
	}{
		{"file:" + dir + "/events.jsonl", true},
		{"file:", false},
		{"file:" + dir + "/missing/dir/events.jsonl", false},
		{"nats://localhost:4222/audit", false},
		{"https://example.org/hook", false},
		{"kafka:topic", false},
		{"events.jsonl", false},
	} {
		s, err := Parse(tc.spec)
		if (err == nil) != tc.ok {
			t.Errorf("Parse(%q) error = %v, want ok=%v", tc.spec, err, tc.ok)
			continue
		}
		if err != nil {
			if !errors.Is(err, auditerr.ErrInvalidConfig) {
				t.Errorf("Parse(%q) error %v does not wrap invalid_config", tc.spec, err)
			}
			continue
		}
		if s.Name() != tc.spec {
			t.Errorf("Parse(%q).Name() = %q", tc.spec, s.Name())
		}
		s.Close()
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 5s")
		}
		time.Sleep(time.Millisecond)
	}
}

var quiet = slog.New(slog.DiscardHandler)
