package sqlitestore

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"os"
	"path/filepath"

	"github.com/stigaudit/stigaudit/hostfns/sqlquery"
)

// sqlVerifyNodes reads the tree nodes a JSON array of [level, idx] names.
const sqlVerifyNodes = `SELECT j.key, CASE WHEN j.value ->> 0 = 0
		THEN (SELECT leaf_hash FROM events WHERE seq = j.value ->> 1)
		ELSE (SELECT hash FROM tree_nodes WHERE level = j.value ->> 0 AND idx = j.value ->> 1)
	END
	FROM json_each(?) AS j ORDER BY j.key`

// OpenReadOnly opens the SQLite file at path for verification only: it
// is opened read-only (mode=ro, query_only), never created or migrated.
func OpenReadOnly(ctx context.Context, path string) (*sqlquery.ReadOnlyLog, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	if _, err := os.Stat(abs); err != nil {
		return nil, err
	}
	q := url.Values{"mode": {"ro"}, "_pragma": {"busy_timeout(5000)", "query_only(1)"}}
	db, err := sql.Open("sqlite", dsn(abs, q))
	if err != nil {
		return nil, err
	}
	var n int
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM pragma_table_info('events') WHERE name = 'purged_at'`).Scan(&n); err != nil {
		db.Close()
		return nil, fmt.Errorf("reading the schema: %w", err)
	}
	return sqlquery.NewReadOnlyLog(path, db, sqlquery.VerifyEventsQuery(n > 0), sqlVerifyNodes), nil
}
