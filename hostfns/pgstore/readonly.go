package pgstore

import (
	"context"
	"fmt"
	"net/url"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/stigaudit/stigaudit/core/auditerr"
	"github.com/stigaudit/stigaudit/hostfns/sqlquery"
)

// IsURL reports whether s names a PostgreSQL database (postgres:// or
// postgresql://) rather than a SQLite file.
func IsURL(s string) bool {
	return strings.HasPrefix(s, "postgres://") || strings.HasPrefix(s, "postgresql://")
}

// DisplayName names a PostgreSQL URL in messages, without credentials or
// parameters.
func DisplayName(dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil {
		return "(unparsable PostgreSQL URL)"
	}
	u.User = nil
	u.RawQuery = ""
	return u.String()
}

// sqlVerifyNodes reads the tree nodes a JSON array of [level, idx] names
// (numbered from 0, as json_each numbers them on SQLite).
const sqlVerifyNodes = `SELECT j.ord - 1, CASE WHEN (j.v ->> 0)::integer = 0
		THEN (SELECT leaf_hash FROM events WHERE seq = (j.v ->> 1)::bigint)
		ELSE (SELECT hash FROM tree_nodes WHERE level = (j.v ->> 0)::integer AND idx = (j.v ->> 1)::bigint)
	END
	FROM jsonb_array_elements($1::jsonb) WITH ORDINALITY AS j(v, ord) ORDER BY j.ord`

// sqlHasPurgedAt counts the purged_at column of the events table the
// search_path finds (0 before migrations/postgres/0003_retention.sql).
const sqlHasPurgedAt = `SELECT count(*) FROM pg_attribute
	WHERE attrelid = to_regclass('events') AND attname = 'purged_at' AND NOT attisdropped`

// OpenReadOnly opens the PostgreSQL log at dsn (the URL serve takes) for
// verification only: every transaction of the connection is read-only,
// and nothing is migrated or created. It reads every committed event,
// including those a server has committed but not yet reported durable. A
// dsn that does not parse is an error wrapping auditerr.ErrInvalidConfig.
func OpenReadOnly(ctx context.Context, dsn string) (*sqlquery.ReadOnlyLog, error) {
	name := DisplayName(dsn)
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return nil, auditerr.Errorf(auditerr.ErrInvalidConfig, "%s is not a PostgreSQL URL: %v", name, err)
	}
	cfg.RuntimeParams["default_transaction_read_only"] = "on"
	// Stream the events in seq order from the primary key, whatever the
	// statistics say: a sort of the whole log would spill it to disk.
	cfg.RuntimeParams["enable_sort"] = "off"
	cfg.RuntimeParams["application_name"] = "stigaudit verify"
	db := stdlib.OpenDB(*cfg)
	var n int
	if err := db.QueryRowContext(ctx, sqlHasPurgedAt).Scan(&n); err != nil {
		db.Close()
		return nil, fmt.Errorf("%s: reading the schema: %w", name, err)
	}
	return sqlquery.NewReadOnlyLog(name, db, sqlquery.VerifyEventsQuery(n > 0), sqlVerifyNodes), nil
}
