package tlog

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

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
	conn, tx, err := s.begin(ctx)
	if err != nil {
		return Signed{}, err
	}
	defer conn.release()
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

// lockWait bounds how long Add waits for SQLite's write lock, and
// lockPoll is how often it asks for it.
const (
	lockWait = 5 * time.Second
	lockPoll = 500 * time.Microsecond
)

// lockedConn is a connection whose busy timeout Add turned off; release
// restores it (or discards the connection) and returns it to the pool.
type lockedConn struct {
	c       *sql.Conn
	timeout int
}

func (l *lockedConn) release() {
	_, err := l.c.ExecContext(context.Background(), fmt.Sprintf("PRAGMA busy_timeout = %d", l.timeout))
	if err != nil {
		// Never hand back a connection that fails at once when busy.
		l.c.Raw(func(any) error { return driver.ErrBadConn })
	}
	l.c.Close()
}

// begin starts a write transaction on a connection of its own, asking for
// the write lock every lockPoll instead of relying on SQLite's busy
// handler. That handler backs off to 100 ms sleeps, and a store whose
// group-commit writer takes the lock back microseconds after each commit
// would starve it for seconds under load; polling finds a gap between two
// commits within milliseconds.
func (s *SQLite) begin(ctx context.Context) (*lockedConn, *sql.Tx, error) {
	c, err := s.db.Conn(ctx)
	if err != nil {
		return nil, nil, unavailable("checkpoint connection", err)
	}
	l := &lockedConn{c: c, timeout: int(lockWait.Milliseconds())}
	if err := c.QueryRowContext(ctx, "PRAGMA busy_timeout").Scan(&l.timeout); err != nil {
		c.Close()
		return nil, nil, unavailable("read busy_timeout", err)
	}
	if _, err := c.ExecContext(ctx, "PRAGMA busy_timeout = 0"); err != nil {
		c.Close()
		return nil, nil, unavailable("set busy_timeout", err)
	}
	deadline := time.Now().Add(lockWait)
	for {
		tx, err := c.BeginTx(ctx, nil)
		if err == nil {
			return l, tx, nil
		}
		var se *sqlite.Error
		if !errors.As(err, &se) || se.Code()&0xff != sqlite3.SQLITE_BUSY || time.Now().After(deadline) {
			l.release()
			return nil, nil, unavailable("begin checkpoint transaction", err)
		}
		select {
		case <-ctx.Done():
			l.release()
			return nil, nil, ctx.Err()
		case <-time.After(lockPoll):
		}
	}
}

// unavailable wraps a database failure as ErrStoreUnavailable, keeping the
// cause for the log.
func unavailable(what string, err error) error {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("tlog: %s: %w", what, err)
	}
	return fmt.Errorf("%w: %w", auditerr.Errorf(auditerr.ErrStoreUnavailable, "tlog: %s", what), err)
}
