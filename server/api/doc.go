// Package api serves the HTTP API of the reference server (docs/api.md) with
// echo.
//
// Handlers are thin: they authenticate the caller (server/auth), decode the
// request, call the Go library (package stigaudit), and encode the answer
// with event.AppendJSON, so an event reads the same over HTTP as in an
// NDJSON export. One function, Status, maps every error code to an HTTP
// status, and every error answer has the shape
//
//	{"error":{"code":"unknown_event_type","message":"..."}}
//
// with, for a refused batch, "items":[{"index":i,"code":..,"message":..}]
// naming every bad event.
//
// # Emitting
//
// POST /v1/audit/events takes one event object, or {"events":[...]} for an
// atomic batch. The key decides who is writing (event.Scope, the rule a
// WebAssembly host applies too):
//
//   - tenant_id defaults to the key's tenant. A non-admin key that names
//     another tenant is refused (403); an admin key may name any tenant.
//   - emitter is always the key's entity_uri. A body may repeat that value
//     but any other emitter is refused (403): an emitter cannot be forged.
//   - entity_uri (the acting principal, which may differ from the emitter)
//     and oidc_sub default to the key's.
//
// Answers:
//
//   - 201 with the stored event (or {"events":[...]} in request order). An
//     idempotent re-send (same id, same content) also answers 201, with the
//     event as first stored — same seq, same ts — and stores nothing, so a
//     retrying client need not tell the two apart.
//   - 200 {"skipped":"not_instruction"} for a lone instruction event about a
//     fact that is not an instruction fact (docs/event-format.md#instruction-events); inside a batch the
//     item's place holds {"skipped":"not_instruction"}.
//   - 202 with the event that was attempted — the id and ts the store was
//     given — ("seq":null, and "stored":false beside its fields) when the
//     store cannot commit and every event is of a best-effort type: like
//     the seed's emit_nofail, the failure is logged and counted by the Log
//     (stigaudit.Log.EmitBestEffort; stigaudit_best_effort_failures_total
//     through its Observer) but is not the caller's problem. Critical types fail closed: 503 store_unavailable.
//     Every 503 carries Retry-After: 1; a key that cannot be re-checked
//     while the database is unreachable (and was not verified within the
//     last 60 s) is 503 key_recheck_unavailable, before any emit is tried.
//   - 409 id_conflict for a known id with different content; 413 for a body
//     over 1 MiB (the request bytes: one event or a whole batch) or a batch
//     over 1000 events; 408 request_timeout for a body that trickles (see
//     Bound).
//
// # Reading
//
// GET /v1/audit (newest first), GET /v1/audit/facts/{fact_id} and
// GET /v1/admin/audit (both oldest first) answer
//
//	{"events":[...], "next_cursor": "..." | null, "has_more": bool}
//
// What a key sees: `read` the events whose entity_uri is its own; `audit.read`
// every event of its tenant; `admin` every tenant, or the one named by
// tenant_id. Filters: event_type (repeatable), entity_uri, oidc_sub, source,
// fact_id, attested (true|false), outcome, scope, since (inclusive) and until
// (exclusive) as RFC 3339 with any offset, limit (1–1000, default 100) and
// cursor. A parameter that is unknown, repeated, empty or malformed is a 400
// (invalid_parameter, or invalid_cursor), never ignored.
//
// A cursor is opaque: base64url of a version, the order, the last seq seen
// and a hash of the filters (and of the scope the key imposes), so a cursor
// cannot be replayed against another query. Paging by seq visits every
// matching event exactly once even while new events are appended. A cursor
// is not a credential: forging one only moves the starting point of a query
// the key is allowed to run anyway.
package api
