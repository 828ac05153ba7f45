// Package redact replaces sensitive fields of audit events with keyed
// hashes, so that exports and reads can be shared with people who must
// correlate events but must not see who or what they name (docs/api.md#redaction,
// "Redaction", in the manner of Vault's audit devices).
//
// # The hash
//
// A redacted value becomes "hmac-sha256:<64 hex digits>", the HMAC-SHA256
// of the value keyed with the node's secret salt. The salt is 32 random
// bytes kept in the data directory (SaltFile, mode 0600), created on first
// start (LoadOrCreateSalt); a salt file readable by group or others is
// refused. The hash depends on the value only, not on the field it sits
// in, so one person's identifier hashes the same as oidc_sub, as a detail
// member and in every export: an investigator who knows a clear value asks
// the node for its hash (POST /v1/audit/hash, admin only) and searches the
// redacted data for it, without anything being un-redacted. Without the
// salt the hashes cannot be reversed by guessing values. Losing the salt
// only means that new hashes no longer match old ones; rotating it (moving
// the file away) is how an operator deliberately breaks that link.
//
// What is hashed is the value's text: the string itself for a string, the
// canonical JSON text (RFC 8785) for a number, boolean, array or object in
// detail. Empty optional fields and JSON nulls are left as they are: they
// name nothing.
//
// # Profiles
//
// A Profile lists the fields a deployment redacts (serve --redact-fields,
// default DefaultFields): any of entity_uri, emitter, oidc_sub, fact_id,
// source, attested_key_id and scope, and any path into detail written
// "detail.a.b" (object members only; a path that does not exist in an
// event is skipped; a path naming an object hashes the whole object). The
// fields that identify and place an event — seq, id, ts, tenant_id,
// event_type, outcome, hlc, leaf_hash — are never redacted, so a redacted
// export keeps its order, its time line and its leaf hashes, which still
// prove each event's inclusion in the signed log (the redacted content, of
// course, no longer hashes to them).
//
// The stored event never changes: redaction happens on the way out.
//
// # Who sees redacted data
//
// A Policy decides per request. redact=hmac asks for redaction; a
// principal listed in the policy (serve --redact-principals, matched
// against the key's id or its entity_uri) always gets it — on exports, on
// the live stream and on the list answers of GET /v1/audit,
// /v1/audit/facts/{id} and /v1/admin/audit (redacted by the list encoder,
// api.Config.Redaction) — and is
// refused redact=none and any filter on a redacted field (a filter on a
// clear value would let it probe for values it may not see).
package redact
