package pgstore

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
)

// DefaultLeaderInterval is the default LeaderOptions.Interval.
const DefaultLeaderInterval = time.Second

// LeaderOptions configure a Leader. The zero value is usable.
type LeaderOptions struct {
	// Interval is how often a follower tries to take the lock and a leader
	// checks that its session is alive; default 1s. It bounds how long the
	// role stays vacant after the leader dies, and how long a leader whose
	// session was cut off still believes it leads.
	Interval time.Duration
	// Logger receives a line when leadership is won or lost; default
	// slog.Default().
	Logger *slog.Logger
}

// Leader elects one replica among those sharing a log: at most one Leader
// per name and schema holds leadership at a time, and when it dies (its
// process, its connection or its PostgreSQL session) another takes over
// within about one Interval.
//
// It is a PostgreSQL session-level advisory lock (pg_try_advisory_lock),
// held on a connection of its own, outside the store's pool. The lock key is
// derived from the schema and the name, so logs in different schemas of one
// database elect independently. PostgreSQL releases the lock when the
// holder's session ends, however it ends; the holder notices at its next
// liveness check and steps down.
//
// Between the moment the server ends a leader's session and that leader's
// next check, two replicas may both believe they lead. Work guarded by a
// Leader must tolerate that brief overlap; signing checkpoints does, since
// any two checkpoints of one append-only log at one size are identical.
type Leader struct {
	s    *Store
	name string
	opts LeaderOptions

	mu      sync.Mutex
	leading bool
	changed chan struct{} // closed and replaced at every change of leading
	busy    int           // Run functions running
	idle    chan struct{} // closed when busy drops to 0, if someone waits
	settled chan struct{} // closed after the first campaign step
	resign  bool          // Close was called: losing the role is expected

	stop chan struct{}
	done chan struct{}
}

// NewLeader starts campaigning for leadership under name (e.g.
// "checkpointer") with a connection configured like the store's. Close
// resigns and stops it.
func (s *Store) NewLeader(name string, opts LeaderOptions) *Leader {
	if opts.Interval <= 0 {
		opts.Interval = DefaultLeaderInterval
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	l := &Leader{
		s:       s,
		name:    name,
		opts:    opts,
		changed: make(chan struct{}),
		settled: make(chan struct{}),
		stop:    make(chan struct{}),
		done:    make(chan struct{}),
	}
	go l.campaign()
	return l
}

// IsLeader reports whether this replica holds leadership now.
func (l *Leader) IsLeader() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.leading
}

// Settled returns a channel that is closed once the Leader has made its
// first attempt at the lock (successful or not), so that IsLeader is
// meaningful: wait for it before acting on IsLeader at start-up.
func (l *Leader) Settled() <-chan struct{} { return l.settled }

// Changed returns a channel that is closed the next time IsLeader changes.
//
//	for {
//		ch := l.Changed()
//		if l.IsLeader() { ... }
//		<-ch
//	}
func (l *Leader) Changed() <-chan struct{} {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.changed
}

// Run calls fn each time this replica becomes leader, with a context that
// is cancelled when leadership is lost (or ctx ends), and waits for fn to
// return before campaigning on. It returns when ctx ends. When the Leader
// resigns (Close), it waits for fn to return before releasing the lock, so
// a graceful hand-over never runs fn on two replicas at once.
func (l *Leader) Run(ctx context.Context, fn func(ctx context.Context)) {
	for {
		l.mu.Lock()
		ch, leading := l.changed, l.leading
		if leading {
			l.busy++
		}
		l.mu.Unlock()
		if !leading {
			select {
			case <-ch:
				continue
			case <-ctx.Done():
				return
			}
		}
		lctx, cancel := context.WithCancel(ctx)
		finished := make(chan struct{})
		go func() {
			defer close(finished)
			fn(lctx)
		}()
		select {
		case <-ch:
		case <-ctx.Done():
		case <-finished:
			// fn returned on its own: wait for the role to change rather
			// than calling it again at once.
			select {
			case <-ch:
			case <-ctx.Done():
			}
		}
		cancel()
		<-finished
		l.mu.Lock()
		l.busy--
		if l.busy == 0 && l.idle != nil {
			close(l.idle)
			l.idle = nil
		}
		l.mu.Unlock()
		if ctx.Err() != nil {
			return
		}
	}
}

// stepDown gives up the role and waits (at most timeout) for the Run
// functions to return.
func (l *Leader) stepDown(timeout time.Duration) {
	l.set(false)
	l.mu.Lock()
	var idle chan struct{}
	if l.busy > 0 {
		if l.idle == nil {
			l.idle = make(chan struct{})
		}
		idle = l.idle
	}
	l.mu.Unlock()
	if idle != nil {
		select {
		case <-idle:
		case <-time.After(timeout):
		}
	}
}

// Close resigns (releasing the lock at once, so another replica need not
// wait for a timeout) and stops campaigning. It is safe to call more than
// once.
func (l *Leader) Close() error {
	l.mu.Lock()
	l.resign = true
	l.mu.Unlock()
	select {
	case <-l.stop:
	default:
		close(l.stop)
	}
	<-l.done
	return nil
}

func (l *Leader) set(leading bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.leading == leading {
		return
	}
	l.leading = leading
	close(l.changed)
	l.changed = make(chan struct{})
	switch {
	case leading:
		l.opts.Logger.Info("became leader", slog.String("role", l.name))
	case l.resign:
		l.opts.Logger.Info("resigned leadership", slog.String("role", l.name))
	default:
		l.opts.Logger.Warn("no longer leader", slog.String("role", l.name))
	}
}

// campaign is the Leader's goroutine: connect, try the lock, and while
// holding it check the session every Interval.
func (l *Leader) campaign() {
	defer close(l.done)
	var conn *pgx.Conn
	var key int64
	drop := func() {
		l.set(false)
		if conn != nil {
			ctx, cancel := context.WithTimeout(context.Background(), l.opts.Interval)
			conn.Close(ctx) // ends the session, which releases the lock
			cancel()
			conn = nil
		}
	}
	defer func() {
		if conn != nil && l.IsLeader() {
			// Resigning: stop the work first, then free the role.
			l.stepDown(10 * l.opts.Interval)
			ctx, cancel := context.WithTimeout(context.Background(), l.opts.Interval)
			_, _ = conn.Exec(ctx, `SELECT pg_advisory_unlock($1)`, key)
			cancel()
		}
		drop()
	}()
	t := time.NewTicker(l.opts.Interval)
	defer t.Stop()
	for first := true; ; first = false {
		if err := l.step(&conn, &key); err != nil {
			if !errors.Is(err, context.Canceled) {
				l.opts.Logger.Warn("leader election: database unreachable", slog.String("role", l.name), slog.String("error", err.Error()))
			}
			drop()
		}
		if first {
			close(l.settled)
		}
		select {
		case <-l.stop:
			return
		case <-t.C:
		}
	}
}

// step connects if needed, then either tries to take the lock or, when
// already leading, checks that the session still holds it.
func (l *Leader) step(conn **pgx.Conn, key *int64) error {
	ctx, cancel := context.WithTimeout(context.Background(), l.opts.Interval)
	defer cancel()
	go func() {
		select {
		case <-l.stop:
			cancel()
		case <-ctx.Done():
		}
	}()
	if *conn == nil {
		c, err := pgx.ConnectConfig(ctx, l.s.pool.Config().ConnConfig.Copy())
		if err != nil {
			return err
		}
		// The key names the role within this log's schema.
		if err := c.QueryRow(ctx, `SELECT hashtextextended(current_schema() || '/stigaudit/' || $1, 0)`, l.name).Scan(key); err != nil {
			c.Close(ctx)
			return err
		}
		*conn = c
	}
	if l.IsLeader() {
		// A session-level lock lives as long as the session: if the
		// session answers, the lock is still ours.
		var one int
		return (*conn).QueryRow(ctx, `SELECT 1`).Scan(&one)
	}
	var got bool
	if err := (*conn).QueryRow(ctx, `SELECT pg_try_advisory_lock($1)`, *key).Scan(&got); err != nil {
		return err
	}
	l.set(got)
	return nil
}
