package pgstore

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/stigaudit/stigaudit/hostfns/appendq"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/transparency-dev/merkle/compact"
	"github.com/transparency-dev/merkle/rfc6962"

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
	DefaultMaxBatchEvents = 1000
	DefaultMaxWait        = 4 * time.Millisecond
	// burstGap is how long the writer waits for the next request of a
	// burst (see MaxWait).
	burstGap              = time.Millisecond
	DefaultMaxConns       = 10
	DefaultConnectTimeout = 10 * time.Second
)

// Options configure a Store. The zero value is the recommended setup.
type Options struct {
	// Schema, if set, is the PostgreSQL schema holding the log: it is
	// created if missing and put first on every connection's search_path.
	// Otherwise the DSN's own search_path (e.g. ?search_path=audit) or the
	// server's default applies.
	Schema string
	// MaxBatchEvents bounds the events one group commit writes; default
	// 1000. A single Append larger than that is still committed whole, on
	// its own. 1 turns group commit off: one synchronous transaction, and
	// one WAL flush under the head lock, per Append (the naive way, kept as
	// the benchmarks' baseline).
	MaxBatchEvents int
	// MaxWait bounds how long the writer, once it holds a request, gathers
	// more before it commits: while requests keep arriving less than 1ms
	// apart (the clients answered by the last commit coming back), it
	// waits for them, up to MaxWait in all. When the last group held a
	// single request (low load) it does not wait. Default 4ms; negative:
	// never wait.
	MaxWait time.Duration
	// MaxConns bounds the connection pool (the writer, which keeps one,
	// reads, and transactions on DB()); default 10, at least 2. A Leader
	// uses one more connection of its own.
	MaxConns int
	// ConnectTimeout bounds connecting and migrating in Open; default 10s.
	ConnectTimeout time.Duration
	// OnCommit, if set, is called by the writer after each successful group
	// commit with the number of events written, the number of requests
	// answered and the time from taking the group to the end of the
	// commit. It must not block.
	OnCommit func(events, requests int, d time.Duration)
	// Logger receives the outage lines: PostgreSQL unreachable (once per
	// outage, then at most one line per 5 s with the count of failed and
	// refused connection attempts) and reachable again. Default: discard.
	Logger *slog.Logger

	// slowPath makes the writer decide every group in Go under the lock
	// (the path groups with re-sent ids take), for tests.
	slowPath bool
}

func (o Options) withDefaults() Options {
	if o.MaxBatchEvents <= 0 {
		o.MaxBatchEvents = DefaultMaxBatchEvents
	}
	switch {
	case o.MaxWait == 0:
		o.MaxWait = DefaultMaxWait
	case o.MaxWait < 0:
		o.MaxWait = 0
	}

	if o.MaxConns <= 0 {
		o.MaxConns = DefaultMaxConns
	}
	o.MaxConns = max(o.MaxConns, 2) // the writer keeps one
	if o.ConnectTimeout <= 0 {
		o.ConnectTimeout = DefaultConnectTimeout
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o
}

// Store is the PostgreSQL hostfns.Store. See the package documentation for
// its sequencing, durability and concurrency.
type Store struct {
	opts Options
	pool *pgxpool.Pool
	db   *sql.DB // database/sql view of pool, for AppendTx and other tables
	rf   *compact.RangeFactory
	gate *gate // every connection dials through it

	writer string // this instance's row in log_durable

	q    *appendq.Queue // Append callers → the writer
	done chan struct{}  // closed when the writer has exited
}

// Open connects to the PostgreSQL database named by dsn (a postgres:// URL
// or a key=value string, as pgx understands them), brings its schema up to
// date and checks that the log head agrees with the stored tree. A schema
// written by a newer stigaudit is refused (auditerr.ErrSchemaTooNew).
func Open(ctx context.Context, dsn string, opts Options) (*Store, error) {
	opts = opts.withDefaults()
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, auditerr.Errorf(auditerr.ErrInvalidConfig, "pgstore: database URL: %v", err) // pgconn redacts passwords
	}
	cfg.MaxConns = int32(opts.MaxConns)
	if _, set := cfg.ConnConfig.RuntimeParams["plan_cache_mode"]; !set {
		// Plan every query for its parameters and the log's current size:
		// a generic plan cached while the log was small (a sequential scan)
		// would otherwise be kept until the next ANALYZE.
		cfg.ConnConfig.RuntimeParams["plan_cache_mode"] = "force_custom_plan"
	}
	if opts.Schema != "" {
		cfg.ConnConfig.RuntimeParams["search_path"] = pgx.Identifier{opts.Schema}.Sanitize()
	}
	g := newGate(cfg.ConnConfig.DialFunc, opts.Logger)
	g.install(&cfg.ConnConfig.Config)
	ctx, cancel := context.WithTimeout(ctx, opts.ConnectTimeout)
	defer cancel()
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, unavailable("connect", err)
	}
	var id [8]byte
	if _, err := rand.Read(id[:]); err != nil {
		pool.Close()
		return nil, auditerr.Errorf(auditerr.ErrEntropyUnavailable, "pgstore: writer id: %v", err)
	}
	s := &Store{
		opts:   opts,
		writer: hex.EncodeToString(id[:]),
		pool:   pool,
		gate:   g,
		db:     stdlib.OpenDBFromPool(pool),
		rf:     &compact.RangeFactory{Hash: rfc6962.DefaultHasher.HashChildren},
		q:      appendq.New("pgstore", 1024),
		done:   make(chan struct{}),
	}
	fail := func(err error) (*Store, error) {
		s.db.Close()
		pool.Close()
		return nil, err
	}
	if opts.Schema != "" {
		if _, err := pool.Exec(ctx, `CREATE SCHEMA IF NOT EXISTS `+pgx.Identifier{opts.Schema}.Sanitize()); err != nil {
			return fail(unavailable("create schema "+opts.Schema, err))
		}
	}
	if err := migrations.Apply(ctx, s.db, migrations.PostgresFiles(), migrations.Postgres); err != nil {
		if errors.Is(err, auditerr.ErrSchemaTooNew) {
			return fail(fmt.Errorf("pgstore: %w", err))
		}
		return fail(unavailable("migrate", err))
	}
	if err := s.checkHead(ctx); err != nil {
		return fail(err)
	}
	if err := s.markDurable(ctx); err != nil {
		return fail(err)
	}
	go newWriter(s).run()
	return s, nil
}

// checkHead verifies that log_head's compact range equals the one stored in
// events and tree_nodes: the head is what appends trust, the tables are
// what proofs read, and they must never disagree.
//
// It reads both in one repeatable-read snapshot and ignores the durable
// mark: other replicas append while this one starts, and a replica killed
// mid-commit leaves committed appends that no mark covers yet, so the head
// is routinely ahead of the durable prefix that ReadNodes serves.
func (s *Store) checkHead(ctx context.Context) error {
	tx, err := s.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return unavailable("read log head", err)
	}
	defer tx.Rollback(ctx)
	h, err := s.readHead(tx.QueryRow(ctx, sqlReadHead))
	if err != nil {
		return unavailable("read log head", err)
	}
	ids := compact.RangeNodes(0, uint64(h.size), nil)
	levels := make([]int32, len(ids))
	idxs := make([]int64, len(ids))
	for i, id := range ids {
		levels[i], idxs[i] = int32(id.Level), int64(id.Index)
	}
	rows, err := tx.Query(ctx, sqlNodesCommitted, levels, idxs)
	if err != nil {
		return unavailable("read tree nodes", err)
	}
	want := make([][]byte, len(ids))
	for rows.Next() {
		var ord int64
		var hash []byte
		if err := rows.Scan(&ord, &hash); err != nil {
			rows.Close()
			return unavailable("read tree nodes", err)
		}
		if ord >= 1 && ord <= int64(len(want)) {
			want[ord-1] = hash
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return unavailable("read tree nodes", err)
	}
	got := h.tree.Hashes()
	if len(got) != len(want) {
		return auditerr.Errorf(auditerr.ErrVerifyFailed, "pgstore: log_head holds %d range hashes for size %d, the tree has %d", len(got), h.size, len(want))
	}
	for i := range want {
		if want[i] == nil {
			return auditerr.Errorf(auditerr.ErrVerifyFailed, "pgstore: log head at size %d: tree node (%d, %d) is missing", h.size, ids[i].Level, ids[i].Index)
		}
		if string(got[i]) != string(want[i]) {
			return auditerr.Errorf(auditerr.ErrVerifyFailed, "pgstore: log_head's compact range differs from tree_nodes at size %d (hash %d)", h.size, i)
		}
	}
	return nil
}

// sqlNodesCommitted reads perfect subtree hashes as committed, whatever
// the durable mark (for checkHead only; proofs use sqlNodes).
const sqlNodesCommitted = `SELECT u.ord, CASE
		WHEN u.level = 0 THEN (SELECT leaf_hash FROM events WHERE seq = u.idx)
		ELSE (SELECT hash FROM tree_nodes WHERE level = u.level AND idx = u.idx)
	END
	FROM unnest($1::integer[], $2::bigint[]) WITH ORDINALITY AS u(level, idx, ord)`

// markDurable refuses a session that would not flush commits, then
// publishes the current head as durable (the synchronous commit of the
// mark flushes everything committed before it, including appends whose
// writer died before marking them) and prunes the watermark rows that the
// maximum makes redundant.
func (s *Store) markDurable(ctx context.Context) error {
	var sc string
	if err := s.pool.QueryRow(ctx, `SHOW synchronous_commit`).Scan(&sc); err != nil {
		return unavailable("read synchronous_commit", err)
	}
	if sc == "off" {
		return auditerr.Errorf(auditerr.ErrInvalidConfig, "pgstore: synchronous_commit is off for this connection: acknowledged events could be lost; remove the setting (the default, on, is required)")
	}
	if _, err := s.pool.Exec(ctx, `INSERT INTO log_durable (writer, size) SELECT $1, size FROM log_head
		ON CONFLICT (writer) DO UPDATE SET size = GREATEST(log_durable.size, EXCLUDED.size), updated_at = now()`, s.writer); err != nil {
		return unavailable("mark durable", err)
	}
	if _, err := s.pool.Exec(ctx, `DELETE FROM log_durable WHERE size < `+sqlDurableSize); err != nil {
		return unavailable("prune durable marks", err)
	}
	return nil
}

// DB returns a database/sql view of the store's connection pool, for one
// use only: callers that append inside their own transactions (AppendTx,
// Log.EmitTx). The schema's other tables are reached through the store's
// own methods (Checkpoints, Witnessed, APIKeys, Purging, Cursor). Its
// placeholders are $1, $2, ... DB stays owned by the store: do not close
// it.
func (s *Store) DB() *sql.DB { return s.db }

// Pool returns the store's pgx connection pool, for callers that want
// PostgreSQL's native interface. It stays owned by the store.
func (s *Store) Pool() *pgxpool.Pool { return s.pool }

// Append stores events atomically and durably, through the group-commit
// writer, following the hostfns.Store contract. If ctx ends while the
// request is queued or committing, Append returns ctx's error at once and
// the events may or may not be stored; re-send them (appends are
// idempotent) to find out.
func (s *Store) Append(ctx context.Context, events []event.Event) ([]event.Event, error) {
	return s.q.Submit(ctx, events)
}

// Close stops accepting Appends, waits for the writer to commit everything
// queued, and closes the connection pool. It is safe to call more than once.
func (s *Store) Close() error {
	if !s.q.Close() {
		return nil
	}
	<-s.done
	err := s.db.Close()
	s.pool.Close()
	return err
}

// ConnStats returns the store's connection attempts since Open and whether
// it considers PostgreSQL unreachable now (see Options.Logger).
func (s *Store) ConnStats() ConnStats { return s.gate.stats() }

func (s *Store) isClosed() bool {
	return s.q.Closed()
}

// Size returns the number of durable events (the next seq, once the
// appends in flight are flushed).
func (s *Store) Size(ctx context.Context) (int64, error) {
	var n int64
	if err := s.pool.QueryRow(ctx, `SELECT `+sqlDurableSize).Scan(&n); err != nil {
		return 0, unavailable("size", err)
	}
	return n, nil
}

// Ping reports whether the database answers (readiness); after Close it
// returns ErrClosed.
func (s *Store) Ping(ctx context.Context) error {
	if s.isClosed() {
		return auditerr.Errorf(auditerr.ErrClosed, "pgstore: closed")
	}
	var one int
	if err := s.pool.QueryRow(ctx, `SELECT 1`).Scan(&one); err != nil {
		return unavailable("ping", err)
	}
	return nil
}

// Get returns the event of tenant with this id, or an error wrapping
// auditerr.ErrNotFound.
func (s *Store) Get(ctx context.Context, tenant, id string) (event.Event, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+sqlquery.EventColumns+` FROM events WHERE id = $1 AND tenant_id = $2 AND seq < `+sqlDurableSize, id, tenant)
	if err != nil {
		return event.Event{}, unavailable("get", err)
	}
	evs, err := sqlquery.ScanEvents(rows, 1)
	rows.Close()
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
		return fmt.Errorf("pgstore: %s: %w", what, err)
	}
	return fmt.Errorf("%w: %w", auditerr.Errorf(auditerr.ErrStoreUnavailable, "pgstore: %s", what), err)
}
