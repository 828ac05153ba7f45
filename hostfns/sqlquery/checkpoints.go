package sqlquery

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/stigaudit/stigaudit/core/auditerr"
	"github.com/stigaudit/stigaudit/core/checkpoint"
)

// CheckpointTimeLayout is how checkpoints.created_at is written (RFC 3339
// UTC, microseconds), in SQLite and PostgreSQL alike.
const CheckpointTimeLayout = "2006-01-02T15:04:05.000000Z"

// LatestCheckpoint selects the stored checkpoint of the largest size, in
// the columns ScanCheckpoint reads; the same in both dialects.
const LatestCheckpoint = `SELECT tree_size, root, note, created_at FROM checkpoints ORDER BY tree_size DESC LIMIT 1`

// RowQueryer is what ReadLatestCheckpoint needs of a *sql.DB, *sql.Conn or
// *sql.Tx.
type RowQueryer interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// ReadLatestCheckpoint reads the stored checkpoint of the largest size; ok
// is false when none is stored. A database failure wraps
// auditerr.ErrStoreUnavailable; a malformed row
// auditerr.ErrInvalidCheckpoint.
func ReadLatestCheckpoint(ctx context.Context, q RowQueryer) (s checkpoint.Signed, ok bool, err error) {
	var size int64
	var root []byte
	var text, created string
	err = q.QueryRowContext(ctx, LatestCheckpoint).Scan(&size, &root, &text, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return checkpoint.Signed{}, false, nil
	}
	if err != nil {
		return checkpoint.Signed{}, false, fmt.Errorf("%w: %w", auditerr.Errorf(auditerr.ErrStoreUnavailable, "read the latest checkpoint"), err)
	}
	if len(root) != checkpoint.HashSize || size < 0 {
		return checkpoint.Signed{}, false, auditerr.Errorf(auditerr.ErrInvalidCheckpoint, "stored checkpoint of size %d has a root of %d bytes", size, len(root))
	}
	s = checkpoint.Signed{Checkpoint: checkpoint.Checkpoint{Size: uint64(size), Root: [checkpoint.HashSize]byte(root)}, Note: []byte(text)}
	if c, err := checkpoint.ParseBody(checkpoint.NoteBody(s.Note)); err == nil {
		s.Origin = c.Origin
	}
	s.Time, _ = time.Parse(CheckpointTimeLayout, created)
	return s, true, nil
}
