package sqlitestore

import (
	"context"
	"database/sql"
	"errors"
	"time"
)

// Cursors of the log's feeds (sinks), in the feed_cursors table
// (migration 0008): see server/sink, which reads and saves them.
const (
	sqlCursorLoad = `SELECT next_seq FROM feed_cursors WHERE name = ?`
	// sqlCursorInit creates a cursor at the log's size, unless it exists.
	sqlCursorInit = `INSERT INTO feed_cursors (name, next_seq, updated_at)
		SELECT ?, COALESCE(MAX(seq), -1) + 1, ? FROM events WHERE true
		ON CONFLICT (name) DO NOTHING`
	// sqlCursorSave only moves a cursor forward.
	sqlCursorSave = `UPDATE feed_cursors SET next_seq = ?, updated_at = ? WHERE name = ? AND next_seq < ?`
)

// cursorTime is the updated_at format: RFC 3339 UTC with microseconds.
const cursorTime = "2006-01-02T15:04:05.000000Z"

// Cursor returns the first seq not yet delivered to the feed called name.
// A cursor that does not exist yet is created at the log's size: a new
// sink starts with the events committed from now on.
func (s *Store) Cursor(ctx context.Context, name string) (int64, error) {
	var next int64
	err := s.rdb.QueryRowContext(ctx, sqlCursorLoad, name).Scan(&next)
	if err == nil {
		return next, nil
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return 0, unavailable("read cursor "+name, err)
	}
	if _, err := s.db.ExecContext(ctx, sqlCursorInit, name, time.Now().UTC().Format(cursorTime)); err != nil {
		return 0, unavailable("create cursor "+name, err)
	}
	if err := s.db.QueryRowContext(ctx, sqlCursorLoad, name).Scan(&next); err != nil {
		return 0, unavailable("read cursor "+name, err)
	}
	return next, nil
}

// SaveCursor moves the cursor called name forward to next: every event
// below next has been delivered. A cursor already at or past next is left
// alone, so a late save never takes it back.
func (s *Store) SaveCursor(ctx context.Context, name string, next int64) error {
	if _, err := s.db.ExecContext(ctx, sqlCursorSave, next, time.Now().UTC().Format(cursorTime), name, next); err != nil {
		return unavailable("save cursor "+name, err)
	}
	return nil
}
