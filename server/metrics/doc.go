// Package metrics turns what the audit log observes into Prometheus metrics,
// and reports how the sinks (server/sink) are doing.
//
// A Metrics value is built by New on a Registerer the caller owns — there are
// no package-level collectors and nothing is registered at init — and it is
// handed to the log as its stigaudit.Observer. The log calls Committed only
// after a durable commit, so the event counter and the sinks see exactly the
// committed events, never one that was rolled back (the seed counted and
// notified before its commit). The sinks are delivered by a sink.Dispatcher,
// which reads the log itself and reports to a Metrics value (sink.Reporter).
//
// With several replicas on one PostgreSQL log, serve does not hand Committed
// every event each replica observes: only the replica elected for the
// "sinks" feed (pgstore.Feed) calls it, once per event of the log, so the
// event counter summed over replicas counts each event once.
//
// Metrics:
//
//	stigmem_audit_event_total{event_type,tenant}       committed events (the seed's name)
//	stigaudit_emit_duration_seconds{result}            Emit/EmitBatch latency; result is ok or error
//	stigaudit_emit_failures_total{code}                failed Emit/EmitBatch calls by error code
//	stigaudit_best_effort_failures_total{event_type}   best-effort events that could not be stored
//	stigaudit_commit_batch_events                      events per store commit (group commit)
//	stigaudit_commit_batch_requests                    Append calls coalesced per store commit
//	stigaudit_commit_duration_seconds                  time to commit one group
//	stigaudit_sink_errors_total{sink}                  failed sink writes (retried from the sink's cursor)
//	stigaudit_sink_lag_events{sink}                    events of the log not yet delivered to a sink
//	stigaudit_http_requests_total{route,method,code}   HTTP requests served
//	stigaudit_http_request_duration_seconds{route}     HTTP latency
package metrics
