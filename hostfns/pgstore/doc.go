// Package pgstore is the PostgreSQL hostfns.Store: one audit log shared by
// any number of stigaudit replicas, with the guarantees of the SQLite store
// (package sqlitestore) and the schema of migrations/postgres.
//
// # Sequencing across replicas
//
// Seqs are contiguous from 0, in commit order, with no gaps, on every
// replica together. A PostgreSQL sequence cannot give that (a rolled-back
// transaction burns its numbers, and numbers are handed out in call order,
// not commit order), so the log has a one-row head table, log_head, holding
// the log's size and the compact range of its Merkle tree (the hashes of the
// perfect subtrees covering [0, size)). Every append transaction, on every
// replica, begins by locking that row (SELECT ... FOR UPDATE), takes seqs
// from size on, writes the events and the tree nodes they complete, advances
// the row, and commits; the next appender — on this replica or another —
// starts exactly where the last one ended, and a rollback gives its seqs
// back. The database checks the invariant itself (see
// migrations/postgres/0001_init.sql): an INSERT into events must continue
// the log and match log_head, and at commit log_head must match the events.
//
// Because the head carries the compact range, an appender never reloads the
// tree's right edge from tree_nodes, even when another replica appended
// last: one row read gives it everything it needs to compute the new nodes.
//
// An insert trigger on events keeps stats_minutes, counts per tenant,
// minute, event type and outcome, in the appending transaction (migration
// 0010), for Stats (docs/decisions.md §34).
//
// # Group commit
//
// As in sqlitestore, Appends go through one writer goroutine per Store,
// which commits whatever requests are queued together (up to
// Options.MaxBatchEvents events). Under load it also waits, while requests
// keep arriving less than 1ms apart and at most Options.MaxWait (4ms), for
// the clients its last commit answered to come back, so a group holds
// about every client in flight rather than half of them: groups about
// twice as large and a higher rate (see
// docs/decisions.md#151-waiting-for-the-clients-of-the-last-commit). Each request is decided on its own: refusals
// (an invalid event, an id conflict) fail only their request.
//
// The fast path appends a group with one call of the SQL function
// stigaudit_append_async (migration 0005), its commit and its durable mark
// in one round trip: the function locks the head, numbers the events,
// computes the Merkle nodes they complete from the head's compact range,
// advances the head and inserts events and nodes, so the head lock is held
// only while the server runs it, never across a network round trip. When
// an id of the group is already stored (a re-send), the unique index
// refuses the insert, nothing is changed, and the group takes the slow
// path: lock the head and look the ids up in one round trip, take the
// requests that queued meanwhile, decide idempotent re-sends and conflicts
// in Go (hostfns.PlanAppend), write with one INSERT per table (unnest of
// arrays), commit. Both paths compute the same tree; the conformance suite
// runs over each.
//
// # Durability and failure
//
// Holding the head lock through a WAL flush would serialise every
// replica's fsync: three replicas would commit one after another, each
// waiting for the disk. So append transactions commit with
// synchronous_commit off — the COMMIT returns, and releases the lock, as
// soon as the commit record is in the WAL buffers — and acknowledgement
// waits for a durable mark: right after the COMMIT, in the same round trip,
// the writer commits, with the session's synchronous_commit (on, which Open
// insists on), an upsert of its row in log_durable holding the head's size
// as that transaction sees it. The mark's commit record follows every
// commit it saw, and PostgreSQL flushes the WAL in order, so when the mark
// returns everything it covers is on disk; only then are the requests
// answered. The flushes of different replicas overlap (PostgreSQL merges
// concurrent flushes). A writer has one group in flight: the requests that
// arrive during a commit and its flush form the next group, which is
// bigger, and costs PostgreSQL less per event, than appending during the
// flush would (see docs/decisions.md#152-one-group-in-flight). With MaxBatchEvents 1 (group commit off) an append
// instead commits synchronously, its mark inside, holding the lock through
// the flush: the naive way, kept as the benchmarks' baseline.
//
// An asynchronous commit is visible to other sessions before it is
// durable, so readers never look past the durable prefix: Size, Query,
// Get, ReadNodes and LeafHashes serve only seqs below max(log_durable.size)
// (a row becomes visible only once flushed). A crash of PostgreSQL can thus
// take back commits that nobody acknowledged and nobody read; it never
// takes back an acknowledged event nor one a reader, a sink or a checkpoint
// has seen. The appenders' own id checks do see the newest commits; a
// re-send answered from one is acknowledged after the same mark.
//
// A failed group fails every request in it with auditerr.ErrStoreUnavailable
// and stores nothing. If the connection breaks after the COMMIT (before
// the mark) the outcome is unknown; the caller gets ErrStoreUnavailable and
// may re-send (appends are idempotent by event id), which stores the events
// at most once. Events committed but never marked (their writer died in
// between) become visible with the next mark by any writer, or when a
// store opens.
//
// # Reads, proofs and leadership
//
// Query, Get, Size, ReadNodes and LeafHashes read through a pgxpool and see
// the last committed state. AppendTx appends inside a caller's transaction
// on DB() (it takes the head lock, so keep such transactions short). Leader
// elects one replica, through a session-level advisory lock, to do what must
// be done by one replica at a time (signing checkpoints). Feed uses a Leader
// to deliver the whole log, in seq order, to one replica's downstream at a
// time (sinks, the committed-events counter), resuming from a cursor saved
// in the feed_cursors table when leadership moves.
package pgstore
