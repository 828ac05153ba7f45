package tlog

import (
	"context"

	"github.com/stigaudit/stigaudit/core/checkpoint"
)

// Signed is a signed checkpoint as stored: the tree head, the signed note
// that carries it, and when it was signed.
type Signed = checkpoint.Signed

// Checkpoints is where signed checkpoints are kept: the checkpoints table,
// owned by the store (sqlitestore.Store.Checkpoints,
// pgstore.Store.Checkpoints). Implementations must be safe for concurrent
// use, also by several processes (a server and `stigaudit export` on one
// data directory).
type Checkpoints interface {
	// Latest returns the stored checkpoint of the largest size; ok is false
	// when none is stored.
	Latest(ctx context.Context) (s Signed, ok bool, err error)
	// Add stores s unless a stored checkpoint already covers s.Size or
	// more, and returns the latest stored checkpoint afterwards (s, or the
	// one that got ahead of it). In the same transaction, which excludes
	// other writers, it first calls check with the latest stored checkpoint
	// (nil when none); an error from check aborts and is returned. Stored
	// checkpoints are never changed.
	Add(ctx context.Context, s Signed, check func(latest *Signed) error) (Signed, error)
}
