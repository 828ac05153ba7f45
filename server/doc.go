// Package server is the stigaudit reference server's HTTP surface,
// assembled in one place: New takes a Config of the node's parts (the Log,
// the API keys, the store, the checkpointer, the witnessed checkpoint, the
// live-stream hub, the redaction policy, the browser preview) and builds
// one http.Handler whose route table, routes.go, lists every route with
// who may call it.
//
// The route packages provide handlers and nothing else: server/api (events
// in, reads, health, and the middleware every route runs behind),
// server/tlog (checkpoints, proofs, tlog-tiles, receipts), server/exportapi
// (export, the redaction hash lookup), server/stream (the live stream),
// server/retention (one event, purged or not) and web (the page). The
// binary that opens the store, signs, witnesses and serves lives in
// server/cmd/stigaudit; docs/architecture.md draws the whole route of an
// event.
package server
