package sqlquery

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"

	"github.com/stigaudit/stigaudit/core/auditerr"
	"github.com/stigaudit/stigaudit/core/checkpoint"
	"github.com/stigaudit/stigaudit/core/event"
	"github.com/stigaudit/stigaudit/core/merkle"
)

// ReadOnlyLog is a log's database opened for offline verification
// (`stigaudit verify`): every transaction is read-only, and nothing is
// migrated or created. The stores open it (sqlitestore.OpenReadOnly,
// pgstore.OpenReadOnly); both hold the same tables, and only the
// statements that read them are in each dialect.
type ReadOnlyLog struct {
	name string
	db   *sql.DB
	// events selects every event in seq order, in the columns of
	// VerifyEventsQuery.
	events string
	// nodes selects the tree nodes named by a JSON array of [level, idx]
	// pairs (level 0 is events.leaf_hash) as (index in the array, hash);
	// a node not stored reads as NULL.
	nodes string
}

// NewReadOnlyLog is for the stores: db opened read-only, named name in
// messages (a path, or a URL without credentials), with the dialect's
// events and nodes statements.
func NewReadOnlyLog(name string, db *sql.DB, events, nodes string) *ReadOnlyLog {
	return &ReadOnlyLog{name: name, db: db, events: events, nodes: nodes}
}

// VerifyEventsQuery reads every event in seq order, the columns of
// EventColumns and then whether retention purged the row, for a schema
// with or without events.purged_at (added by the retention migration).
func VerifyEventsQuery(hasPurgedAt bool) string {
	purged := "false"
	if hasPurgedAt {
		purged = "purged_at IS NOT NULL"
	}
	return "SELECT " + EventColumns + ", " + purged + " FROM events ORDER BY seq"
}

// Name names the database in messages.
func (l *ReadOnlyLog) Name() string { return l.name }

// Close closes the database.
func (l *ReadOnlyLog) Close() error { return l.db.Close() }

// LatestCheckpoint returns the stored checkpoint of the largest size.
func (l *ReadOnlyLog) LatestCheckpoint(ctx context.Context) (checkpoint.Signed, bool, error) {
	return ReadLatestCheckpoint(ctx, l.db)
}

// NodeReader returns a function that reads stored tree nodes in one
// statement each call (nil for a node not stored), and the function that
// releases it.
func (l *ReadOnlyLog) NodeReader(ctx context.Context) (read func([]merkle.NodeID) ([][]byte, error), release func(), err error) {
	stmt, err := l.db.PrepareContext(ctx, l.nodes)
	if err != nil {
		return nil, nil, err
	}
	read = func(ids []merkle.NodeID) ([][]byte, error) {
		hashes, err := ReadNodes(ctx, stmt, ids)
		if err != nil {
			return nil, auditerr.Errorf(auditerr.ErrStoreUnavailable, "%v", err)
		}
		return hashes, nil
	}
	return read, func() { stmt.Close() }, nil
}

// RowsQuerier is a prepared statement (or anything that runs one with
// arguments).
type RowsQuerier interface {
	QueryContext(ctx context.Context, args ...any) (*sql.Rows, error)
}

// ReadNodes runs q, a dialect's statement that selects the tree nodes a
// JSON array of [level, idx] pairs names as (index in the array, hash),
// and returns the hashes in the order of ids; a node not stored is nil.
func ReadNodes(ctx context.Context, q RowsQuerier, ids []merkle.NodeID) ([][]byte, error) {
	pairs := make([][2]uint64, len(ids))
	for i, id := range ids {
		pairs[i] = [2]uint64{uint64(id.Level), id.Index}
	}
	arg, err := json.Marshal(pairs)
	if err != nil {
		return nil, err
	}
	rows, err := q.QueryContext(ctx, string(arg))
	if err != nil {
		return nil, fmt.Errorf("read tree nodes: %w", err)
	}
	defer rows.Close()
	out := make([][]byte, len(ids))
	for rows.Next() {
		var i int
		var h []byte
		if err := rows.Scan(&i, &h); err != nil {
			return nil, fmt.Errorf("read tree nodes: %w", err)
		}
		if i < 0 || i >= len(out) {
			return nil, fmt.Errorf("read tree nodes: row %d of %d", i, len(out))
		}
		out[i] = h
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read tree nodes: %w", err)
	}
	return out, nil
}

// EventRows are the events of a ReadOnlyLog in seq order; Close them.
type EventRows struct {
	rows *sql.Rows
}

// Events reads every stored event in seq order.
func (l *ReadOnlyLog) Events(ctx context.Context) (*EventRows, error) {
	rows, err := l.db.QueryContext(ctx, l.events)
	if err != nil {
		return nil, err
	}
	return &EventRows{rows: rows}, nil
}

// Next advances to the next event, false at the end or on an error (Err).
func (r *EventRows) Next() bool { return r.rows.Next() }

// Scan reads the current event into e (its Detail reset first), its
// stored leaf hash (of whatever length is stored) into leaf, and whether
// retention purged it into purged. An error means the row is unreadable.
func (r *EventRows) Scan(e *event.Event, leaf *[]byte, purged *bool) error {
	e.Detail = nil
	return r.rows.Scan(&e.Seq, &e.ID, &e.Type, &e.TS, &e.HLC, &e.Tenant, &e.EntityURI, &e.Emitter,
		&e.OIDCSub, &e.FactID, &e.Source, &e.AttestedKeyID, &e.Scope, &e.Outcome, &e.Detail, leaf, purged)
}

// Err is the error that ended the rows, if any.
func (r *EventRows) Err() error { return r.rows.Err() }

// Close releases the rows.
func (r *EventRows) Close() error { return r.rows.Close() }
