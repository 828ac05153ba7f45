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
package event
