package main

import (
	"context"
	"fmt"
	"net/url"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
)

// isPostgresURL reports whether a --db argument names a PostgreSQL
// database rather than a SQLite file.
func isPostgresURL(s string) bool {
	return strings.HasPrefix(s, "postgres://") || strings.HasPrefix(s, "postgresql://")
}

// sqlPgVerifyNodes is logDB.nodes in PostgreSQL (the JSON array is
// numbered from 0, as json_each numbers it on SQLite).
const sqlPgVerifyNodes = `SELECT j.ord - 1, CASE WHEN (j.v ->> 0)::integer = 0
		THEN (SELECT leaf_hash FROM events WHERE seq = (j.v ->> 1)::bigint)
		ELSE (SELECT hash FROM tree_nodes WHERE level = (j.v ->> 0)::integer AND idx = (j.v ->> 1)::bigint)
	END
	FROM jsonb_array_elements($1::jsonb) WITH ORDINALITY AS j(v, ord) ORDER BY j.ord`

// sqlPgHasPurgedAt counts the purged_at column of the events table the
// search_path finds (0 before migrations/postgres/0003_retention.sql).
const sqlPgHasPurgedAt = `SELECT count(*) FROM pg_attribute
	WHERE attrelid = to_regclass('events') AND attname = 'purged_at' AND NOT attisdropped`

// openPostgresLog opens the PostgreSQL log at dsn (the URL serve takes as
// --database-url) for verify. Every transaction of the connection is
// read-only: verification never writes, migrates or creates anything. It
// reads every committed event, including those a server has committed but
// not yet reported durable: on a live server, pass --allow-tail.
func openPostgresLog(ctx context.Context, dsn string) (*logDB, error) {
	name := pgDisplayName(dsn)
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("%w: --db %s is not a PostgreSQL URL: %v", errUsage, name, err)
	}
	cfg.RuntimeParams["default_transaction_read_only"] = "on"
	// Stream the events in seq order from the primary key, whatever the
	// statistics say: a sort of the whole log would spill it to disk.
	cfg.RuntimeParams["enable_sort"] = "off"
	cfg.RuntimeParams["application_name"] = "stigaudit verify"
	db := stdlib.OpenDB(*cfg)
	var n int
	if err := db.QueryRowContext(ctx, sqlPgHasPurgedAt).Scan(&n); err != nil {
		db.Close()
		return nil, fmt.Errorf("%s: reading the schema: %w", name, err)
	}
	return &logDB{name: name, db: db, events: verifyEventsQuery(n > 0), nodes: sqlPgVerifyNodes}, nil
}

// pgDisplayName names a PostgreSQL URL in messages, without credentials
// or parameters.
func pgDisplayName(dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil {
		return "(unparsable PostgreSQL URL)"
	}
	u.User = nil
	u.RawQuery = ""
	return u.String()
}
