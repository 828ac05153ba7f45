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
// the row, and commits. The row lock is held until the commit is durable, so
// the next appender — on this replica or another — starts exactly where the
// last one ended, and a rollback gives its seqs back. The database checks
// the invariant itself (see migrations/postgres/0001_init.sql): an INSERT
// into events must continue the log and match log_head, and at commit
// log_head must match the events.
//
// Because the head carries the compact range, an appender never reloads the
// tree's right edge from tree_nodes, even when another replica appended
// last: one row read gives it everything it needs to compute the new nodes.
//
// # Group commit
//
// As in sqlitestore, Appends go through one writer goroutine per Store. The
// writer takes the first queued request, begins a transaction and waits for
// the head lock; only once it holds the lock does it take every other
// request that queued up meanwhile (up to Options.MaxBatchEvents events).
// The time spent waiting for other replicas' commits is thus spent
// gathering a bigger group, so the aggregate rate grows with load instead of
// being capped at one fsync per event. Each request is decided on its own
// (idempotent re-sends and id conflicts are resolved against the stored
// events and the requests ahead of it), the accepted ones are written with
// one INSERT per table (unnest of arrays), and the group commits once. The
// statements after the lock travel in one pipelined round trip.
//
// # Durability and failure
//
// Append returns after PostgreSQL reports the commit, which with the default
// synchronous_commit=on means the WAL is flushed. A failed group fails every
// request in it with auditerr.ErrStoreUnavailable and stores nothing. If the
// connection breaks while the COMMIT is in flight the outcome is unknown;
// the caller gets ErrStoreUnavailable and may re-send (appends are
// idempotent by event id), which stores the events at most once.
//
// # Reads, proofs and leadership
//
// Query, Get, Size, ReadNodes and LeafHashes read through a pgxpool and see
// the last committed state. AppendTx appends inside a caller's transaction
// on DB() (it takes the head lock, so keep such transactions short). Leader
// elects one replica, through a session-level advisory lock, to do what must
// be done by one replica at a time (signing checkpoints).
package pgstore
