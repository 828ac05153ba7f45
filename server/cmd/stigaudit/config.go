package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/stigaudit/stigaudit/hostfns/sqlitestore"
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

// openSQLite opens the store in the data directory, creating both.
func (c *common) openSQLite(opts sqlitestore.Options) (*sqlitestore.Store, error) {
	if strings.HasPrefix(c.databaseURL, "postgres://") || strings.HasPrefix(c.databaseURL, "postgresql://") {
		return nil, fmt.Errorf("PostgreSQL (--database-url) is not supported by this build yet; unset STIGAUDIT_DATABASE_URL to use SQLite in --data-dir")
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
