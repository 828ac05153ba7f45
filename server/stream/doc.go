// Package stream serves the live tail of the audit log as Server-Sent
// Events (docs/api.md#stream, GET /v1/audit/stream), and the fan-out of committed
// events that feeds it.
//
// # The fan-out
//
// A Hub is a stigaudit.Observer: the Log tells it of every committed event
// exactly once, in seq order, after the commit (Tee puts it beside the
// metrics observer). It hands each batch to every subscribed reader
// without copying (events are shared and read-only) and without ever
// blocking the committer: each reader has a bounded queue
// (HubOptions.MaxPending events). A reader whose queue is full is cut off
// at once — the Hub forgets it, so a stalled client holds no memory in the
// Hub — and its stream ends with an error event telling it where to resume.
//
// # The stream
//
//	GET /v1/audit/stream[?from=SEQ][&redact=hmac][&<§7 filters>]     (audit.read)
//	Last-Event-ID: SEQ                                                  (optional)
//
// A stream starts after Last-Event-ID (a reconnecting EventSource sends
// it), else at from (inclusive), else at the end of the log (new events
// only). It first catches up from the store, page by page, then subscribes
// to the Hub, catches up once more (closing the race between the two), and
// then follows new commits live. Every event is sent once, in seq order,
// with its seq as the SSE id:
//
//	id: 42
//	data: {"seq":42,"id":"…",…,"leaf_hash":"…"}
//
// The data is the event as the HTTP API shows it (event.AppendJSON),
// redacted when the key or the redact parameter asks (package redact).
// Filters are those of the list routes (api.ParseFilters; limit and cursor
// are refused: from and Last-Event-ID position a stream); live events are
// matched in memory by the same rules as the store's queries (Match).
//
// A comment line ": heartbeat" is sent every HubOptions.Heartbeat (15 s)
// so that proxies keep an idle stream open and a client notices a dead
// one. A stream ends with one final event of type "error":
//
//	event: error
//	data: {"code":"slow_reader","message":"…","last_event_id":"41"}
//
// where last_event_id is the seq to resume after (every event up to it
// was sent or did not match).
// code slow_reader (the reader fell behind; reconnect with Last-Event-ID
// to resume from the store), closed (the server is shutting down),
// key_revoked or key_expired (the stream's key was revoked or expired:
// the stream ends within 2 s of a revocation, also one made by another
// process, see auth.Keys.WatchContext), or store_unavailable (a catch-up
// read failed). A write that does not complete within the write timeout
// (10 s) ends the stream without one: a reader that takes nothing, not
// even the heartbeats, is cut and gives its place back.
//
// Streams are limited in number: at most HubOptions.MaxPerKey (10) per API
// key and MaxPerTenant (100) per tenant (the key's), below the whole
// server's MaxReaders (1000), so that one key or one tenant cannot hold
// every place. Over a key's or tenant's cap a new stream is refused with
// 429 too_many_streams, over the server's with 503 too_many_streams, both
// with Retry-After.
package stream
