package metrics

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/stigaudit/stigaudit/core/auditerr"
	"github.com/stigaudit/stigaudit/core/event"
	"github.com/stigaudit/stigaudit/server/sink"
)

// Config configures New.
type Config struct {
	// Registerer receives the collectors; required.
	Registerer prometheus.Registerer
	// Sinks receive every committed event through their own bounded
	// queues; optional.
	Sinks []sink.Sink
	// SinkOptions tune the sink queues; its Reporter is replaced by the
	// Metrics value and its Logger defaults to Logger.
	SinkOptions sink.Options
	// Logger logs sink failures; default slog.Default().
	Logger *slog.Logger
	// DrainTimeout bounds how long Close waits for sinks to write what is
	// queued; default 5s.
	DrainTimeout time.Duration
}

// Metrics holds the server's collectors and the sink dispatcher. It
// implements stigaudit.Observer and sink.Reporter. It is safe for
// concurrent use.
type Metrics struct {
	events         *prometheus.CounterVec
	emitDuration   *prometheus.HistogramVec
	emitFailures   *prometheus.CounterVec
	bestEffort     *prometheus.CounterVec
	commitEvents   prometheus.Histogram
	commitRequests prometheus.Histogram
	commitDuration prometheus.Histogram
	sinkDropped    *prometheus.CounterVec
	sinkErrors     *prometheus.CounterVec
	httpRequests   *prometheus.CounterVec
	httpDuration   *prometheus.HistogramVec

	sinks *sink.Dispatcher
	drain time.Duration
}

// latencyBuckets span 100 µs (a cached in-memory emit) to 10 s (a stalled
// disk), roughly ×2.5 apart.
var latencyBuckets = []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}

// New builds the collectors, registers them on cfg.Registerer and starts
// one goroutine per sink. Close stops the sinks.
func New(cfg Config) (*Metrics, error) {
	if cfg.Registerer == nil {
		return nil, errors.New("metrics: Config.Registerer is required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.DrainTimeout <= 0 {
		cfg.DrainTimeout = 5 * time.Second
	}
	m := &Metrics{
		drain: cfg.DrainTimeout,
		events: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "stigmem_audit_event_total",
			Help: "Audit events durably committed, by event type and tenant.",
		}, []string{"event_type", "tenant"}),
		emitDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "stigaudit_emit_duration_seconds",
			Help:    "Duration of Emit and EmitBatch calls, from build to durable commit.",
			Buckets: latencyBuckets,
		}, []string{"result"}),
		emitFailures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "stigaudit_emit_failures_total",
			Help: "Emit and EmitBatch calls that failed, by error code.",
		}, []string{"code"}),
		bestEffort: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "stigaudit_best_effort_failures_total",
			Help: "Best-effort events that could not be stored; the failure was logged, not raised.",
		}, []string{"event_type"}),
		commitEvents: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "stigaudit_commit_batch_events",
			Help:    "Events written per store commit (group commit).",
			Buckets: prometheus.ExponentialBuckets(1, 2, 12), // 1 .. 2048
		}),
		commitRequests: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "stigaudit_commit_batch_requests",
			Help:    "Append calls coalesced into one store commit (group commit).",
			Buckets: prometheus.ExponentialBuckets(1, 2, 10), // 1 .. 512
		}),
		commitDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "stigaudit_commit_duration_seconds",
			Help:    "Time to write and durably commit one group of events.",
			Buckets: latencyBuckets,
		}),
		sinkDropped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "stigaudit_sink_dropped_total",
			Help: "Committed events not delivered to a sink because its queue was full.",
		}, []string{"sink"}),
		sinkErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "stigaudit_sink_errors_total",
			Help: "Committed events lost because a sink's write failed.",
		}, []string{"sink"}),
		httpRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "stigaudit_http_requests_total",
			Help: "HTTP requests served, by route, method and status code.",
		}, []string{"route", "method", "code"}),
		httpDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "stigaudit_http_request_duration_seconds",
			Help:    "HTTP request latency by route.",
			Buckets: latencyBuckets,
		}, []string{"route"}),
	}
	cs := []prometheus.Collector{
		m.events, m.emitDuration, m.emitFailures, m.bestEffort,
		m.commitEvents, m.commitRequests, m.commitDuration,
		m.sinkDropped, m.sinkErrors, m.httpRequests, m.httpDuration,
	}
	for i, c := range cs {
		if err := cfg.Registerer.Register(c); err != nil {
			for _, done := range cs[:i] {
				cfg.Registerer.Unregister(done)
			}
			return nil, fmt.Errorf("metrics: registering collectors: %w", err)
		}
	}
	// Export every sink's counters from the start, at zero, so that an
	// alert on their rate has a series to watch.
	for _, s := range cfg.Sinks {
		m.sinkDropped.WithLabelValues(s.Name())
		m.sinkErrors.WithLabelValues(s.Name())
	}
	so := cfg.SinkOptions
	so.Reporter = m
	if so.Logger == nil {
		so.Logger = cfg.Logger
	}
	m.sinks = sink.NewDispatcher(cfg.Sinks, so)
	return m, nil
}

// Committed counts committed events and queues them for the sinks. The log
// calls it after each durable commit; it never blocks.
func (m *Metrics) Committed(events []event.Event) {
	for i := range events {
		m.events.WithLabelValues(events[i].Type, events[i].Tenant).Inc()
	}
	m.sinks.Enqueue(events)
}

// Handled returns the first seq that some sink has not finished with (see
// sink.Dispatcher.Handled): events below it were written, or dropped or
// failed and counted, by every sink.
func (m *Metrics) Handled() int64 { return m.sinks.Handled() }

// Emitted records one Emit or EmitBatch call. A skipped instruction event
// (auditerr.ErrNotInstruction) is an answer, not a failure.
func (m *Metrics) Emitted(n int, d time.Duration, err error) {
	result := "ok"
	if err != nil && !errors.Is(err, auditerr.ErrNotInstruction) {
		result = "error"
		code := auditerr.CodeOf(err)
		if code == "" {
			code = "internal"
		}
		m.emitFailures.WithLabelValues(string(code)).Inc()
	}
	m.emitDuration.WithLabelValues(result).Observe(d.Seconds())
}

// BestEffortFailed counts a best-effort event whose failure was swallowed.
func (m *Metrics) BestEffortFailed(eventType, _ string, _ error) {
	m.bestEffort.WithLabelValues(eventType).Inc()
}

// ObserveCommit records one store commit of events events from requests
// coalesced Append calls, which took d. It has the shape of the SQLite
// store's commit hook (sqlitestore.Options.OnCommit).
func (m *Metrics) ObserveCommit(events, requests int, d time.Duration) {
	m.commitEvents.Observe(float64(events))
	m.commitRequests.Observe(float64(requests))
	m.commitDuration.Observe(d.Seconds())
}

// Dropped counts events a sink's full queue dropped (sink.Reporter).
func (m *Metrics) Dropped(sinkName string, n int) {
	m.sinkDropped.WithLabelValues(sinkName).Add(float64(n))
}

// Failed counts events lost to a failed sink write (sink.Reporter).
func (m *Metrics) Failed(sinkName string, n int, _ error) {
	m.sinkErrors.WithLabelValues(sinkName).Add(float64(n))
}

// HTTPRequest records one served HTTP request. route is the route pattern
// (e.g. "/v1/audit/facts/:fact_id"), never the raw path, to bound
// cardinality.
func (m *Metrics) HTTPRequest(route, method string, status int, d time.Duration) {
	m.httpRequests.WithLabelValues(route, method, strconv.Itoa(status)).Inc()
	m.httpDuration.WithLabelValues(route).Observe(d.Seconds())
}

// Close drains the sink queues, waiting at most Config.DrainTimeout (see
// sink.Dispatcher.Close), and closes the sinks. Call it after closing the
// log, so that no commit is reported after it.
func (m *Metrics) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), m.drain)
	defer cancel()
	return m.sinks.Close(ctx)
}
