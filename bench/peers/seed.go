package main

import (
	"context"
	"crypto/rand"
	"database/sql"
	"fmt"
	"path/filepath"
	"time"

	_ "modernc.org/sqlite"
)

// seedDDL is the seed's fact_audit_log and its five indexes. The seed
// (shared/seeds/000_98a0255453bd4b1c.txt) is its audit_event.py alone,
// which names the columns (its INSERT and its UPDATE of seq) but not the
// migration that created them; the types and the five indexes are
// reconstructed from those columns and from what the seed's reads filter
// on (tenant and time, entity, fact, type, seq).
const seedDDL = `
CREATE TABLE IF NOT EXISTS fact_audit_log (
	id              TEXT PRIMARY KEY,
	fact_id         TEXT,
	event_type      TEXT NOT NULL,
	entity_uri      TEXT NOT NULL,
	oidc_sub        TEXT,
	source          TEXT NOT NULL DEFAULT '',
	attested_key_id TEXT,
	ts              TEXT NOT NULL,
	tenant_id       TEXT NOT NULL DEFAULT 'default',
	detail          TEXT,
	seq             INTEGER
);
CREATE INDEX IF NOT EXISTS idx_fact_audit_log_fact_id    ON fact_audit_log (fact_id);
CREATE INDEX IF NOT EXISTS idx_fact_audit_log_entity_uri ON fact_audit_log (entity_uri);
CREATE INDEX IF NOT EXISTS idx_fact_audit_log_event_type ON fact_audit_log (event_type);
CREATE INDEX IF NOT EXISTS idx_fact_audit_log_tenant_ts  ON fact_audit_log (tenant_id, ts);
CREATE INDEX IF NOT EXISTS idx_fact_audit_log_seq        ON fact_audit_log (seq);
`

// seedDSN opens the seed's database as its db() did: WAL, and (Python's
// sqlite3 default) synchronous=FULL and a 5 s busy timeout.
func seedDSN(path string) string {
	return "file:" + path + "?_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)&_pragma=busy_timeout(5000)"
}

// seedEmit re-enacts the seed's emit() path in Go: a fresh connection per
// call (its `with db() as conn`), INSERT, then UPDATE ... SET seq = rowid,
// commit, close.
var seedEmit = peer{
	Name:    "seed emit() re-enacted",
	PerCall: 1,
	Open: func(ctx context.Context, dir string) (*session, error) {
		path := filepath.Join(dir, "seed.db")
		db, err := sql.Open("sqlite", seedDSN(path))
		if err != nil {
			return nil, fmt.Errorf("seed db: %w", err)
		}
		_, err = db.ExecContext(ctx, seedDDL)
		if cerr := db.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return nil, fmt.Errorf("seed schema: %w", err)
		}
		return &session{
			Call: func(ctx context.Context, w, i int) error {
				return seedCall(ctx, path, newSample(w, i))
			},
			Close: func() error { return nil },
		}, nil
	},
}

// seedCall is one emit(): connect, insert, set seq from the rowid, commit.
func seedCall(ctx context.Context, path string, s sample) (err error) {
	db, err := sql.Open("sqlite", seedDSN(path))
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	defer func() {
		if cerr := db.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("close: %w", cerr)
		}
	}()
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer tx.Rollback()
	id := rand.Text() // the seed's uuid4: random, unique
	now := time.Now().UTC().Format("2006-01-02T15:04:05.999999-07:00")
	res, err := tx.ExecContext(ctx, `INSERT INTO fact_audit_log
		(id, fact_id, event_type, entity_uri, oidc_sub, source,
		 attested_key_id, ts, tenant_id, detail)
		VALUES (?,?,?,?,?,?,?,?,?,?)`,
		id, s.FactID, s.Type, s.EntityURI, nil, s.Source, s.AttestedKeyID, now, s.Tenant, string(s.Detail))
	if err != nil {
		return fmt.Errorf("insert: %w", err)
	}
	rowid, err := res.LastInsertId()
	if err != nil {
		return fmt.Errorf("rowid: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `UPDATE fact_audit_log SET seq=? WHERE id=?`, rowid, id); err != nil {
		return fmt.Errorf("set seq: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}
