package metrics

import (
	"errors"
	"fmt"
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
	// Sinks are the sinks whose series (errors, lag) are exported from
	// the start, at zero; optional. The Metrics value is their
	// sink.Reporter: pass it to sink.NewDispatcher, which delivers them.
	Sinks []sink.Sink
}

// Metrics holds the server's collectors. It implements stigaudit.Observer
// and sink.Reporter. It is safe for concurrent use.
type Metrics struct {
	events         *prometheus.CounterVec
	emitDuration   *prometheus.HistogramVec
	emitFailures   *prometheus.CounterVec
	bestEffort     *prometheus.CounterVec
	commitEvents   prometheus.Histogram
	commitRequests prometheus.Histogram
	commitDuration prometheus.Histogram
	sinkErrors     *prometheus.CounterVec
	sinkLag        *prometheus.GaugeVec
	httpRequests   *prometheus.CounterVec
	httpDuration   *prometheus.HistogramVec
}

// latencyBuckets span 100 µs (a cached in-memory emit) to 10 s (a stalled
// disk), roughly ×2.5 apart.
var latencyBuckets = []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}

// New builds the collectors and registers them on cfg.Registerer.
func New(cfg Config) (*Metrics, error) {
	if cfg.Registerer == nil {
		return nil, errors.New("metrics: Config.Registerer is required")
	}
	m := &Metrics{
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
		sinkErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "stigaudit_sink_errors_total",
			Help: "Sink writes that failed; their events are not lost but written again, with backoff, from the sink's cursor.",
		}, []string{"sink"}),
		sinkLag: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "stigaudit_sink_lag_events",
			Help: "Events of the log not yet delivered to a sink: the log's size minus the sink's position.",
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
		m.sinkErrors, m.sinkLag, m.httpRequests, m.httpDuration,
	}
	for i, c := range cs {
		if err := cfg.Registerer.Register(c); err != nil {
			for _, done := range cs[:i] {
				cfg.Registerer.Unregister(done)
			}
			return nil, fmt.Errorf("metrics: registering collectors: %w", err)
		}
	}
	// Export every sink's series from the start, at zero, so that an
	// alert on them has a series to watch.
	for _, s := range cfg.Sinks {
		m.sinkErrors.WithLabelValues(s.Name())
		m.sinkLag.WithLabelValues(s.Name())
	}
	return m, nil
}

// Committed counts committed events. The log calls it after each durable
// commit; it never blocks.
func (m *Metrics) Committed(events []event.Event) {
	for i := range events {
		m.events.WithLabelValues(events[i].Type, events[i].Tenant).Inc()
	}
}

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

// Failed counts a failed sink write, which will be retried (sink.Reporter).
func (m *Metrics) Failed(sinkName string, _ int, _ error) {
	m.sinkErrors.WithLabelValues(sinkName).Inc()
}

// Lag sets how many events of the log a sink has not been delivered yet
// (sink.Reporter).
func (m *Metrics) Lag(sinkName string, events int64) {
	m.sinkLag.WithLabelValues(sinkName).Set(float64(events))
}

// HTTPRequest records one served HTTP request. route is the route pattern
// (e.g. "/v1/audit/facts/:fact_id"), never the raw path, to bound
// cardinality.
func (m *Metrics) HTTPRequest(route, method string, status int, d time.Duration) {
	m.httpRequests.WithLabelValues(route, method, strconv.Itoa(status)).Inc()
	m.httpDuration.WithLabelValues(route).Observe(d.Seconds())
}

var _ sink.Reporter = (*Metrics)(nil)
