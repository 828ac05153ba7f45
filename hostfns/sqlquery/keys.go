package sqlquery

import (
	"context"
	"database/sql"
	"errors"
	"strconv"
	"strings"

	"github.com/stigaudit/stigaudit/hostfns"
)

// Placeholder is the bind-parameter style of a SQL dialect.
type Placeholder int

// Placeholder styles.
const (
	// Question is "?" (SQLite).
	Question Placeholder = iota
	// Dollar is "$1, $2, ..." (PostgreSQL).
	Dollar
)

// Rebind rewrites the "?" placeholders of q for ph. q must hold no "?"
// inside a string literal.
func (ph Placeholder) Rebind(q string) string {
	if ph != Dollar {
		return q
	}
	var b strings.Builder
	n := 0
	for i := 0; i < len(q); i++ {
		if q[i] == '?' {
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteByte(q[i])
	}
	return b.String()
}

// KeyTable is the api_keys table (migrations 0001 of either dialect), the
// same columns and statements in SQLite and PostgreSQL. It satisfies
// auth.KeyStore; the stores hand it out (sqlitestore.Store.APIKeys,
// pgstore.Store.APIKeys). Errors are the database's, unwrapped: the
// caller says what failed.
type KeyTable struct {
	db *sql.DB
	q  keyQueries
}

type keyQueries struct {
	insert, list, count, byID, revoke, ids string
}

const keyColumns = `key_id, tenant_id, entity_uri, COALESCE(oidc_sub, ''), perms, hash, COALESCE(label, ''), created_at,
	COALESCE(revoked_at, ''), COALESCE(expires_at, '')`

// NewKeyTable returns the api_keys table of db, whose placeholders are ph.
func NewKeyTable(db *sql.DB, ph Placeholder) *KeyTable {
	return &KeyTable{db: db, q: keyQueries{
		insert: ph.Rebind(`INSERT INTO api_keys (key_id, tenant_id, entity_uri, oidc_sub, perms, hash, label, created_at, revoked_at, expires_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, NULL, ?)`),
		list:   `SELECT ` + keyColumns + ` FROM api_keys ORDER BY created_at, key_id`,
		count:  `SELECT COUNT(*) FROM api_keys`,
		byID:   ph.Rebind(`SELECT ` + keyColumns + ` FROM api_keys WHERE key_id = ?`),
		revoke: ph.Rebind(`UPDATE api_keys SET revoked_at = ? WHERE key_id = ? AND revoked_at IS NULL`),
		ids:    `SELECT key_id FROM api_keys`,
	}}
}

// InsertKey stores a new key; r.RevokedAt is ignored (a new key is
// active).
func (t *KeyTable) InsertKey(ctx context.Context, r hostfns.KeyRow) error {
	_, err := t.db.ExecContext(ctx, t.q.insert, r.ID, r.Tenant, r.EntityURI, nullable(r.OIDCSub),
		r.Perms, r.Hash, nullable(r.Label), r.CreatedAt, nullable(r.ExpiresAt))
	return err
}

func scanKey(s interface{ Scan(...any) error }) (hostfns.KeyRow, error) {
	var r hostfns.KeyRow
	err := s.Scan(&r.ID, &r.Tenant, &r.EntityURI, &r.OIDCSub, &r.Perms, &r.Hash, &r.Label, &r.CreatedAt, &r.RevokedAt, &r.ExpiresAt)
	return r, err
}

// ListKeys returns every key, revoked ones included, oldest first.
func (t *KeyTable) ListKeys(ctx context.Context) ([]hostfns.KeyRow, error) {
	rows, err := t.db.QueryContext(ctx, t.q.list)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []hostfns.KeyRow
	for rows.Next() {
		r, err := scanKey(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// CountKeys returns the number of keys, revoked ones included.
func (t *KeyTable) CountKeys(ctx context.Context) (int, error) {
	var n int
	err := t.db.QueryRowContext(ctx, t.q.count).Scan(&n)
	return n, err
}

// KeyByID returns the key id; ok is false when none is stored.
func (t *KeyTable) KeyByID(ctx context.Context, id string) (r hostfns.KeyRow, ok bool, err error) {
	r, err = scanKey(t.db.QueryRowContext(ctx, t.q.byID, id))
	if errors.Is(err, sql.ErrNoRows) {
		return hostfns.KeyRow{}, false, nil
	}
	return r, err == nil, err
}

// RevokeKey sets the revoked_at of key id to at unless it is revoked
// already, and reports whether it changed a row.
func (t *KeyTable) RevokeKey(ctx context.Context, id, at string) (bool, error) {
	res, err := t.db.ExecContext(ctx, t.q.revoke, at, id)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n > 0, err
}

// KeyIDs returns the id of every stored key.
func (t *KeyTable) KeyIDs(ctx context.Context) ([]string, error) {
	rows, err := t.db.QueryContext(ctx, t.q.ids)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	return ids, rows.Err()
}

// nullable is s, or NULL for "".
func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}
