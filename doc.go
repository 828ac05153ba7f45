// Package stigaudit is the Go library API of the stigaudit audit log.
//
// A Log turns drafts into events with the pure core (package core/event),
// appends them to a durable hostfns.Store, and tells an Observer (metrics,
// sinks) about every commit — after the commit, never before:
//
//	store, _ := sqlitestore.Open("data/stigaudit.db", sqlitestore.Options{})
//	log, _ := stigaudit.Open(stigaudit.Options{Store: store})
//	defer log.Close()
//	ev, err := log.Emit(ctx, event.Draft{
//		Type:      "fact_write",
//		EntityURI: "agent:alice",
//		FactID:    "f-42",
//	})
//
// Emit returns only when the event is durable (write-ahead): if it returns
// an error for a critical event type, the caller must not go on as if the
// action were audited. Best-effort types may use EmitBestEffort, which
// logs and counts a store that could not commit instead of failing the
// caller and returns the event it tried to store, or EmitNoFail, which
// reports nothing, like the seed's emit_nofail. On a failed append Emit and
// EmitBatch return what they tried to store with the error.
//
// The Log's Limits bound each detail, a request and a batch; an HTTP
// server reads its body limit from them, so every layer agrees.
//
// EmitBatch stores a batch atomically; EmitTx joins a caller's *sql.Tx on
// the store's own database, so the event commits or rolls back with the
// caller's work.
package stigaudit
