package tlog

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// cpMetrics are the checkpointer's Prometheus metrics. Without a
// Registerer they are kept but not exported.
type cpMetrics struct {
	size      prometheus.Gauge
	timestamp prometheus.Gauge
	signed    prometheus.Counter
	errors    prometheus.Counter
	fork      prometheus.Gauge
}

func newCPMetrics(reg prometheus.Registerer) (*cpMetrics, error) {
	m := &cpMetrics{
		size: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "stigaudit_checkpoint_size",
			Help: "Tree size of the latest signed checkpoint (events covered).",
		}),
		timestamp: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "stigaudit_checkpoint_timestamp_seconds",
			Help: "Unix time when the latest checkpoint was signed.",
		}),
		signed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "stigaudit_checkpoint_signed_total",
			Help: "Checkpoints signed by this process.",
		}),
		errors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "stigaudit_checkpoint_errors_total",
			Help: "Signing attempts that failed for a transient reason (store unavailable); they are retried.",
		}),
		fork: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "stigaudit_checkpoint_refusing",
			Help: "1 when the checkpointer refuses to sign because the stored log does not extend the last signed checkpoint (a fork, rollback or replaced key); 0 otherwise.",
		}),
	}
	if reg != nil {
		for _, c := range []prometheus.Collector{m.size, m.timestamp, m.signed, m.errors, m.fork} {
			if err := reg.Register(c); err != nil {
				return nil, fmt.Errorf("tlog: register metrics: %w", err)
			}
		}
	}
	return m, nil
}

func (m *cpMetrics) observe(s Signed) {
	m.size.Set(float64(s.Size))
	if !s.Time.IsZero() {
		m.timestamp.Set(float64(s.Time.UnixNano()) / 1e9)
	}
}
