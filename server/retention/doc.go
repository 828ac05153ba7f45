// Package retention ages the audit log out without breaking its proofs.
//
// An audit log that keeps everything forever keeps personal data forever.
// A retention policy (serve --retention, default 400 days) bounds that: an
// event older than the retention period has its content purged. Its row is
// not deleted — seq, id, ts, tenant_id, event_type, outcome and the leaf
// hash stay — so the Merkle tree is untouched: every checkpoint signed
// before or after the purge still verifies over the whole log, and
// inclusion and consistency proofs keep working. What goes is what the
// leaf hash was computed from: entity_uri, emitter, oidc_sub, fact_id,
// source, attested_key_id, scope, hlc and detail. A verifier takes a
// purged event's stored leaf hash as given (its content can no longer be
// re-hashed), and still checks that leaf against every signed root.
//
// # The one write path
//
// The database refuses every UPDATE and DELETE of events but one: the
// purge of a live event (the triggers of migrations/sqlite/0004_retention
// and migrations/postgres/0003_retention: purged_at set, the content
// columns blanked, everything else unchanged, once). Purger is the only
// code that issues it, and it records what it does before doing it:
//
//   - at start, a config_change event (tenant "default") whenever the
//     retention setting differs from the last one recorded: "setting":
//     "retention", "days", "floor_override" and the previous value;
//   - before each purge, per affected tenant, an admin_action event
//     (critical: if it cannot be stored nothing is purged) with "action":
//     "retention_purge", "phase": "start", the cutoff ts, the retention
//     days and the seq range and number of events about to be purged;
//   - after it, per tenant, an admin_action with "phase": "end", the start
//     event's id and the number purged; outcome failure if the purge broke
//     off.
//
// Purges run at start and then hourly, in short transactions of at most
// 1000 events, so appends are never held up for long.
//
// # SQLite and PostgreSQL
//
// Config.Purging is the store's SQL (the stores own it). On SQLite a purge looks for old
// events through the ts_blocks block-range index, from the lowest seq it
// left live last time. On PostgreSQL, where replicas share the log, a
// purge first takes a session-level advisory lock, so one replica purges
// at a time and the others skip that round (nothing is announced twice);
// it finds each tenant's old events through the (tenant_id, ts) index,
// from the cutoff of its last complete purge on, so an hourly purge reads
// about the events that aged out in the hour, not the whole log.
//
// # The floor
//
// A retention below 90 days is refused unless the operator also passes
// --i-understand-short-retention: a mistyped "4" instead of "400" must not
// silently destroy a year of evidence. 0 (or "off") keeps events forever.
//
// # Reading purged events
//
// GET /v1/audit/events/{id} (id is the event's UUID or its seq) answers the
// event, or for a purged event 410 Gone:
//
//	{"error":{"code":"purged","message":"…"},
//	 "event":{"seq":5,"id":"…","event_type":"…","ts":"…","tenant_id":"…","outcome":"…",
//	          "leaf_hash":"<hex>","purged_at":"…"}}
//
// with the same visibility as the list routes (read: own entity_uri — a
// purged event no longer names one, so it answers 404 to read keys;
// audit.read: the tenant; admin: all). In list answers and exports a
// purged event appears in its place with empty content fields (entity_uri
// "" marks it: a live event always has one) and its leaf hash; in a
// filtered NDJSON export its inclusion proof too. A reader of an NDJSON
// export must take such a line's leaf hash as given, as `verify --db`
// must for a purged row (IsPurged); event.ParseEvent, and so
// export.Reader, still refuse the empty entity_uri.
package retention
