// Package event defines the audit event record, its construction from a
// draft, its canonical form and its leaf hash.
//
// An Event is built once, from a Draft, a wall-clock reading and an entropy
// source supplied by the host: the package itself reads no clock and no
// randomness, so the same code runs natively and inside WebAssembly and gives
// the same bytes everywhere.
//
// The canonical form is RFC 8785 (JSON Canonicalization Scheme) of the event
// object without seq and leaf_hash, with null fields omitted. It is the one
// byte string that is hashed, exported as NDJSON and compared across hosts;
// the leaf hash is SHA-256(0x00 ‖ canonical), an RFC 6962 Merkle leaf.
//
// # The life of an event
//
// A request body becomes drafts with ParseEmitRequest (one object, or
// {"events":[...]} with every bad item reported in an
// *auditerr.BatchError); ParseDraft reads a single object. Builder.Build
// checks every field against the catalogue and the Limits, normalises the
// tenant, id and outcome, applies the instruction rules, stamps the time,
// generates a UUIDv7 when the emitter gave no id, and computes LeafHash.
// The store then assigns Seq. AppendJSON writes the stored event as the
// HTTP API returns it, AppendCanonical the bytes that are hashed, and
// ParseEvent reads either form back, for exports, verification and other
// hosts.
//
// # Instruction events
//
// instruction_quarantined and instruction_promoted describe a fact, passed
// as Draft.Fact. They are recorded only for instruction facts
// (IsInstructionFact, the seed's ADR-003 rule); for any other fact Build
// returns an error wrapping auditerr.ErrNotInstruction, which callers treat
// as "skipped", not as a failure. The recorded detail is the fact merged
// with the caller's detail (MergeDetail), and the source defaults to the
// actor.
//
// # What is refused
//
// Every refusal carries a stable code from package auditerr. Beyond the
// shapes of docs/event-format.md#fields, string fields must be valid UTF-8 within MaxFieldBytes
// (MaxSourceBytes for source) and free of characters that let a printed
// log line lie about itself: C0/C1 controls, DEL, U+2028/U+2029 and the
// bidirectional controls. The detail object may contain anything JSON can
// carry, within Limits.
//
// All functions are safe for concurrent use; none of them panics on any
// input.
package event
