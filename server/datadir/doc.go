// Package datadir guards the server's data directory: the SQLite file, the
// checkpoint signing key and the checkpoint pinned beside it, the bootstrap
// admin key and the salts.
//
// Open refuses a directory others may write to and secret files others may
// read (each refusal names the chmod that fixes it), and takes an exclusive
// lock (LockFile, holding the server's pid) so a second server on the same
// directory is refused instead of sharing the SQLite file unannounced.
//
// CheckHistory refuses to re-initialise a directory whose log has signed
// checkpoints but whose database is gone, and Abandon is the operator's
// explicit way out: it moves the old log aside, whole, so the next start
// begins a new log (docs/design/tamper-evidence.md, "One history").
package datadir
