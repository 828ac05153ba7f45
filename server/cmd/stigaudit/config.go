package main

import (
	"context"
	"database/sql"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/stigaudit/stigaudit/core/auditerr"
	"github.com/stigaudit/stigaudit/core/event"
	"github.com/stigaudit/stigaudit/hostfns"
	"github.com/stigaudit/stigaudit/hostfns/pgstore"
	"github.com/stigaudit/stigaudit/hostfns/sqlitestore"
	"github.com/stigaudit/stigaudit/server/auth"
	"github.com/stigaudit/stigaudit/server/datadir"
	"github.com/stigaudit/stigaudit/server/tlog"
)

// DBFile is the SQLite file's name inside the data directory.
const DBFile = "stigaudit.db"

// common holds the flags every command that touches the store shares.
type common struct {
	dataDir     string
	databaseURL string
	maxBatch    int // events per group commit; 0: the store's default (serve's --max-batch-events)
	// signingLeader is set by startSigning on PostgreSQL: the election of
	// the replica that signs (and talks to the witnesses).
	signingLeader *pgstore.Leader
}

func env(name, def string) string {
	if v, ok := os.LookupEnv(name); ok && v != "" {
		return v
	}
	return def
}

// register adds the store flags, --data-dir and --database-url; their
// environment variables are read by parseFlags.
func (c *common) register(fs *flag.FlagSet) {
	fs.StringVar(&c.dataDir, "data-dir", "./data", "directory for the SQLite file, keys and salts (env STIGAUDIT_DATA_DIR)")
	fs.StringVar(&c.databaseURL, "database-url", "", "postgres://... selects PostgreSQL (env STIGAUDIT_DATABASE_URL)")
}

// registerMaxBatch adds --max-batch-events, for the commands whose store
// takes group commits (serve).
func (c *common) registerMaxBatch(fs *flag.FlagSet) {
	fs.IntVar(&c.maxBatch, "max-batch-events", 0, "most events one group commit writes; 1 turns group commit off, 0 is the default of 1000 (env STIGAUDIT_MAX_BATCH_EVENTS)")
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
	// Logger receives PostgreSQL's outage lines; nil discards them.
	Logger *slog.Logger
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
		s, err := pgstore.Open(ctx, c.databaseURL, pgstore.Options{OnCommit: o.OnCommit, MaxBatchEvents: c.maxBatch, Logger: o.Logger})
		if err != nil {
			return nil, fmt.Errorf("opening PostgreSQL %s: %w", c.databaseName(), err)
		}
		return s, nil
	}
	// Never create an empty database where a log existed: every command
	// that opens the store (keys, export, migrate) would begin a second
	// history that serve then refuses.
	if err := datadir.CheckHistory(c.dataDir); err != nil {
		return nil, err
	}
	return sqlitestore.Open(filepath.Join(c.dataDir, DBFile), sqlitestore.Options{OnCommit: o.OnCommit, MaxBatchEvents: c.maxBatch})
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

// multiFlag is a repeatable string flag.
type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

// startSigning starts the checkpointer of serve and returns it with the
// function that stops it (signing the tail) before the store closes.
//
// On SQLite the server is the only signer. On PostgreSQL every replica runs
// a Checkpointer over the shared log, but only the replica elected by a
// pgstore.Leader stores (publishes) checkpoints; the others verify what the
// leader stored against the shared tree and serve it. When the leader dies
// another replica is elected within about a second and goes on from the
// last stored checkpoint. Replicas must therefore share the checkpoint key
// (the same checkpoint.key in every data directory, and the same --node).
func (c *common) startSigning(ctx context.Context, node, origin string, onPublish func(tlog.Signed), store dbStore, reg prometheus.Registerer, logger *slog.Logger) (*tlog.Checkpointer, func(), error) {
	pg, ok := store.(*pgstore.Store)
	if !ok {
		cp, err := startCheckpointer(ctx, c.dataDir, node, origin, onPublish, store.(*sqlitestore.Store), reg, logger)
		if err != nil {
			return nil, nil, err
		}
		return cp, func() { stopCheckpointer(cp, logger) }, nil
	}
	key, err := signingKey(ctx, c.dataDir, node, origin, pg.DB(), true)
	if err != nil {
		return nil, nil, err
	}
	leader := pg.NewLeader(checkpointerRole, pgstore.LeaderOptions{Logger: logger})
	c.signingLeader = leader
	select { // so the first round knows whether to store or to follow
	case <-leader.Settled():
	case <-time.After(5 * time.Second):
	}
	ring, err := tlog.NewRing(c.dataDir, key)
	if err != nil {
		leader.Close()
		return nil, nil, fmt.Errorf("checkpoint keys: %w", err)
	}
	cp, err := tlog.New(ctx, tlog.Config{Tree: store, Checkpoints: &pgCheckpoints{db: pg.DB(), leader: leader}, Pin: tlog.PinIn(c.dataDir), Key: key, Ring: ring, Logger: logger, Registerer: reg, OnPublish: onPublish})
	if err != nil {
		leader.Close()
		return nil, nil, fmt.Errorf("checkpointer: %w", err)
	}
	if err := refusal(cp, c.dataDir, true); err != nil {
		leader.Close()
		return nil, nil, err
	}
	cp.Start()
	logger.Info("signing checkpoints when elected", slog.String("origin", key.Origin), slog.String("verifier_key", key.VerifierKey))
	return cp, func() {
		stopCheckpointer(cp, logger) // the leader signs the tail
		leader.Close()
	}, nil
}

// pgCheckpoints is tlog.Checkpoints in PostgreSQL's checkpoints table
// (migrations/postgres/0002_checkpoints.sql), stored only by the elected
// replica.
//
// Add on the leader runs one transaction holding an advisory lock (the
// table's insert trigger takes the same one), so the check sees every
// checkpoint stored before. Add on a follower stores nothing: it runs the
// same check against the latest stored checkpoint (so every replica keeps
// verifying the leader's checkpoints against the shared tree) and returns
// that checkpoint, which the Checkpointer then serves as its latest.
type pgCheckpoints struct {
	db     *sql.DB
	leader *pgstore.Leader
}

// errNotLeader is what a follower's Add answers before any checkpoint is
// stored: there is nothing to serve yet.
var errNotLeader = errors.New("no checkpoint stored yet by the elected replica")

// Latest returns the stored checkpoint of the largest size.
func (p *pgCheckpoints) Latest(ctx context.Context) (tlog.Signed, bool, error) {
	return tlog.LatestIn(ctx, p.db)
}

// Add stores s on the leader; see the type's documentation.
func (p *pgCheckpoints) Add(ctx context.Context, s tlog.Signed, check func(latest *tlog.Signed) error) (tlog.Signed, error) {
	latestOf := func() (*tlog.Signed, error) {
		prev, ok, err := tlog.LatestIn(ctx, p.db)
		if err != nil || !ok {
			return nil, err
		}
		return &prev, nil
	}
	if !p.leader.IsLeader() {
		prev, err := latestOf()
		if err != nil {
			return tlog.Signed{}, err
		}
		if err := check(prev); err != nil {
			return tlog.Signed{}, err
		}
		if prev == nil {
			return tlog.Signed{}, errNotLeader
		}
		return *prev, nil
	}
	tx, err := p.db.BeginTx(ctx, nil)
	if err != nil {
		return tlog.Signed{}, checkpointsUnavailable("begin checkpoint transaction", err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock(hashtextextended(current_schema() || '/stigaudit/checkpoints', 0))`); err != nil {
		return tlog.Signed{}, checkpointsUnavailable("lock checkpoints", err)
	}
	// Read on another connection, after taking the lock: every insert
	// before ours has committed and is visible.
	prev, err := latestOf()
	if err != nil {
		return tlog.Signed{}, err
	}
	if err := check(prev); err != nil {
		return tlog.Signed{}, err
	}
	if prev != nil && prev.Size >= s.Size {
		return *prev, nil
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO checkpoints (tree_size, root, note, created_at) VALUES ($1, $2, $3, $4)`,
		int64(s.Size), s.Root[:], string(s.Note), s.Time.UTC().Format("2006-01-02T15:04:05.000000Z")); err != nil {
		return tlog.Signed{}, checkpointsUnavailable(fmt.Sprintf("store checkpoint of size %d", s.Size), err)
	}
	if err := tx.Commit(); err != nil {
		return tlog.Signed{}, checkpointsUnavailable(fmt.Sprintf("commit checkpoint of size %d", s.Size), err)
	}
	return s, nil
}

func checkpointsUnavailable(what string, err error) error {
	return fmt.Errorf("%w: %w", auditerr.Errorf(auditerr.ErrStoreUnavailable, "checkpoints: %s", what), err)
}
