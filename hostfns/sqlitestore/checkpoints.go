package sqlitestore

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/stigaudit/stigaudit/core/checkpoint"
	"github.com/stigaudit/stigaudit/hostfns/sqlquery"
)

// Checkpoints are the signed checkpoints kept in the store's checkpoints
// table (migrations/sqlite/0002). They are safe for concurrent use, also
// by several processes on one file (a server and `stigaudit export`):
// Add runs in one IMMEDIATE write transaction, so its check sees no
// concurrent insert. It satisfies tlog.Checkpoints.
type Checkpoints struct {
	db *sql.DB
}

// Checkpoints returns the store's signed checkpoints.
func (s *Store) Checkpoints() *Checkpoints { return &Checkpoints{db: s.db} }

// Latest returns the stored checkpoint of the largest size; ok is false
// when none is stored.
func (c *Checkpoints) Latest(ctx context.Context) (checkpoint.Signed, bool, error) {
	return sqlquery.ReadLatestCheckpoint(ctx, c.db)
}

// Add stores sig unless a stored checkpoint already covers sig.Size or
// more, and returns the latest stored checkpoint afterwards. In the same
// transaction it first calls check with the latest stored checkpoint (nil
// when none); an error from check aborts and is returned.
func (c *Checkpoints) Add(ctx context.Context, sig checkpoint.Signed, check func(latest *checkpoint.Signed) error) (checkpoint.Signed, error) {
	conn, tx, err := c.begin(ctx)
	if err != nil {
		return checkpoint.Signed{}, err
	}
	defer conn.release()
	defer tx.Rollback()
	prev, ok, err := sqlquery.ReadLatestCheckpoint(ctx, tx)
	if err != nil {
		return checkpoint.Signed{}, err
	}
	var p *checkpoint.Signed
	if ok {
		p = &prev
	}
	if err := check(p); err != nil {
		return checkpoint.Signed{}, err
	}
	if ok && prev.Size >= sig.Size {
		return prev, nil
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO checkpoints (tree_size, root, note, created_at) VALUES (?, ?, ?, ?)`,
		int64(sig.Size), sig.Root[:], string(sig.Note), sig.Time.UTC().Format(sqlquery.CheckpointTimeLayout))
	if err != nil {
		return checkpoint.Signed{}, unavailable(fmt.Sprintf("store checkpoint of size %d", sig.Size), err)
	}
	if err := tx.Commit(); err != nil {
		return checkpoint.Signed{}, unavailable(fmt.Sprintf("commit checkpoint of size %d", sig.Size), err)
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
func (c *Checkpoints) begin(ctx context.Context) (*lockedConn, *sql.Tx, error) {
	conn, err := c.db.Conn(ctx)
	if err != nil {
		return nil, nil, unavailable("checkpoint connection", err)
	}
	l := &lockedConn{c: conn, timeout: int(lockWait.Milliseconds())}
	if err := conn.QueryRowContext(ctx, "PRAGMA busy_timeout").Scan(&l.timeout); err != nil {
		conn.Close()
		return nil, nil, unavailable("read busy_timeout", err)
	}
	if _, err := conn.ExecContext(ctx, "PRAGMA busy_timeout = 0"); err != nil {
		conn.Close()
		return nil, nil, unavailable("set busy_timeout", err)
	}
	deadline := time.Now().Add(lockWait)
	for {
		tx, err := conn.BeginTx(ctx, nil)
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

// APIKeys returns the store's api_keys table (migrations/sqlite/0001),
// for auth.Keys.
func (s *Store) APIKeys() *sqlquery.KeyTable { return sqlquery.NewKeyTable(s.db, sqlquery.Question) }
