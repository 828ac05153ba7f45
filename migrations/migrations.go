package migrations

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"sort"
	"strconv"
	"time"

	"github.com/stigaudit/stigaudit/core/auditerr"
)

// Dialect names the SQL dialect a set of migrations is written in. It decides
// the placeholder syntax and how concurrent runners are kept apart.
type Dialect string

// Dialects.
const (
	// SQLite is SQLite 3 (modernc.org/sqlite). Concurrent runners are
	// serialised by SQLite's single-writer lock.
	SQLite Dialect = "sqlite"
	// Postgres is PostgreSQL. Concurrent runners are serialised by a
	// transaction-scoped advisory lock.
	Postgres Dialect = "postgres"
)

//go:embed sqlite/*.sql
var sqliteFiles embed.FS

//go:embed postgres/*.sql
var postgresFiles embed.FS

// SQLiteFiles returns the embedded SQLite migrations (the files of sqlite/,
// at the root of the returned file system).
func SQLiteFiles() fs.FS {
	sub, err := fs.Sub(sqliteFiles, "sqlite")
	if err != nil {
		// fs.Sub fails only for an invalid directory name, and "sqlite" is valid.
		panic(err)
	}
	return sub
}

// PostgresFiles returns the embedded PostgreSQL migrations (the files of
// postgres/, at the root of the returned file system).
func PostgresFiles() fs.FS {
	sub, err := fs.Sub(postgresFiles, "postgres")
	if err != nil {
		// fs.Sub fails only for an invalid directory name, and "postgres" is valid.
		panic(err)
	}
	return sub
}

// Migration is one numbered schema change.
type Migration struct {
	// Version is the number of the file, from 1.
	Version int
	// Name is the file's name without the number and extension.
	Name string
	// SQL is the file's content, applied as one script.
	SQL string
}

var fileName = regexp.MustCompile(`^([0-9]{4})_([a-z0-9_]+)\.sql$`)

// List reads the migrations at the root of fsys: every *.sql file, named
// NNNN_name.sql, numbered contiguously from 0001. Other files are ignored.
func List(fsys fs.FS) ([]Migration, error) {
	entries, err := fs.ReadDir(fsys, ".")
	if err != nil {
		return nil, fmt.Errorf("migrations: read directory: %w", err)
	}
	var ms []Migration
	for _, e := range entries {
		if e.IsDir() || path.Ext(e.Name()) != ".sql" {
			continue
		}
		m := fileName.FindStringSubmatch(e.Name())
		if m == nil {
			return nil, fmt.Errorf("migrations: %s: file name is not NNNN_name.sql", e.Name())
		}
		v, _ := strconv.Atoi(m[1]) // four digits always parse
		body, err := fs.ReadFile(fsys, e.Name())
		if err != nil {
			return nil, fmt.Errorf("migrations: read %s: %w", e.Name(), err)
		}
		ms = append(ms, Migration{Version: v, Name: m[2], SQL: string(body)})
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].Version < ms[j].Version })
	for i, m := range ms {
		if m.Version != i+1 {
			return nil, fmt.Errorf("migrations: expected version %d, found %04d_%s.sql (versions must be contiguous from 0001)", i+1, m.Version, m.Name)
		}
	}
	return ms, nil
}

// Latest returns the highest version in fsys: the schema version a database
// has after Apply. It is 0 when fsys holds no migrations.
func Latest(fsys fs.FS) (int, error) {
	ms, err := List(fsys)
	if err != nil {
		return 0, err
	}
	return len(ms), nil
}

// createTable is valid in every dialect; 0001_init.sql declares the same table.
const createTable = `CREATE TABLE IF NOT EXISTS schema_migrations (
	version    INTEGER PRIMARY KEY,
	name       TEXT NOT NULL,
	applied_at TEXT NOT NULL
)`

// Current returns the highest version recorded in db, or 0 when db has no
// schema_migrations table yet.
func Current(ctx context.Context, db *sql.DB, d Dialect) (int, error) {
	if _, err := dialectOf(d); err != nil {
		return 0, err
	}
	var exists bool
	var err error
	switch d {
	case SQLite:
		err = db.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations')`).Scan(&exists)
	case Postgres:
		err = db.QueryRowContext(ctx, `SELECT to_regclass('schema_migrations') IS NOT NULL`).Scan(&exists)
	}
	if err != nil {
		return 0, fmt.Errorf("migrations: look for schema_migrations: %w", err)
	}
	if !exists {
		return 0, nil
	}
	return currentVersion(ctx, db)
}

type querier interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

func currentVersion(ctx context.Context, q querier) (int, error) {
	var v int
	if err := q.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&v); err != nil {
		return 0, fmt.Errorf("migrations: read schema version: %w", err)
	}
	return v, nil
}

type dialect struct {
	insert string // records one migration: version, name, applied_at
	lock   string // serialises runners inside a transaction, or ""
}

func dialectOf(d Dialect) (dialect, error) {
	switch d {
	case SQLite:
		return dialect{
			insert: `INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)`,
		}, nil
	case Postgres:
		return dialect{
			insert: `INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)`,
			// An arbitrary constant key ("stigaudit" in ASCII, truncated).
			lock: `SELECT pg_advisory_xact_lock(7599940461637216)`,
		}, nil
	}
	return dialect{}, fmt.Errorf("migrations: unknown dialect %q", d)
}

// Apply brings db up to the latest version in fsys. Each pending migration
// runs in its own transaction with its schema_migrations row, in version
// order; a failure stops the run and leaves db at the last whole version.
// Applying to an up-to-date database does nothing.
//
// A database whose recorded version is higher than Latest(fsys) was written
// by a newer stigaudit: Apply refuses it with an error wrapping
// auditerr.ErrSchemaTooNew and changes nothing.
func Apply(ctx context.Context, db *sql.DB, fsys fs.FS, d Dialect) error {
	dl, err := dialectOf(d)
	if err != nil {
		return err
	}
	ms, err := List(fsys)
	if err != nil {
		return err
	}
	if _, err := db.ExecContext(ctx, createTable); err != nil {
		return fmt.Errorf("migrations: create schema_migrations: %w", err)
	}
	current, err := currentVersion(ctx, db)
	if err != nil {
		return err
	}
	if err := checkNotNewer(current, len(ms)); err != nil {
		return err
	}
	for _, m := range ms[current:] {
		if err := applyOne(ctx, db, dl, m, len(ms)); err != nil {
			return err
		}
	}
	return nil
}

func checkNotNewer(current, latest int) error {
	if current <= latest {
		return nil
	}
	return auditerr.Errorf(auditerr.ErrSchemaTooNew,
		"database schema version %d is newer than this binary's latest (%d): it was written by a newer stigaudit; "+
			"upgrade the stigaudit binary to that release (or restore a backup taken before the upgrade)", current, latest)
}

// applyOne runs m in one transaction unless another runner got there first.
func applyOne(ctx context.Context, db *sql.DB, dl dialect, m Migration, latest int) (err error) {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("migrations: %04d_%s: begin: %w", m.Version, m.Name, err)
	}
	defer func() {
		if err != nil {
			err = errors.Join(err, ignoreDone(tx.Rollback()))
		}
	}()
	if dl.lock != "" {
		if _, err := tx.ExecContext(ctx, dl.lock); err != nil {
			return fmt.Errorf("migrations: %04d_%s: lock: %w", m.Version, m.Name, err)
		}
	}
	// Re-read inside the transaction: a concurrent runner may have applied it.
	current, err := currentVersion(ctx, tx)
	if err != nil {
		return err
	}
	if err := checkNotNewer(current, latest); err != nil {
		return err
	}
	if current >= m.Version {
		return tx.Rollback()
	}
	if current != m.Version-1 {
		return fmt.Errorf("migrations: %04d_%s: database is at version %d, expected %d", m.Version, m.Name, current, m.Version-1)
	}
	if _, err := tx.ExecContext(ctx, m.SQL); err != nil {
		return fmt.Errorf("migrations: %04d_%s: %w", m.Version, m.Name, err)
	}
	appliedAt := time.Now().UTC().Format("2006-01-02T15:04:05.000000Z")
	if _, err := tx.ExecContext(ctx, dl.insert, m.Version, m.Name, appliedAt); err != nil {
		return fmt.Errorf("migrations: %04d_%s: record: %w", m.Version, m.Name, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("migrations: %04d_%s: commit: %w", m.Version, m.Name, err)
	}
	return nil
}

func ignoreDone(err error) error {
	if errors.Is(err, sql.ErrTxDone) {
		return nil
	}
	return err
}
