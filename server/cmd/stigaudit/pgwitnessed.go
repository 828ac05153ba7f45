package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// pgWitnessed is witness.Shared in PostgreSQL's witnessed_checkpoint table
// (migrations/postgres/0009): the elected replica stores each checkpoint
// that reaches the quorum, the others serve it.
type pgWitnessed struct {
	db *sql.DB
}

// Save stores note unless a larger witnessed checkpoint is stored.
func (p pgWitnessed) Save(ctx context.Context, size uint64, note []byte) error {
	_, err := p.db.ExecContext(ctx, `INSERT INTO witnessed_checkpoint (id, tree_size, note) VALUES (1, $1, $2)
		ON CONFLICT (id) DO UPDATE SET tree_size = EXCLUDED.tree_size, note = EXCLUDED.note, updated_at = now()
		WHERE witnessed_checkpoint.tree_size < EXCLUDED.tree_size`, int64(size), string(note))
	if err != nil {
		return fmt.Errorf("store the witnessed checkpoint of size %d: %w", size, err)
	}
	return nil
}

// Load returns the stored witnessed checkpoint.
func (p pgWitnessed) Load(ctx context.Context) ([]byte, bool, error) {
	var note string
	err := p.db.QueryRowContext(ctx, `SELECT note FROM witnessed_checkpoint WHERE id = 1`).Scan(&note)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("read the witnessed checkpoint: %w", err)
	}
	return []byte(note), true, nil
}
