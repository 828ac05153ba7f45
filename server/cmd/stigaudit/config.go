package main

import (
	"context"
	"database/sql"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/stigaudit/stigaudit/core/event"
	"github.com/stigaudit/stigaudit/hostfns"
	"github.com/stigaudit/stigaudit/hostfns/pgstore"
	"github.com/stigaudit/stigaudit/hostfns/sqlitestore"
	"github.com/stigaudit/stigaudit/server/auth"
)

// DBFile is the SQLite file's name inside the data directory.
const DBFile = "stigaudit.db"

// common holds the flags every command that touches the store shares.
type common struct {
	dataDir     string
	databaseURL string
}

func env(name, def string) string {
	if v, ok := os.LookupEnv(name); ok && v != "" {
		return v
	}
	return def
}

func newFlagSet(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("stigaudit "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}

func (c *common) register(fs *flag.FlagSet) {
	fs.StringVar(&c.dataDir, "data-dir", env("STIGAUDIT_DATA_DIR", "./data"), "directory for the SQLite file, keys and salts (STIGAUDIT_DATA_DIR)")
	fs.StringVar(&c.databaseURL, "database-url", env("STIGAUDIT_DATABASE_URL", ""), "postgres://... selects PostgreSQL (STIGAUDIT_DATABASE_URL)")
}

// isPostgres reports whether --database-url selects PostgreSQL.
func (c *common) isPostgres() bool {
	return strings.HasPrefix(c.databaseURL, "postgres://") || strings.HasPrefix(c.databaseURL, "postgresql://")
}

// dbStore is what the commands need of a store that keeps the log in a SQL
// database: SQLite in the data directory (sqlitestore) or PostgreSQL
// (pgstore). DB() also holds the api_keys and checkpoints tables.
type dbStore interface {
	hostfns.Store
	hostfns.Getter
	hostfns.TreeReader
	DB() *sql.DB
	AppendTx(ctx context.Context, tx *sql.Tx, events []event.Event) ([]event.Event, error)
}

var (
	_ dbStore = (*sqlitestore.Store)(nil)
	_ dbStore = (*pgstore.Store)(nil)
)

// storeOptions are the settings openStore passes to either store.
type storeOptions struct {
	// OnCommit is told about every group commit (metrics).
	OnCommit func(events, requests int, d time.Duration)
}

// openStore opens the log: PostgreSQL when --database-url is a postgres://
// URL (several replicas may share it), otherwise SQLite in the data
// directory, creating both. The data directory is created either way: it
// keeps the node's keys and salts.
func (c *common) openStore(ctx context.Context, o storeOptions) (dbStore, error) {
	if c.databaseURL != "" && !c.isPostgres() {
		return nil, fmt.Errorf("%w: --database-url must start with postgres:// (or be empty for SQLite in --data-dir)", errUsage)
	}
	if err := os.MkdirAll(c.dataDir, 0o700); err != nil {
		return nil, fmt.Errorf("creating data directory: %w", err)
	}
	if c.isPostgres() {
		s, err := pgstore.Open(ctx, c.databaseURL, pgstore.Options{OnCommit: o.OnCommit})
		if err != nil {
			return nil, fmt.Errorf("opening PostgreSQL %s: %w", c.databaseName(), err)
		}
		return s, nil
	}
	return sqlitestore.Open(filepath.Join(c.dataDir, DBFile), sqlitestore.Options{OnCommit: o.OnCommit})
}

// databaseName names the database for messages, without credentials.
func (c *common) databaseName() string {
	if !c.isPostgres() {
		return filepath.Join(c.dataDir, DBFile)
	}
	u, err := url.Parse(c.databaseURL)
	if err != nil {
		return "(unparsable --database-url)"
	}
	u.User = nil
	u.RawQuery = ""
	return u.String()
}

// keysOptions returns auth options fitting the store's SQL dialect.
func keysOptions(s dbStore) auth.Options {
	if _, ok := s.(*pgstore.Store); ok {
		return auth.Options{Placeholder: auth.Dollar}
	}
	return auth.Options{}
}

// openSQLite opens the SQLite store in the data directory, creating both,
// for commands that work on SQLite only; --database-url is refused.
func (c *common) openSQLite(opts sqlitestore.Options) (*sqlitestore.Store, error) {
	if c.isPostgres() {
		return nil, fmt.Errorf("%w: this command works on the SQLite file in --data-dir only; unset --database-url (STIGAUDIT_DATABASE_URL)", errUsage)
	}
	if c.databaseURL != "" {
		return nil, fmt.Errorf("%w: --database-url must start with postgres://", errUsage)
	}
	if err := os.MkdirAll(c.dataDir, 0o700); err != nil {
		return nil, fmt.Errorf("creating data directory: %w", err)
	}
	return sqlitestore.Open(filepath.Join(c.dataDir, DBFile), opts)
}

// multiFlag is a repeatable string flag.
type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }
