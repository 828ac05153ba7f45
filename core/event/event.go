package event

// Event is one stored audit record (docs/event-format.md).
//
// Optional string fields use "" for null: an empty optional value is never
// stored, hashed or exported (see docs/decisions.md). Source is the one
// string field that is always present, possibly empty.
type Event struct {
	// Seq is the position in the log, assigned by the store at durable
	// append; -1 until then. It is not part of the canonical form.
	Seq int64
	// ID is a UUID (v7 when generated), in canonical lower-case 8-4-4-4-12 form.
	ID string
	// Type is the event_type, a catalogue name.
	Type string
	// TS is the construction time as fixed-width RFC 3339 UTC with
	// microseconds, e.g. "2026-05-03T12:00:00.123456Z". Because the width is
	// fixed, byte order equals time order.
	TS string
	// HLC is the emitter's hybrid logical clock "<wall_ms>.<counter>", or "".
	HLC string
	// Tenant is the normalised tenant_id.
	Tenant string
	// EntityURI is the acting principal.
	EntityURI string
	// Emitter is who submitted the record, or "".
	Emitter string
	// OIDCSub is the OIDC subject of the actor's key, or "".
	OIDCSub string
	// FactID is the target id, or "" for non-fact events.
	FactID string
	// Source is free text, "" by default.
	Source string
	// AttestedKeyID is the key id of a verified attestation, or "".
	AttestedKeyID string
	// Scope is the capability scope, or "".
	Scope string
	// Outcome is "success", "failure" or "denied".
	Outcome string
	// Detail is the canonical (RFC 8785) JSON object, or nil. An empty
	// object is stored as nil.
	Detail []byte
	// LeafHash is SHA-256(0x00 ‖ canonical form), the RFC 6962 leaf hash.
	LeafHash [32]byte
}

// Outcomes.
const (
	OutcomeSuccess = "success"
	OutcomeFailure = "failure"
	OutcomeDenied  = "denied"
)

// DefaultTenant is the tenant of an API caller that names none.
const DefaultTenant = "default"

// FactRef names the fact an instruction event is about (docs/event-format.md#instruction-events). It is input
// to Build, never a stored field. A nil pointer is JSON null.
type FactRef struct {
	Entity      *string
	Relation    *string
	InterpretAs *string
}

// Draft is what an emitter supplies; Build turns it into an Event.
//
// Fields mirror Event. ID may be empty (a UUIDv7 is generated). Tenant may be
// empty (DefaultTenant). Outcome may be empty (success). Detail is any JSON
// object text, or nil; Build canonicalises and bounds it, and refuses a
// number its canonical form would change (inexact_number: beyond 2^53, more
// digits than a double holds, below the smallest double) — such values
// belong in strings. Fact is required for instruction_quarantined and
// instruction_promoted and refused elsewhere.
type Draft struct {
	ID            string
	Type          string
	HLC           string
	Tenant        string
	EntityURI     string
	Emitter       string
	OIDCSub       string
	FactID        string
	Source        string
	AttestedKeyID string
	Scope         string
	Outcome       string
	Detail        []byte
	Fact          *FactRef
}
