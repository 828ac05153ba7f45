package metrics

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/stigaudit/stigaudit/core/auditerr"
	"github.com/stigaudit/stigaudit/core/event"
	"github.com/stigaudit/stigaudit/server/sink"
)

// value returns the value of a counter, or the sample count of a
// histogram, in the series of family name with exactly the given labels.
func value(t *testing.T, g prometheus.Gatherer, name string, labels map[string]string) float64 {
	t.Helper()
	mfs, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	series:
		for _, m := range mf.GetMetric() {
			if len(m.GetLabel()) != len(labels) {
				continue
			}
			for _, lp := range m.GetLabel() {
				if labels[lp.GetName()] != lp.GetValue() {
					continue series
				}
			}
			if c := m.GetCounter(); c != nil {
				return c.GetValue()
			}
			if h := m.GetHistogram(); h != nil {
				return float64(h.GetSampleCount())
			}
		}
	}
	return 0
}

type collect struct {
	mu  sync.Mutex
	got []event.Event
}

func (c *collect) Name() string { return "mem" }
func (c *collect) Write(_ context.Context, evs []event.Event) error {
	c.mu.Lock()
	c.got = append(c.got, evs...)
	c.mu.Unlock()
	return nil
}
func (c *collect) Close() error { return nil }

func TestCommittedCountsAndFeedsSinks(t *testing.T) {
	reg := prometheus.NewRegistry()
	c := &collect{}
	m, err := New(Config{Registerer: reg, Sinks: []sink.Sink{c}, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	m.Committed([]event.Event{
		{Seq: 0, Type: "fact_write", Tenant: "acme"},
		{Seq: 1, Type: "fact_write", Tenant: "acme"},
		{Seq: 2, Type: "fact_read", Tenant: "other"},
	})
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		typ, tenant string
		want        float64
	}{{"fact_write", "acme", 2}, {"fact_read", "other", 1}, {"fact_read", "acme", 0}} {
		if got := value(t, reg, "stigmem_audit_event_total", map[string]string{"event_type": tc.typ, "tenant": tc.tenant}); got != tc.want {
			t.Errorf("stigmem_audit_event_total{%s,%s} = %v, want %v", tc.typ, tc.tenant, got, tc.want)
		}
	}
	if len(c.got) != 3 {
		t.Errorf("the sink got %d events, want 3", len(c.got))
	}
}

func TestEmittedAndFailures(t *testing.T) {
	reg := prometheus.NewRegistry()
	m, err := New(Config{Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	m.Emitted(1, time.Millisecond, nil)
	m.Emitted(1, time.Millisecond, auditerr.Errorf(auditerr.ErrNotInstruction, "skipped"))
	m.Emitted(1, time.Millisecond, auditerr.Errorf(auditerr.ErrStoreUnavailable, "disk"))
	m.Emitted(3, time.Millisecond, auditerr.Errorf(auditerr.ErrInvalidBatch, "item 1 is bad"))
	m.Emitted(1, time.Millisecond, errors.New("no code"))
	m.BestEffortFailed("fact_read", "acme", errors.New("x"))
	m.ObserveCommit(8, 3, 2*time.Millisecond)

	for _, tc := range []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"stigaudit_emit_duration_seconds", map[string]string{"result": "ok"}, 2},
		{"stigaudit_emit_duration_seconds", map[string]string{"result": "error"}, 3},
		{"stigaudit_emit_failures_total", map[string]string{"code": "store_unavailable"}, 1},
		{"stigaudit_emit_failures_total", map[string]string{"code": "invalid_batch"}, 1},
		{"stigaudit_emit_failures_total", map[string]string{"code": "internal"}, 1},
		{"stigaudit_emit_failures_total", map[string]string{"code": "not_instruction"}, 0},
		{"stigaudit_best_effort_failures_total", map[string]string{"event_type": "fact_read"}, 1},
		{"stigaudit_commit_batch_events", nil, 1},
		{"stigaudit_commit_batch_requests", nil, 1},
	} {
		if got := value(t, reg, tc.name, tc.labels); got != tc.want {
			t.Errorf("%s%v = %v, want %v", tc.name, tc.labels, got, tc.want)
		}
	}
}

// blocked never finishes a Write until released.
type blocked struct{ release chan struct{} }

func (b *blocked) Name() string { return "file:/slow" }
func (b *blocked) Write(ctx context.Context, _ []event.Event) error {
	select {
	case <-b.release:
	case <-ctx.Done():
	}
	return nil
}
func (b *blocked) Close() error { return nil }

func TestSinkDropsAreExported(t *testing.T) {
	reg := prometheus.NewRegistry()
	b := &blocked{release: make(chan struct{})}
	m, err := New(Config{Registerer: reg, Sinks: []sink.Sink{b}, SinkOptions: sink.Options{QueueSize: 5}})
	if err != nil {
		t.Fatal(err)
	}
	// The series exists before anything is dropped.
	if n := len(gatherNames(t, reg, "stigaudit_sink_dropped_total")); n != 1 {
		t.Errorf("%d stigaudit_sink_dropped_total series before any drop, want 1", n)
	}
	evs := make([]event.Event, 20)
	start := time.Now()
	m.Committed(evs)
	if d := time.Since(start); d > 100*time.Millisecond {
		t.Errorf("Committed took %v with a blocked sink", d)
	}
	if got := value(t, reg, "stigaudit_sink_dropped_total", map[string]string{"sink": "file:/slow"}); got != 15 {
		t.Errorf("stigaudit_sink_dropped_total = %v, want 15", got)
	}
	close(b.release)
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
}

func gatherNames(t *testing.T, g prometheus.Gatherer, name string) []string {
	t.Helper()
	mfs, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, mf := range mfs {
		if mf.GetName() == name {
			for range mf.GetMetric() {
				out = append(out, name)
			}
		}
	}
	return out
}

func TestNewRefusesDoubleRegistration(t *testing.T) {
	reg := prometheus.NewRegistry()
	m, err := New(Config{Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if _, err := New(Config{Registerer: reg}); err == nil {
		t.Error("a second New on the same registry succeeded")
	}
	if _, err := New(Config{}); err == nil {
		t.Error("New without a Registerer succeeded")
	}
}
