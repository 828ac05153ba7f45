// Package receipt is the event receipt of docs/tamper-evidence.md#receipts: a C2SP tlog-proof
// (c2sp.org/tlog-proof@v1) whose extra data is the event's canonical bytes,
// so that one file proves, offline, that this event is entry Index of the
// log the checkpoint signs (and, with its cosignatures, that the witnesses
// saw that log).
//
// Verify recomputes the leaf hash from the canonical bytes (0x00 ‖ bytes,
// SHA-256), checks the inclusion proof against the checkpoint's root and
// the checkpoint's signature with the log's key. The witness quorum is the
// caller's to check on Checkpoint (it needs the witness policy). Parse is
// strict: one header, at most one extra line, a canonical index, at most 63
// hashes of 32 bytes, and the checkpoint after a blank line.
package receipt
