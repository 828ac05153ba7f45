// Package catalog holds the closed catalogue of audit event types (docs/catalogue.md).
//
// Every event names a type, and only catalogued types are accepted: an
// unknown name is refused with unknown_event_type rather than stored under
// a synonym (the seed's defect §11.5). Each type belongs to a family (where
// in the seed it came from), is critical or best-effort, and lists the
// detail keys an event of that type must carry:
//
//   - critical types fail closed: if the event cannot be made durable the
//     emit fails and the caller is told; best-effort types are logged and
//     counted instead;
//   - a required key must be present in the event's detail object with a
//     non-null value, of its declared JSON type when it declares one (the
//     built-in keys are strings, but peer_hlc_anomaly's skew_ms, a number),
//     and may further be constrained to a fixed set of values
//     (peer_hlc_anomaly's direction is "future" or "past").
//
// Default returns the built-in catalogue. Operators add their own types from
// a JSON configuration file with Extend, which returns a new catalogue: a
// Catalogue never changes after construction and is safe for concurrent use.
//
//	{"event_types": [
//	  {"name": "billing.invoice_sent", "critical": true,
//	   "required_detail": ["invoice_id", {"name": "amount_cents", "type": "number"},
//	                       {"name": "channel", "type": "string", "one_of": ["email", "post"]}]}
//	]}
//
// Names match ^[a-z][a-z0-9_]*(\.[a-z0-9_]+)*$ and may not repeat a type that
// already exists. "critical" defaults to true (fail closed), and a required
// key is either a name (any non-null value) or an object with "name" and
// optionally "type" (string, number, boolean, object or array) and
// "one_of" (a list of permitted JSON scalar values, each of the type).
package catalog
