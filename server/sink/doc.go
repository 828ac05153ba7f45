// Package sink delivers committed audit events to secondary destinations —
// a JSON-lines file, NATS JetStream, a signed webhook or a syslog receiver
// (RFC 5424 over TCP or TLS) — at least once, in seq order, without ever
// letting them slow down or fail the audit log.
//
// This is the seed's audit_emit plugin hook, with its defects fixed: it ran
// before the transaction committed, a slow or failing plugin blocked every
// write, and (in this project's first version) a full queue or a failed
// write lost events. Here each sink has a durable cursor in the log's
// database (Cursors: table feed_cursors, SQLite and PostgreSQL alike) and a
// goroutine of its own (Dispatcher):
//
//	committed events ──Enqueue──▶ [bounded tail in memory]
//	                                 │ (what it still holds)
//	log (SQLite/PostgreSQL) ─────────┼──▶ worker A ──▶ Sink A.Write ──▶ cursor A saved
//	  read back from each cursor ────┴──▶ worker B ──▶ Sink B.Write ──▶ cursor B saved
//
// Enqueue never blocks and never drops: it only appends to the tail. A
// worker that keeps up is served from the tail; one that is behind — its
// destination is down or slow, the process just started — reads the log
// back from its position: the log is the buffer. A failed (or panicking)
// Write is logged, counted and retried from the same seq with capped
// exponential backoff (100 ms doubling to 5 s). Positions are saved every
// 200 ms while they move and when the Dispatcher closes, so after a
// restart or a kill -9 each sink resumes from its cursor: events delivered
// after the last save are delivered again, none is skipped.
// stigaudit_sink_lag_events{sink} (Reporter.Lag) says how far behind each
// sink is.
//
// Sinks are named by a spec string on the command line (Parse):
//
//	file:/var/log/stigaudit/events.jsonl?max_size=64MiB&keep=10
//	nats://127.0.0.1:4222
//	https://hooks.example.org/audit?tenant=acme&outcome=denied&redact=hmac
//	syslog+tls://siem.example.org:6514?ca=/etc/stigaudit/siem-ca.pem
//
// Filter parameters (event_type, tenant, outcome, redact) and format=ocsf
// (each event written as its OCSF record, through the sink's Render) are
// accepted by every kind and applied by a Filtered wrapper; file sinks
// rotate (File) and reopen on SIGHUP (Reopener).
//
// What each guarantees, and how duplicates are told apart, is in the
// README's "Sinks: what each guarantees" section.
package sink
