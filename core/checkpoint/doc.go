// Package checkpoint signs and opens the checkpoints of the audit log.
//
// A checkpoint is the log's promise about its whole history: "my first Size
// events are the leaves of the Merkle tree whose root is Root". It is a C2SP
// tlog-checkpoint (https://c2sp.org/tlog-checkpoint), the text
//
//	stigaudit/node-1
//	1234
//	<base64 of the 32-byte root>
//
// signed as a C2SP signed note (https://c2sp.org/signed-note) with an
// Ed25519 key. Keys are made and notes signed with
// golang.org/x/mod/sumdb/note; NewVerifier and Open parse keys and open
// notes with this package's own code, by note's rules (the tests hold the
// two to the same answers), so that the WebAssembly module, which only
// verifies, does not link note or the fmt its errors need:
//
//	stigaudit/node-1
//	1234
//	<base64 root>
//
//	— stigaudit/node-1 <base64 of key hash ‖ signature>
//
// The format is the one Go's checksum database, Sigstore and the witness
// network use, so existing tools can read and co-sign our checkpoints.
//
// # Origin and key name
//
// The origin (first line) names the log. Our convention is
// "stigaudit/<node-name>", or an operator's schema-less URL such as
// "audit.example.com/node-1" when logs of several organisations meet. The
// signing key carries the same name as the origin, so a verifier key
// "stigaudit/node-1+<hash>+<key>" says which log it speaks for, and Open
// with an empty origin checks the origin against the key's name. An origin
// is therefore a valid note key name: non-empty UTF-8 without spaces,
// control characters or '+'.
//
// # Keys
//
// GenerateKey makes a key pair from a random source the host supplies (the
// package reads no randomness itself). The private key string
// "PRIVATE+KEY+<name>+<hash>+<base64>" stays in the server's data
// directory; the verifier key "<name>+<hash>+<base64>" is public and is
// what `stigaudit verify --key` takes.
//
// Every failure to open a checkpoint — a signature that does not verify, a
// key of another name or hash, a malformed note or body, a wrong origin —
// is an error wrapping auditerr.ErrInvalidCheckpoint whose message says
// which.
package checkpoint
