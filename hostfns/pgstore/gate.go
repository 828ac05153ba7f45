package pgstore

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
)

// Backoff of the dial gate while PostgreSQL is down: the first probe
// after minBackoff, then twice as long after each failed one, up to
// maxBackoff. probeTimeout frees the probe slot of an attempt that never
// settled (a hook pgconn did not call).
const (
	minBackoff   = 50 * time.Millisecond
	maxBackoff   = time.Second
	probeTimeout = 30 * time.Second
	// dialLogEvery bounds the dial-failure log lines to one per period,
	// carrying the count of the period.
	dialLogEvery = 5 * time.Second
)

// ErrDown is wrapped by the errors of connection attempts that the store
// refused without dialing, because PostgreSQL was found unreachable and
// the next probe is not due yet. Such errors also wrap
// auditerr.ErrStoreUnavailable where the store returns them.
var ErrDown = errors.New("pgstore: PostgreSQL is unreachable; not dialing until the next probe")

// ConnStats are the store's connection attempts since Open.
type ConnStats struct {
	// Dials counts the network connections attempted.
	Dials uint64
	// Failures counts the attempts that failed: the dial, TLS or the
	// session's start-up.
	Failures uint64
	// Refused counts the attempts refused without dialing while down.
	Refused uint64
	// Down reports whether the store considers PostgreSQL unreachable now.
	Down bool
	// Outages counts the transitions to down.
	Outages uint64
}

// gate is a store's shared view of whether PostgreSQL can be reached. It
// sits in the dialer of every connection the store makes (the pool's, a
// Leader's): while PostgreSQL is up every attempt dials; the first attempt
// that fails turns it down, and then only one attempt at a time — the
// probe — dials, at most once per backoff (50 ms doubling to 1 s), while
// every other attempt fails at once with ErrDown. The first session that
// starts turns it up again. So an outage costs about one dial a second,
// whatever the request rate, and recovery follows within a second of
// PostgreSQL's return.
type gate struct {
	dial   pgconn.DialFunc
	logger *slog.Logger
	now    func() time.Time

	dials, failures, refused, outages atomic.Uint64

	mu       sync.Mutex
	down     bool
	since    time.Time // when it went down
	backoff  time.Duration
	next     time.Time // earliest next probe
	probing  bool
	probeGen uint64
	probeAt  time.Time
	lastErr  error
	// The dial-failure log: when the last line was written and what
	// happened since.
	loggedAt                     time.Time
	failedUnlogged, refusedSince int
	// The counters when it went down, for the outage's totals.
	failuresAtDown, refusedAtDown uint64
}

func newGate(dial pgconn.DialFunc, logger *slog.Logger) *gate {
	return &gate{dial: dial, logger: logger, now: time.Now}
}

// install puts g in the dial path of cfg and reports started sessions.
func (g *gate) install(cfg *pgconn.Config) {
	cfg.DialFunc = g.dialContext // fallback hosts dial through it too
	after := cfg.AfterConnect
	cfg.AfterConnect = func(ctx context.Context, pc *pgconn.PgConn) error {
		g.started(pc.Conn())
		if after != nil {
			return after(ctx, pc)
		}
		return nil
	}
}

// stats returns the counters.
func (g *gate) stats() ConnStats {
	g.mu.Lock()
	down := g.down
	g.mu.Unlock()
	return ConnStats{Dials: g.dials.Load(), Failures: g.failures.Load(), Refused: g.refused.Load(), Down: down, Outages: g.outages.Load()}
}

// dialContext is the DialFunc of every connection of the store.
func (g *gate) dialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	probe, gen, err := g.enter()
	if err != nil {
		return nil, err
	}
	conn, err := g.dial(ctx, network, addr)
	if err != nil {
		g.failed(probe, gen, err)
		return nil, err
	}
	return &gatedConn{Conn: conn, g: g, probe: probe, gen: gen}, nil
}

// enter decides whether an attempt may dial: always while up; while down
// only as the one probe, once the backoff has passed.
func (g *gate) enter() (probe bool, gen uint64, err error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if !g.down {
		g.dials.Add(1)
		return false, 0, nil
	}
	now := g.now()
	if (g.probing && now.Sub(g.probeAt) < probeTimeout) || now.Before(g.next) {
		g.refused.Add(1)
		g.refusedSince++
		wait := max(g.next.Sub(now), 0)
		return false, 0, fmt.Errorf("%w (down for %s, next attempt in %s; last error: %v)",
			ErrDown, now.Sub(g.since).Round(time.Millisecond), wait.Round(time.Millisecond), g.lastErr)
	}
	g.dials.Add(1)
	g.probing = true
	g.probeGen++
	g.probeAt = now
	return true, g.probeGen, nil
}

// failed records a failed attempt: it turns the gate down, or lengthens
// the backoff after a failed probe.
func (g *gate) failed(probe bool, gen uint64, err error) {
	if errors.Is(err, context.Canceled) {
		// The caller gave up; that says nothing about PostgreSQL.
		g.mu.Lock()
		if probe && g.probing && g.probeGen == gen {
			g.probing = false
		}
		g.mu.Unlock()
		return
	}
	g.failures.Add(1)
	g.mu.Lock()
	defer g.mu.Unlock()
	now := g.now()
	g.lastErr = err
	g.failedUnlogged++
	switch {
	case !g.down:
		g.down, g.since, g.backoff = true, now, minBackoff
		g.failuresAtDown, g.refusedAtDown = g.failures.Load()-1, g.refused.Load()
		g.outages.Add(1)
		g.logger.LogAttrs(context.Background(), slog.LevelError, "PostgreSQL unreachable: new connections back off (one probe at a time, up to 1/s) until it answers",
			slog.String("error", err.Error()))
		g.loggedAt, g.failedUnlogged, g.refusedSince = now, 0, 0
	case probe && g.probing && g.probeGen == gen:
		g.probing = false
		g.backoff = min(2*g.backoff, maxBackoff)
	}
	g.next = now.Add(g.backoff)
	if now.Sub(g.loggedAt) >= dialLogEvery {
		g.logger.LogAttrs(context.Background(), slog.LevelError, "PostgreSQL still unreachable",
			slog.String("down_for", now.Sub(g.since).Round(time.Millisecond).String()),
			slog.Int("failed_attempts", g.failedUnlogged), slog.Int("refused_without_dialing", g.refusedSince),
			slog.String("period", now.Sub(g.loggedAt).Round(time.Millisecond).String()),
			slog.String("last_error", err.Error()))
		g.loggedAt, g.failedUnlogged, g.refusedSince = now, 0, 0
	}
}

// started records a session that started on conn (pgconn's AfterConnect):
// PostgreSQL is up.
func (g *gate) started(conn net.Conn) {
	if tc, ok := conn.(*tls.Conn); ok {
		conn = tc.NetConn()
	}
	gc, ok := conn.(*gatedConn)
	if !ok || !gc.started.CompareAndSwap(false, true) {
		return
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if !g.down {
		return
	}
	now := g.now()
	g.logger.LogAttrs(context.Background(), slog.LevelWarn, "PostgreSQL reachable again",
		slog.String("down_for", now.Sub(g.since).Round(time.Millisecond).String()),
		slog.Uint64("failed_attempts", g.failures.Load()-g.failuresAtDown),
		slog.Uint64("refused_without_dialing", g.refused.Load()-g.refusedAtDown))
	g.down, g.probing, g.backoff, g.lastErr = false, false, 0, nil
	g.loggedAt, g.failedUnlogged, g.refusedSince = time.Time{}, 0, 0
}

// gatedConn is a dialed connection. Closed before its session started
// (TLS or start-up failed, e.g. "the database system is starting up"), it
// counts as a failed attempt.
type gatedConn struct {
	net.Conn
	g       *gate
	probe   bool
	gen     uint64
	started atomic.Bool
	closed  atomic.Bool
}

func (c *gatedConn) Close() error {
	err := c.Conn.Close()
	if c.closed.CompareAndSwap(false, true) && !c.started.Load() {
		c.g.failed(c.probe, c.gen, errors.New("connection closed before its session started"))
	}
	return err
}
