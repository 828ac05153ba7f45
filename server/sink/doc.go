// Package sink delivers committed audit events to secondary destinations —
// a JSON-lines file, NATS JetStream or a signed webhook — without ever
// letting them slow down or fail the audit log itself.
//
// This is the seed's audit_emit plugin hook, with its two defects fixed: it
// ran before the transaction committed, and a slow or failing plugin blocked
// every write. Here the Dispatcher is fed only from the log's post-commit
// observer (stigaudit.Observer.Committed), and each sink has its own bounded
// queue and goroutine:
//
//	committed events ──Enqueue──▶ [queue A] ──goroutine──▶ Sink A.Write
//	                         └──▶ [queue B] ──goroutine──▶ Sink B.Write
//
// Enqueue never blocks. When a sink's queue is full the events that do not
// fit are dropped and counted (stigaudit_sink_dropped_total{sink}); a Write
// that fails or panics is logged and counted, and its events are not
// retried. A sink is therefore a best-effort copy: the database, with its
// Merkle tree, stays the record of truth.
//
// Sinks are named by a spec string on the command line (Parse):
//
//	file:/var/log/stigaudit/events.jsonl
//	nats://127.0.0.1:4222
//	https://hooks.example.org/audit
//
// What each guarantees (at-most-once or at-least-once, duplicates) is in
// the README's "Sinks" section.
package sink
