// Package exportapi serves the compliance side of the HTTP API: the
// streamed export GET /v1/audit/export and the investigator's hash lookup
// POST /v1/audit/hash (docs/api.md#redaction).
//
// # Export
//
//	GET /v1/audit/export?format=csv|ndjson|ocsf[&redact=hmac][&<§7 filters>][&cursor=C | &after_seq=N]
//
// It needs audit.read (the key's tenant; admin: every tenant, or the one
// named by tenant_id). The filters are those of the list routes, parsed by
// the same code (api.ParseFilters); limit is refused, because an export is
// never cut short silently: it streams every matching event up to its
// checkpoint.
//
// Before anything is sent the export signs (or reuses) a checkpoint of the
// whole log (tlog.Checkpointer.Sync): the export holds exactly the matching
// events with seq below the checkpoint's size, oldest first, one store page
// (1000 events) in memory at a time, so memory stays flat whatever the
// size. Events committed during the export are left for the next one.
//
// Formats (package export): format=csv is the columns (docs/api.md#csv), RFC 4180,
// with the formula-injection guard; format=ndjson is one canonical event
// line with seq and leaf_hash per event, each with its inclusion proof when
// the export is a selection (any tenant scope or filter, or a resumed
// export), and last the signed checkpoint line, so `stigaudit verify
// --ndjson` checks it offline. format=ocsf is one OCSF record per event
// (server/ocsf; seq, leaf hash, tenant and proof under "unmapped") and the
// same checkpoint line (docs/operations.md#ocsf).
//
// Response headers, all sent before the first event:
//
//	Content-Type            text/csv; charset=utf-8; header=present | application/x-ndjson
//	Content-Disposition     attachment; filename="stigaudit_<tenant|all>_<from>-<to>[_redacted].<csv|ndjson|ocsf.ndjson>"
//	                        where <from> is the since time or seqN of the first seq
//	                        considered, <to> the until time or seqN of the last
//	Stigaudit-Export-Id     the id of the audit_export event that records this export
//	Stigaudit-Checkpoint-Size  N: the export covers seqs below N
//	Stigaudit-Checkpoint    the signed checkpoint of size N, base64 (for CSV,
//	                        which has no place for it; NDJSON also ends with it)
//	Stigaudit-Next-Cursor   the cursor that continues after this export (omitted when N is 0)
//	Stigaudit-Redacted      hmac, when the export is redacted
//
// and, as HTTP trailers after the last byte, Stigaudit-Export-Events (the
// count) and Stigaudit-Export-Complete: true. A failure after the headers
// (the store failing mid-way) aborts the connection, so a client never
// mistakes a truncated export for a whole one: the chunked body ends
// without its terminating chunk and the trailers are missing.
//
// # Resuming
//
// Two ways, both giving exactly the events an uninterrupted export would
// have given after the resume point:
//
//   - after a complete export, cursor=<Stigaudit-Next-Cursor> with the
//     same filters exports what was committed since (the cursor is bound
//     to the filters, like the list routes' cursors);
//   - after an interruption, after_seq=N where N is the seq of the last
//     whole record received (the first CSV column, the "seq" member of an
//     NDJSON line): the export continues at N+1. It is not a credential:
//     it only moves the starting point of an export the key may run
//     anyway.
//
// A resumed NDJSON export starts after seq 0, so it is a selection: its
// lines carry inclusion proofs.
//
// # Auditing the export
//
// Every export request is recorded as audit_export events in the exported
// tenant (the key's own tenant when an admin exports every tenant), with
// the key's entity_uri as the acting principal and the key id in detail:
//
//   - phase "start", before the first byte is sent, outcome success: the
//     format, the parsed filters, redaction, the first seq and the
//     checkpoint size. If it cannot be stored (the type is critical) the
//     export is refused with 503 and nothing is sent.
//   - phase "end", after the last byte, with the same start_id: "events"
//     (how many were sent) and "complete"; outcome success, or failure
//     with "error" (the code) when the export broke off — a client that
//     went away, a store failure.
//   - a refused request is one event, phase "refused": outcome denied for
//     a key without audit.read (403), failure for an invalid request
//     (400) or an unavailable checkpoint; "query" holds the raw query
//     string (at most 2 KiB), "error" the code.
//
// So the count is in the end event; a start without an end means the
// server stopped mid-export.
//
// # Redaction
//
// redact=hmac, or a key the redaction policy always redacts, replaces the
// configured fields by their keyed hashes (package redact) before they are
// written; the leaf hashes stay those of the stored events. A redacted
// NDJSON export is for sharing, not for verification: its content no
// longer hashes to the leaves (its proofs still show the leaves are in the
// signed log).
//
// # Proofs, fast
//
// A selection's NDJSON lines each carry an inclusion proof. Asking the
// store for each proof (tlog.Prover: one read of ~20 nodes per event)
// capped a tenant export at a few thousand events a second; NewProver
// reads the leaf hashes of 256 consecutive seqs at once, hashes their
// subtree in memory, and reuses the upper part of the audit path that all
// of them share, so proofs cost about two store reads per 256 events.
// Pages are prefetched (the next page is read while the current one is
// written), so on two cores the store's scan and the encoding overlap.
//
// # Purged events
//
// After a retention purge (package retention) a purged event is exported
// in its place with its seq, id, ts, tenant, type, outcome and leaf hash,
// and empty content: in CSV, empty cells (an empty entity_uri marks it);
// in NDJSON, "entity_uri":"" and no optional members.
//
// # Hash lookup
//
//	POST /v1/audit/hash   {"value": <any JSON value>}  →  {"hash":"hmac-sha256:<hex>"}
//
// admin only. It returns the keyed hash a redacted export shows for the
// value (the string itself for a string, the canonical JSON text
// otherwise), so an investigator can search redacted data for a known
// value without un-redacting anything. Each lookup is recorded as an
// admin_action event (action "redaction_hash_lookup") with the hash, never
// the value.
package exportapi
