package pgstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/stigaudit/stigaudit/core/checkpoint"
	"github.com/stigaudit/stigaudit/hostfns/sqlquery"
)

// Checkpoints are the signed checkpoints kept in the checkpoints table
// (migrations/postgres/0002), shared by every replica and stored only by
// the one a Leader elected to sign. It satisfies tlog.Checkpoints.
//
// Add on the leader runs one transaction holding an advisory lock (the
// table's insert trigger takes the same one), so the check sees every
// checkpoint stored before. Add on a follower stores nothing: it runs the
// same check against the latest stored checkpoint (so every replica keeps
// verifying the leader's checkpoints against the shared tree) and returns
// that checkpoint, which the caller then serves as its latest.
type Checkpoints struct {
	db     *sql.DB
	leader *Leader
}

// ErrNotLeader is what a follower's Checkpoints.Add answers before any
// checkpoint is stored: there is nothing to serve yet.
var ErrNotLeader = errors.New("pgstore: no checkpoint stored yet by the elected replica")

// Checkpoints returns the shared checkpoints, stored when leader leads;
// a nil leader never stores (a reader such as an export that lost the
// election).
func (s *Store) Checkpoints(leader *Leader) *Checkpoints {
	return &Checkpoints{db: s.db, leader: leader}
}

// Latest returns the stored checkpoint of the largest size; ok is false
// when none is stored.
func (c *Checkpoints) Latest(ctx context.Context) (checkpoint.Signed, bool, error) {
	return sqlquery.ReadLatestCheckpoint(ctx, c.db)
}

// Add stores s on the leader; see the type's documentation.
func (c *Checkpoints) Add(ctx context.Context, s checkpoint.Signed, check func(latest *checkpoint.Signed) error) (checkpoint.Signed, error) {
	latestOf := func() (*checkpoint.Signed, error) {
		prev, ok, err := sqlquery.ReadLatestCheckpoint(ctx, c.db)
		if err != nil || !ok {
			return nil, err
		}
		return &prev, nil
	}
	if c.leader == nil || !c.leader.IsLeader() {
		prev, err := latestOf()
		if err != nil {
			return checkpoint.Signed{}, err
		}
		if err := check(prev); err != nil {
			return checkpoint.Signed{}, err
		}
		if prev == nil {
			return checkpoint.Signed{}, ErrNotLeader
		}
		return *prev, nil
	}
	tx, err := c.db.BeginTx(ctx, nil)
	if err != nil {
		return checkpoint.Signed{}, unavailable("begin checkpoint transaction", err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock(hashtextextended(current_schema() || '/stigaudit/checkpoints', 0))`); err != nil {
		return checkpoint.Signed{}, unavailable("lock checkpoints", err)
	}
	// Read on another connection, after taking the lock: every insert
	// before ours has committed and is visible.
	prev, err := latestOf()
	if err != nil {
		return checkpoint.Signed{}, err
	}
	if err := check(prev); err != nil {
		return checkpoint.Signed{}, err
	}
	if prev != nil && prev.Size >= s.Size {
		return *prev, nil
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO checkpoints (tree_size, root, note, created_at) VALUES ($1, $2, $3, $4)`,
		int64(s.Size), s.Root[:], string(s.Note), s.Time.UTC().Format(sqlquery.CheckpointTimeLayout)); err != nil {
		return checkpoint.Signed{}, unavailable(fmt.Sprintf("store checkpoint of size %d", s.Size), err)
	}
	if err := tx.Commit(); err != nil {
		return checkpoint.Signed{}, unavailable(fmt.Sprintf("commit checkpoint of size %d", s.Size), err)
	}
	return s, nil
}

// Witnessed is the newest checkpoint that met the witness quorum, kept in
// the witnessed_checkpoint table (migrations/postgres/0009): the elected
// replica stores it, the others serve it. It satisfies witness.Shared.
type Witnessed struct {
	db *sql.DB
}

// Witnessed returns the shared witnessed checkpoint.
func (s *Store) Witnessed() Witnessed { return Witnessed{db: s.db} }

// Save stores note unless a larger witnessed checkpoint is stored.
func (w Witnessed) Save(ctx context.Context, size uint64, note []byte) error {
	_, err := w.db.ExecContext(ctx, `INSERT INTO witnessed_checkpoint (id, tree_size, note) VALUES (1, $1, $2)
		ON CONFLICT (id) DO UPDATE SET tree_size = EXCLUDED.tree_size, note = EXCLUDED.note, updated_at = now()
		WHERE witnessed_checkpoint.tree_size < EXCLUDED.tree_size`, int64(size), string(note))
	if err != nil {
		return unavailable(fmt.Sprintf("store the witnessed checkpoint of size %d", size), err)
	}
	return nil
}

// Load returns the stored witnessed checkpoint.
func (w Witnessed) Load(ctx context.Context) ([]byte, bool, error) {
	var note string
	err := w.db.QueryRowContext(ctx, `SELECT note FROM witnessed_checkpoint WHERE id = 1`).Scan(&note)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, unavailable("read the witnessed checkpoint", err)
	}
	return []byte(note), true, nil
}

// APIKeys returns the shared api_keys table (migrations/postgres/0001),
// for auth.Keys.
func (s *Store) APIKeys() *sqlquery.KeyTable { return sqlquery.NewKeyTable(s.db, sqlquery.Dollar) }
