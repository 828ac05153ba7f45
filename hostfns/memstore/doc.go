// Package memstore is a hostfns.Store that keeps the log in memory.
//
// It implements the same contract as the durable stores — contiguous seqs,
// atomic and idempotent appends, the same query semantics and the same
// Merkle tree nodes for proofs — so tests and embedders can swap it in for
// sqlitestore. "Durable" means "for the life of the process": nothing
// survives a restart.
//
// Every method takes one mutex, so appends are serialised and a query sees a
// consistent prefix of the log. Queries scan the log; the store is meant for
// tests and small embedded logs, not for millions of events.
package memstore
