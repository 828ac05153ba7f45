// Package sqlitestore is the default hostfns.Store: the audit log in one
// SQLite file (modernc.org/sqlite, pure Go, no cgo), with the schema of
// package migrations.
//
// # Durability
//
// The database runs in WAL mode with synchronous=FULL by default: Append
// returns only after the transaction holding its events is committed and the
// WAL is fsynced, so an acknowledged event survives kill -9 and, as far as
// the disk keeps its promises, power loss. Every append writes, in the same
// transaction, the events (seq assigned explicitly, contiguous from 0) and
// every RFC 6962 Merkle subtree they complete (table tree_nodes), so the
// tree is always exactly as long as the log and proofs are O(log n) reads.
// Triggers make the database itself refuse UPDATE and DELETE of events and
// tree nodes and any INSERT that is not the next seq.
//
// # Reads
//
// Query is keyset paging on seq: every page is one statement over an index
// that starts with tenant_id and ends with seq (one per indexed filter:
// event_type, entity_uri, oidc_sub, fact_id, scope, attested=true, failed
// or denied outcomes), so a page costs O(page) whatever its depth. Time bounds are turned into seq
// bounds through ts_blocks, a block-range index of ts maintained with the
// appends (migration 0003), because ts follows seq only roughly.
//
// Stats reads counts per tenant, minute, event type and outcome from
// stats_minutes, a rollup the append transaction keeps (migration 0009);
// counts for one entity or by entity are read from the events table
// (docs/decisions.md §34).
//
// # Group commit
//
// A durable commit costs an fsync, far more than the CPU to insert an
// event with its indexes and tree nodes, so one transaction per event caps
// throughput at the disk's fsync rate (see
// docs/decisions.md#91-why-one-writer-an-fsync-costs-more-than-an-insert). All Appends therefore go through one writer goroutine that owns the write
// connection. Each Append is one request on a queue; the writer takes every
// queued request (up to Options.MaxBatchEvents events, waiting at most
// Options.MaxWait for more), decides each request's fate before writing
// anything — idempotent re-sends and id conflicts are resolved against the
// stored events and against the requests ahead of it in the same group —
// then writes all accepted requests in one transaction, commits once and
// answers every request. A request refused for its own content (an
// id_conflict, say) fails alone; the others commit. A failed commit fails
// every request of the group with auditerr.ErrStoreUnavailable and leaves
// nothing stored and the writer's state as it was.
//
// # Concurrency
//
// Append, Query, Get, Size, ReadNodes and LeafHashes may be called from any
// number of goroutines. Reads use a separate pool of query_only connections
// and, thanks to WAL, never wait for the writer: they see the log as of the
// last commit. Appends are serialised by the writer; their seqs follow
// commit order. AppendTx appends inside a caller's transaction on DB(); the
// writer notices such rows (it re-reads the log's size at the start of each
// transaction) and carries on after them. Close drains the queue, stops the
// writer and closes the database; Appends after Close fail with
// auditerr.ErrClosed.
package sqlitestore
