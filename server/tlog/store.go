package tlog

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/stigaudit/stigaudit/core/auditerr"
	"github.com/stigaudit/stigaudit/core/checkpoint"
)

// Signed is a signed checkpoint as stored: the tree head, the signed note
// that carries it, and when it was signed.
type Signed struct {
	checkpoint.Checkpoint
	// Note is the C2SP signed note, what GET /v1/audit/checkpoint serves.
	Note []byte
	// Time is when it was signed.
	Time time.Time
}

// Checkpoints is where signed checkpoints are kept: the checkpoints table of
// migration 0002. Implementations must be safe for concurrent use, also by
// several processes (a server and `stigaudit export` on one data directory).
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

// timeLayout is how created_at is written (RFC 3339 UTC, microseconds).
const timeLayout = "2006-01-02T15:04:05.000000Z"

// SQLite is Checkpoints in the checkpoints table of a SQLite database (the
// store's own file, sqlitestore.Store.DB()). Add runs in one write
// transaction; the store opens them IMMEDIATE, so the check sees no
// concurrent insert.
type SQLite struct {
	db *sql.DB
}

var _ Checkpoints = (*SQLite)(nil)

// NewSQLite returns the checkpoints of db, whose schema includes migration
// 0002.
func NewSQLite(db *sql.DB) *SQLite { return &SQLite{db: db} }

const sqlLatest = `SELECT tree_size, root, note, created_at FROM checkpoints ORDER BY tree_size DESC LIMIT 1`

type queryer interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// Latest returns the stored checkpoint of the largest size.
func (s *SQLite) Latest(ctx context.Context) (Signed, bool, error) {
	return latest(ctx, s.db)
}

// LatestIn reads the latest checkpoint stored in db (for instance a
// database opened read-only by `stigaudit verify --db`).
func LatestIn(ctx context.Context, db *sql.DB) (Signed, bool, error) {
	return latest(ctx, db)
}

func latest(ctx context.Context, q queryer) (Signed, bool, error) {
	var size int64
	var root []byte
	var text, created string
	err := q.QueryRowContext(ctx, sqlLatest).Scan(&size, &root, &text, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return Signed{}, false, nil
	}
	if err != nil {
		return Signed{}, false, fmt.Errorf("%w: %w", auditerr.Errorf(auditerr.ErrStoreUnavailable, "tlog: read the latest checkpoint"), err)
	}
	if len(root) != checkpoint.HashSize || size < 0 {
		return Signed{}, false, auditerr.Errorf(auditerr.ErrInvalidCheckpoint, "tlog: stored checkpoint of size %d has a root of %d bytes", size, len(root))
	}
	out := Signed{Checkpoint: checkpoint.Checkpoint{Size: uint64(size), Root: [checkpoint.HashSize]byte(root)}, Note: []byte(text)}
	if c, err := checkpoint.ParseBody(bodyOf(out.Note)); err == nil {
		out.Origin = c.Origin
	}
	out.Time, _ = time.Parse(timeLayout, created)
	return out, true, nil
}

// bodyOf returns the text of a signed note up to its blank line.
func bodyOf(n []byte) []byte {
	for i := 0; i+1 < len(n); i++ {
		if n[i] == '\n' && n[i+1] == '\n' {
			return n[:i+1]
		}
	}
	return n
}

// Add stores sig in one IMMEDIATE transaction (see Checkpoints.Add).
func (s *SQLite) Add(ctx context.Context, sig Signed, check func(latest *Signed) error) (Signed, error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return Signed{}, unavailable("begin checkpoint transaction", err)
	}
	defer tx.Rollback()
	prev, ok, err := latest(ctx, tx)
	if err != nil {
		return Signed{}, err
	}
	var p *Signed
	if ok {
		p = &prev
	}
	if err := check(p); err != nil {
		return Signed{}, err
	}
	if ok && prev.Size >= sig.Size {
		return prev, nil
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO checkpoints (tree_size, root, note, created_at) VALUES (?, ?, ?, ?)`,
		int64(sig.Size), sig.Root[:], string(sig.Note), sig.Time.UTC().Format(timeLayout))
	if err != nil {
		return Signed{}, unavailable(fmt.Sprintf("store checkpoint of size %d", sig.Size), err)
	}
	if err := tx.Commit(); err != nil {
		return Signed{}, unavailable(fmt.Sprintf("commit checkpoint of size %d", sig.Size), err)
	}
	return sig, nil
}

// unavailable wraps a database failure as ErrStoreUnavailable, keeping the
// cause for the log.
func unavailable(what string, err error) error {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("tlog: %s: %w", what, err)
	}
	return fmt.Errorf("%w: %w", auditerr.Errorf(auditerr.ErrStoreUnavailable, "tlog: %s", what), err)
}
