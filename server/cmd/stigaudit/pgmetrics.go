package main

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/stigaudit/stigaudit/hostfns/pgstore"
)

// registerPostgresMetrics exports the connection attempts of a PostgreSQL
// store: an outage shows as stigaudit_postgres_down 1 with the refused
// attempts growing and the dials growing by about one a second.
func registerPostgresMetrics(reg prometheus.Registerer, store backend) error {
	pg := store.shared
	if pg == nil {
		return nil
	}
	stat := func(f func(pgstore.ConnStats) uint64) func() float64 {
		return func() float64 { return float64(f(pg.ConnStats())) }
	}
	for _, c := range []prometheus.Collector{
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "stigaudit_postgres_dials_total",
			Help: "Connections to PostgreSQL attempted."}, stat(func(s pgstore.ConnStats) uint64 { return s.Dials })),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "stigaudit_postgres_dial_failures_total",
			Help: "Connection attempts to PostgreSQL that failed (dial, TLS or session start-up)."}, stat(func(s pgstore.ConnStats) uint64 { return s.Failures })),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "stigaudit_postgres_dials_refused_total",
			Help: "Connection attempts refused without dialing while PostgreSQL was down."}, stat(func(s pgstore.ConnStats) uint64 { return s.Refused })),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "stigaudit_postgres_outages_total",
			Help: "Times PostgreSQL was found unreachable."}, stat(func(s pgstore.ConnStats) uint64 { return s.Outages })),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "stigaudit_postgres_down",
			Help: "1 while PostgreSQL is considered unreachable (connections back off), else 0."}, func() float64 {
			if pg.ConnStats().Down {
				return 1
			}
			return 0
		}),
	} {
		if err := reg.Register(c); err != nil {
			return err
		}
	}
	return nil
}
