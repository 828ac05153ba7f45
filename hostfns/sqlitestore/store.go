package sqlitestore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/stigaudit/stigaudit/hostfns/appendq"

	"github.com/transparency-dev/merkle/compact"
	"github.com/transparency-dev/merkle/rfc6962"
	_ "modernc.org/sqlite" // registers the "sqlite" driver

	"github.com/stigaudit/stigaudit/core/auditerr"
	"github.com/stigaudit/stigaudit/core/event"
	"github.com/stigaudit/stigaudit/hostfns"
	"github.com/stigaudit/stigaudit/hostfns/sqlquery"
	"github.com/stigaudit/stigaudit/migrations"
)

var (
	_ hostfns.Store      = (*Store)(nil)
	_ hostfns.Getter     = (*Store)(nil)
	_ hostfns.TreeReader = (*Store)(nil)
)

// Defaults of Options.
const (
	DefaultSynchronous    = "FULL"
	DefaultBusyTimeout    = 5 * time.Second
	DefaultMaxBatchEvents = 1000
	DefaultReadConns      = 4
	DefaultTxConns        = 4
)

// Options configure a Store. The zero value is the recommended setup.
type Options struct {
	// Synchronous is SQLite's PRAGMA synchronous: "FULL" (default; an
	// acknowledged event survives power loss), "EXTRA", "NORMAL" (survives
	// a crash of the process but not of the machine) or "OFF".
	Synchronous string
	// BusyTimeout is how long a connection waits for another writer's lock
	// (another process, or a caller's transaction on DB()); default 5s.
	BusyTimeout time.Duration
	// MaxBatchEvents bounds the events one group commit writes; default
	// 1000. A single Append larger than that is still committed whole, on
	// its own. 1 turns group commit off: one transaction per Append.
	MaxBatchEvents int
	// MaxWait is how long the writer, once it holds a request, waits for
	// more before committing; 0 (the default) commits what is queued at
	// once. Requests queue up anyway while a commit is in flight, so under
	// concurrency groups form without waiting, and appenders prepare their
	// next request while the writer commits. Waiting makes groups larger
	// but throughput lower (see
	// docs/decisions.md#92-why-maxwait-defaults-to-0-on-sqlite).
	MaxWait time.Duration
	// ReadConns is the size of the read-only connection pool; default 4.
	ReadConns int
	// TxConns is how many connections DB() lends to callers' transactions
	// at once (plain queries on DB() use them too); default 4.
	TxConns int
	// OnCommit, if set, is called by the writer after each successful group
	// commit with the number of events written, the number of requests
	// answered and the time from taking the group to the end of the
	// commit. It must not block.
	OnCommit func(events, requests int, d time.Duration)
	// DisableFileCheck turns off the check, before every commit, that the
	// path still names the database file that was opened (see Health). It
	// exists to measure what the check costs; a server never sets it.
	DisableFileCheck bool
}

func (o Options) withDefaults() (Options, error) {
	if o.Synchronous == "" {
		o.Synchronous = DefaultSynchronous
	}
	switch strings.ToUpper(o.Synchronous) {
	case "OFF", "NORMAL", "FULL", "EXTRA":
	default:
		return o, auditerr.Errorf(auditerr.ErrInvalidConfig, "sqlitestore: synchronous %q is not OFF, NORMAL, FULL or EXTRA", o.Synchronous)
	}
	if o.BusyTimeout <= 0 {
		o.BusyTimeout = DefaultBusyTimeout
	}
	if o.MaxBatchEvents <= 0 {
		o.MaxBatchEvents = DefaultMaxBatchEvents
	}
	if o.MaxWait < 0 {
		o.MaxWait = 0
	}
	if o.ReadConns <= 0 {
		o.ReadConns = DefaultReadConns
	}
	if o.TxConns <= 0 {
		o.TxConns = DefaultTxConns
	}
	return o, nil
}

// Store is the SQLite hostfns.Store. See the package documentation for its
// durability and concurrency.
type Store struct {
	opts Options
	db   *sql.DB // read-write: the writer's connection and callers' transactions
	rdb  *sql.DB // query_only reads
	rf   *compact.RangeFactory

	q    *appendq.Queue // Append callers → the writer
	done chan struct{}  // closed when the writer has exited
	w    *writer

	health *health
}

// Open opens the log at path, creating the file (mode 0600) and its
// directory (0700) if needed, and brings its schema up to date. A database
// written by a newer stigaudit is refused (auditerr.ErrSchemaTooNew).
func Open(path string, opts Options) (*Store, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("sqlitestore: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(abs), 0o700); err != nil {
		return nil, fmt.Errorf("sqlitestore: create directory: %w", err)
	}
	f, err := os.OpenFile(abs, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("sqlitestore: create %s: %w", abs, err)
	}
	f.Close()
	h, err := newHealth(abs)
	if err != nil {
		return nil, err
	}

	busy := strconv.FormatInt(opts.BusyTimeout.Milliseconds(), 10)
	rw := url.Values{
		"_busy_timeout": {busy},
		"_journal_mode": {"WAL"},
		"_synchronous":  {strings.ToUpper(opts.Synchronous)},
		"_foreign_keys": {"1"},
		"_txlock":       {"immediate"}, // callers' transactions write: take the lock up front
		// Statement journals (SQLite's undo of one statement inside a
		// transaction, used by every INSERT into events because its
		// trigger may abort) stay in memory: in a temporary file they cost
		// a write system call per page, ~11% of the writer's CPU with
		// batches of 100 over HTTP.
		"_pragma": {"temp_store(memory)"},
	}
	ro := url.Values{
		"_busy_timeout": {busy},
		"_foreign_keys": {"1"},
		"_query_only":   {"1"},
	}
	s := &Store{
		opts: opts,
		rf:   &compact.RangeFactory{Hash: rfc6962.DefaultHasher.HashChildren},
		q:    appendq.New("sqlitestore", 1024),
		done: make(chan struct{}),

		health: h,
	}
	if s.db, err = sql.Open("sqlite", dsn(abs, rw)); err != nil {
		return nil, fmt.Errorf("sqlitestore: open %s: %w", abs, err)
	}
	s.db.SetMaxOpenConns(1 + opts.TxConns) // the writer's own + callers'
	s.db.SetMaxIdleConns(1 + opts.TxConns)
	fail := func(err error) (*Store, error) {
		s.db.Close()
		if s.rdb != nil {
			s.rdb.Close()
		}
		return nil, err
	}
	ctx := context.Background()
	if err := migrations.Apply(ctx, s.db, migrations.SQLiteFiles(), migrations.SQLite); err != nil {
		return fail(fmt.Errorf("sqlitestore: %s: %w", abs, err))
	}
	if s.rdb, err = sql.Open("sqlite", dsn(abs, ro)); err != nil {
		return fail(fmt.Errorf("sqlitestore: open %s for reading: %w", abs, err))
	}
	s.rdb.SetMaxOpenConns(opts.ReadConns)
	s.rdb.SetMaxIdleConns(opts.ReadConns)
	if s.w, err = newWriter(ctx, s); err != nil {
		return fail(fmt.Errorf("sqlitestore: %s: %w", abs, err))
	}
	go s.w.run()
	return s, nil
}

// dsn is a SQLite URI for the file at abs with driver parameters.
func dsn(abs string, params url.Values) string {
	return "file:" + (&url.URL{Path: filepath.ToSlash(abs)}).EscapedPath() + "?" + params.Encode()
}

// DB returns the store's read-write database, for one use only: callers
// that append inside their own transactions (AppendTx, Log.EmitTx). The
// store's other tables are reached through its own methods (Checkpoints,
// APIKeys, Purging, Cursor). Its transactions begin IMMEDIATE: they hold SQLite's
// write lock until they end, so keep them short, and never wait for an
// Append while holding one (the writer would wait for the lock in turn,
// until BusyTimeout fails the Append). DB stays owned by the store: do not
// close it.
func (s *Store) DB() *sql.DB { return s.db }

// Append stores events atomically and durably, through the group-commit
// writer, following the hostfns.Store contract. If ctx ends while the
// request is queued or committing, Append returns ctx's error at once and
// the events may or may not be stored; re-send them (appends are
// idempotent) to find out.
func (s *Store) Append(ctx context.Context, events []event.Event) ([]event.Event, error) {
	return s.q.Submit(ctx, events)
}

// Close stops accepting Appends, waits for the writer to commit everything
// queued, and closes the database. It is safe to call more than once.
func (s *Store) Close() error {
	if !s.q.Close() {
		return nil
	}
	<-s.done
	return errors.Join(s.w.close(), s.rdb.Close(), s.db.Close())
}

// Size returns the number of committed events (the next seq).
func (s *Store) Size(ctx context.Context) (int64, error) {
	var n int64
	if err := s.rdb.QueryRowContext(ctx, sqlSize).Scan(&n); err != nil {
		return 0, unavailable("size", err)
	}
	return n, nil
}

// Ping reports whether the database answers (readiness); after Close it
// returns ErrClosed.
func (s *Store) Ping(ctx context.Context) error {
	if s.q.Closed() {
		return auditerr.Errorf(auditerr.ErrClosed, "sqlitestore: closed")
	}
	var one int
	if err := s.rdb.QueryRowContext(ctx, `SELECT 1`).Scan(&one); err != nil {
		return unavailable("ping", err)
	}
	return nil
}

// Get returns the event of tenant with this id, or an error wrapping
// auditerr.ErrNotFound.
func (s *Store) Get(ctx context.Context, tenant, id string) (event.Event, error) {
	rows, err := s.rdb.QueryContext(ctx, `SELECT `+sqlquery.EventColumns+` FROM events WHERE id = ? AND tenant_id = ?`, id, tenant)
	if err != nil {
		return event.Event{}, unavailable("get", err)
	}
	defer rows.Close()
	evs, err := sqlquery.ScanEvents(rows, 1)
	if err != nil {
		return event.Event{}, unavailable("get", err)
	}
	if len(evs) == 0 {
		return event.Event{}, auditerr.Errorf(auditerr.ErrNotFound, "no event with id %s", id)
	}
	return evs[0], nil
}

// unavailable wraps a database failure as ErrStoreUnavailable. Context
// errors are returned as they are: the caller gave up, the store did not fail.
func unavailable(what string, err error) error {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("sqlitestore: %s: %w", what, err)
	}
	return fmt.Errorf("%w: %w", auditerr.Errorf(auditerr.ErrStoreUnavailable, "sqlitestore: %s", what), err)
}
