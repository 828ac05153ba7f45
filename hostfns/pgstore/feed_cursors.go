package pgstore

import (
	"context"
	"errors"

	"github.com/jackc/pgx/v5"
)

// Cursors of the log's feeds, one row per name in feed_cursors (migration
// 0004): the "sinks" Feed's own, and one per sink (server/sink names them
// "sink/<sink name>").
const (
	// sqlFeedInit creates a cursor at the durable size, unless it exists.
	sqlFeedInit = `INSERT INTO feed_cursors (name, next_seq) SELECT $1, ` + sqlDurableSize + ` ON CONFLICT (name) DO NOTHING`
	sqlFeedLoad = `SELECT next_seq FROM feed_cursors WHERE name = $1`
	// sqlFeedSave only moves a cursor forward, so a deposed leader that
	// has not noticed yet cannot take it back.
	sqlFeedSave = `UPDATE feed_cursors SET next_seq = GREATEST(next_seq, $2), updated_at = now() WHERE name = $1 AND next_seq < $2`
)

// Cursor returns the first seq not yet delivered to the feed called name.
// A cursor that does not exist yet is created at the log's durable size: a
// new feed starts with the events committed from now on.
func (s *Store) Cursor(ctx context.Context, name string) (int64, error) {
	var next int64
	err := s.pool.QueryRow(ctx, sqlFeedLoad, name).Scan(&next)
	if err == nil {
		return next, nil
	}
	if !errors.Is(err, pgx.ErrNoRows) {
		return 0, unavailable("feed "+name+": read cursor", err)
	}
	if _, err := s.pool.Exec(ctx, sqlFeedInit, name); err != nil {
		return 0, unavailable("feed "+name+": create cursor", err)
	}
	if err := s.pool.QueryRow(ctx, sqlFeedLoad, name).Scan(&next); err != nil {
		return 0, unavailable("feed "+name+": read cursor", err)
	}
	return next, nil
}

// SaveCursor moves the cursor called name forward to next: every event
// below next has been delivered. A cursor already at or past next is left
// alone.
func (s *Store) SaveCursor(ctx context.Context, name string, next int64) error {
	if _, err := s.pool.Exec(ctx, sqlFeedSave, name, next); err != nil {
		return unavailable("feed "+name+": save cursor", err)
	}
	return nil
}
