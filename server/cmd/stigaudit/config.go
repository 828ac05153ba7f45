package main

import (
	"context"
	"database/sql"
	"flag"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/stigaudit/stigaudit/core/event"
	"github.com/stigaudit/stigaudit/hostfns"
	"github.com/stigaudit/stigaudit/hostfns/pgstore"
	"github.com/stigaudit/stigaudit/hostfns/sqlitestore"
	"github.com/stigaudit/stigaudit/hostfns/sqlquery"
	"github.com/stigaudit/stigaudit/server/api"
	"github.com/stigaudit/stigaudit/server/datadir"
	"github.com/stigaudit/stigaudit/server/retention"
	"github.com/stigaudit/stigaudit/server/sink"
	"github.com/stigaudit/stigaudit/server/tlog"
	"github.com/stigaudit/stigaudit/server/witness"
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
	// logOrigin is set by startSigning: the log's origin, from its
	// checkpoint key (what format=ocsf sinks record as metadata.log_name).
	logOrigin string
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
// database, SQLite in the data directory (sqlitestore) or PostgreSQL
// (pgstore): the log, its tree, its api_keys table, and EmitTx's
// transactions. Everything else the store keeps (checkpoints, retention,
// the witnessed checkpoint) is reached through backend.
type dbStore interface {
	hostfns.Store
	hostfns.Getter
	hostfns.TreeReader
	sink.Cursors
	APIKeys() *sqlquery.KeyTable
	api.StatsReader
	AppendTx(ctx context.Context, tx *sql.Tx, events []event.Event) ([]event.Event, error)
}

var (
	_ dbStore = (*sqlitestore.Store)(nil)
	_ dbStore = (*pgstore.Store)(nil)
)

// backend is the log's store as openStore opened it. Exactly one of file
// and shared is set, and what differs between them is decided here, once:
// a SQLite log has one server, which signs; a PostgreSQL log may be served
// by several replicas, which elect the one that signs, talks to the
// witnesses and feeds the sinks.
type backend struct {
	dbStore
	// file is the SQLite store in the data directory.
	file *sqlitestore.Store
	// shared is the PostgreSQL store replicas may share.
	shared *pgstore.Store
}

// health is the database check /readyz runs beside the ping: SQLite's
// file and WAL (sqlitestore.Store.Health); nil on PostgreSQL, whose
// outages the ping and the commits report.
func (b backend) health() func(context.Context) error {
	if b.file != nil {
		return b.file.Health
	}
	return nil
}

// replicated reports whether several serve replicas may share the log.
func (b backend) replicated() bool { return b.shared != nil }

// checkpoints returns the log's signed checkpoints. On PostgreSQL they
// are stored only while leader leads (nil: never; see
// pgstore.Checkpoints); on SQLite leader is ignored.
func (b backend) checkpoints(leader *pgstore.Leader) tlog.Checkpoints {
	if b.shared != nil {
		return b.shared.Checkpoints(leader)
	}
	return b.file.Checkpoints()
}

// purging is the store's SQL for retention purges and purged events.
func (b backend) purging() interface {
	retention.Purging
	PurgedAt(ctx context.Context, seq int64) (string, error)
} {
	if b.shared != nil {
		return b.shared.Purging()
	}
	return b.file.Purging()
}

// witnessed is where the elected replica keeps the newest witnessed
// checkpoint for the others; nil on SQLite.
func (b backend) witnessed() witness.Shared {
	if b.shared != nil {
		return b.shared.Witnessed()
	}
	return nil
}

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
func (c *common) openStore(ctx context.Context, o storeOptions) (backend, error) {
	if c.databaseURL != "" && !c.isPostgres() {
		return backend{}, fmt.Errorf("%w: --database-url must start with postgres:// (or be empty for SQLite in --data-dir)", errUsage)
	}
	if err := os.MkdirAll(c.dataDir, 0o700); err != nil {
		return backend{}, fmt.Errorf("creating data directory: %w", err)
	}
	if c.isPostgres() {
		s, err := pgstore.Open(ctx, c.databaseURL, pgstore.Options{OnCommit: o.OnCommit, MaxBatchEvents: c.maxBatch, Logger: o.Logger})
		if err != nil {
			return backend{}, fmt.Errorf("opening PostgreSQL %s: %w", c.databaseName(), err)
		}
		return backend{dbStore: s, shared: s}, nil
	}
	// Never create an empty database where a log existed: every command
	// that opens the store (keys, export, migrate) would begin a second
	// history that serve then refuses.
	if err := datadir.CheckHistory(c.dataDir); err != nil {
		return backend{}, err
	}
	s, err := sqlitestore.Open(filepath.Join(c.dataDir, DBFile), sqlitestore.Options{OnCommit: o.OnCommit, MaxBatchEvents: c.maxBatch})
	if err != nil {
		return backend{}, err
	}
	return backend{dbStore: s, file: s}, nil
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
func (c *common) startSigning(ctx context.Context, node, origin string, onPublish func(tlog.Signed), store backend, reg prometheus.Registerer, logger *slog.Logger) (*tlog.Checkpointer, func(), error) {
	pg := store.shared
	if pg == nil {
		cp, key, err := startCheckpointer(ctx, c.dataDir, node, origin, onPublish, store, reg, logger)
		if err != nil {
			return nil, nil, err
		}
		c.logOrigin = key.Origin
		return cp, func() { stopCheckpointer(cp, logger) }, nil
	}
	key, err := signingKey(ctx, c.dataDir, node, origin, store.checkpoints(nil), true)
	if err != nil {
		return nil, nil, err
	}
	c.logOrigin = key.Origin
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
	cp, err := tlog.New(ctx, tlog.Config{Tree: store, Checkpoints: store.checkpoints(leader), Pin: tlog.PinIn(c.dataDir), Key: key, Ring: ring, Logger: logger, Registerer: reg, OnPublish: onPublish})
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
