package metrics

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/stigaudit/stigaudit/core/auditerr"
	"github.com/stigaudit/stigaudit/core/event"
	"github.com/stigaudit/stigaudit/server/sink"
)

// value returns the value of a counter or gauge, or the sample count of a
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
			if g := m.GetGauge(); g != nil {
				return g.GetValue()
			}
			if h := m.GetHistogram(); h != nil {
				return float64(h.GetSampleCount())
			}
		}
	}
	return 0
}

func TestCommittedCounts(t *testing.T) {
	reg := prometheus.NewRegistry()
	m, err := New(Config{Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	m.Committed([]event.Event{
		{Seq: 0, Type: "fact_write", Tenant: "acme"},
		{Seq: 1, Type: "fact_write", Tenant: "acme"},
		{Seq: 2, Type: "fact_read", Tenant: "other"},
	})
	for _, tc := range []struct {
		typ, tenant string
		want        float64
	}{{"fact_write", "acme", 2}, {"fact_read", "other", 1}, {"fact_read", "acme", 0}} {
		if got := value(t, reg, "stigmem_audit_event_total", map[string]string{"event_type": tc.typ, "tenant": tc.tenant}); got != tc.want {
			t.Errorf("stigmem_audit_event_total{%s,%s} = %v, want %v", tc.typ, tc.tenant, got, tc.want)
		}
	}
}

func TestEmittedAndFailures(t *testing.T) {
	reg := prometheus.NewRegistry()
	m, err := New(Config{Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
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

// named is a sink that only has a name: Config.Sinks uses nothing else.
type named string

func (n named) Name() string                               { return string(n) }
func (n named) Write(context.Context, []event.Event) error { return nil }
func (n named) Close() error                               { return nil }

// Every sink's error and lag series exist from the start, at zero, so an
// alert has a series to watch; a failed write counts once however many
// events it carried (it is retried), and the lag is what was last reported.
func TestSinkSeriesAreExported(t *testing.T) {
	reg := prometheus.NewRegistry()
	m, err := New(Config{Registerer: reg, Sinks: []sink.Sink{named("file:/slow")}})
	if err != nil {
		t.Fatal(err)
	}
	labels := map[string]string{"sink": "file:/slow"}
	for _, name := range []string{"stigaudit_sink_errors_total", "stigaudit_sink_lag_events"} {
		if n := len(gatherNames(t, reg, name)); n != 1 {
			t.Errorf("%d %s series before anything happened, want 1", n, name)
		}
		if got := value(t, reg, name, labels); got != 0 {
			t.Errorf("%s = %v at start, want 0", name, got)
		}
	}
	if n := len(gatherNames(t, reg, "stigaudit_sink_dropped_total")); n != 0 {
		t.Errorf("stigaudit_sink_dropped_total is still exported: sinks drop nothing")
	}
	m.Failed("file:/slow", 500, errors.New("disk full"))
	m.Failed("file:/slow", 20, errors.New("disk full"))
	m.Lag("file:/slow", 1234)
	m.Lag("file:/slow", 17)
	if got := value(t, reg, "stigaudit_sink_errors_total", labels); got != 2 {
		t.Errorf("stigaudit_sink_errors_total = %v after two failed writes, want 2", got)
	}
	if got := value(t, reg, "stigaudit_sink_lag_events", labels); got != 17 {
		t.Errorf("stigaudit_sink_lag_events = %v, want the last report, 17", got)
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
	_, err := New(Config{Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := New(Config{Registerer: reg}); err == nil {
		t.Error("a second New on the same registry succeeded")
	}
	if _, err := New(Config{}); err == nil {
		t.Error("New without a Registerer succeeded")
	}
}
