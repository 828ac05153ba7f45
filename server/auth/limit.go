package auth

import (
	"context"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/stigaudit/stigaudit/core/auditerr"
)

// Errors of the verification limits (docs/operations.md#abuse, "Abuse costs the
// abuser"). Callers branch on them with errors.Is.
var (
	// ErrRateLimited refuses an attempt at once, without argon2id work:
	// its key id or its source address failed too often lately, or the
	// hashing queue was full for Limits.QueueWait. The error is a *Retry
	// that says when to try again. HTTP 429.
	ErrRateLimited = &auditerr.Error{Code: "rate_limited", Message: "too many attempts; retry later", Index: -1}
	// ErrKeyExpired refuses a key whose expiry has passed. It is only
	// ever answered to a caller that presented the key's secret, so it
	// tells a stranger nothing. HTTP 401.
	ErrKeyExpired = &auditerr.Error{Code: "key_expired", Message: "the API key has expired", Index: -1}
	// ErrKeyRevoked ends a Watch (an open stream or export) whose key was
	// revoked. New requests with a revoked key get the same answer as any
	// other bad key (auditerr.ErrUnauthorized).
	ErrKeyRevoked = &auditerr.Error{Code: "key_revoked", Message: "the API key was revoked", Index: -1}
)

// Retry is an error that tells the client when to try again (the HTTP
// Retry-After header). It unwraps to Err.
type Retry struct {
	// Err is the refusal, e.g. an error wrapping ErrRateLimited.
	Err error
	// After is how long the client should wait.
	After time.Duration
}

// Error returns Err's message.
func (r *Retry) Error() string { return r.Err.Error() }

// Unwrap returns Err.
func (r *Retry) Unwrap() error { return r.Err }

// RetryAfter returns After; api sets Retry-After from it.
func (r *Retry) RetryAfter() time.Duration { return r.After }

// Limits bound the argon2id work that failed verifications can cause.
// Only verifications that miss the cache are limited: a key that has
// verified keeps working from the cache whatever an attacker does with its
// key id. The zero value is DefaultLimits.
type Limits struct {
	// KeyFailures is how many failed verifications naming one key id
	// within Window make further attempts for that id answer 429 at once,
	// for Backoff; default 5. Attempts in progress count as failures
	// until they end, so a burst of concurrent guesses gets no more.
	KeyFailures int
	// SourceFailures is the same for one source address (an IPv4
	// address or an IPv6 /64); default 20.
	SourceFailures int
	// Window is the window failures are counted in; default 10 s.
	Window time.Duration
	// Backoff is the first refusal period; each further one for the same
	// id or source doubles it, up to MaxBackoff (default 10 s and 5 min).
	// A name quiet for MaxBackoff starts again from Backoff.
	Backoff, MaxBackoff time.Duration
	// QueueWait is how long an attempt waits for a free hashing slot
	// (Options.MaxHashes) before it is refused with 429; default 1 s.
	QueueWait time.Duration
	// MaxTracked bounds the names each table remembers; default 65536.
	MaxTracked int
}

// DefaultLimits are the limits of the zero Limits.
var DefaultLimits = Limits{
	KeyFailures: 5, SourceFailures: 20, Window: 10 * time.Second,
	Backoff: 10 * time.Second, MaxBackoff: 5 * time.Minute, QueueWait: time.Second, MaxTracked: 65536,
}

func (l Limits) withDefaults() Limits {
	d := DefaultLimits
	if l.KeyFailures <= 0 {
		l.KeyFailures = d.KeyFailures
	}
	if l.SourceFailures <= 0 {
		l.SourceFailures = d.SourceFailures
	}
	if l.Window <= 0 {
		l.Window = d.Window
	}
	if l.Backoff <= 0 {
		l.Backoff = d.Backoff
	}
	if l.MaxBackoff < l.Backoff {
		l.MaxBackoff = max(d.MaxBackoff, l.Backoff)
	}
	if l.QueueWait <= 0 {
		l.QueueWait = d.QueueWait
	}
	if l.MaxTracked <= 0 {
		l.MaxTracked = d.MaxTracked
	}
	return l
}

type sourceKey struct{}

// WithSource returns ctx carrying the source address of the request that
// presents a key (see Source), for the per-source limit. Without it every
// attempt shares one anonymous source.
func WithSource(ctx context.Context, source string) context.Context {
	return context.WithValue(ctx, sourceKey{}, source)
}

func sourceOf(ctx context.Context) string {
	s, _ := ctx.Value(sourceKey{}).(string)
	return s
}

// Source returns the address a limit should count a request under: the IP
// of remoteAddr ("host:port" or a bare host) without the port, and for
// IPv6 its /64, which one client usually holds whole. Forwarding headers
// are never read: a client sets them as it likes.
func Source(remoteAddr string) string {
	host, _, err := net.SplitHostPort(remoteAddr)
	if err != nil {
		host = remoteAddr
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return host
	}
	a = a.Unmap()
	if a.Is4() {
		return a.String()
	}
	p, _ := a.Prefix(64)
	return p.String()
}

// failTable counts failures per name (a key id or a source) and refuses a
// name that failed Limit times within the window.
type failTable struct {
	limit int
	lim   *Limits

	mu sync.Mutex
	m  map[string]*failState
}

type failState struct {
	fails    []time.Time // failures within the window, oldest first
	inflight int
	until    time.Time // refused until
	strikes  int       // refusal periods so far
	last     time.Time // last activity
	known    bool      // a key id the database holds
}

func newFailTable(limit int, lim *Limits) *failTable {
	return &failTable{limit: limit, lim: lim, m: make(map[string]*failState)}
}

// admit reserves an attempt for name, or says how long name is refused.
// Every admit that succeeds must be followed by one done.
func (t *failTable) admit(name string, now time.Time) (time.Duration, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	st := t.m[name]
	if st == nil {
		t.makeRoom(now)
		st = &failState{}
		t.m[name] = st
	}
	if now.Before(st.until) {
		return st.until.Sub(now), false
	}
	if !st.last.IsZero() && now.Sub(st.last) > t.lim.MaxBackoff+t.lim.Window {
		st.strikes = 0
	}
	st.prune(now, t.lim.Window)
	if len(st.fails)+st.inflight >= t.limit {
		// Attempts in flight fill the budget: wait for them.
		wait := time.Second
		if len(st.fails) > 0 {
			wait = max(wait, st.fails[0].Add(t.lim.Window).Sub(now))
		}
		return wait, false
	}
	st.inflight++
	st.last = now
	return 0, true
}

// done ends an attempt admit allowed. A failure that fills the budget
// starts a refusal period.
func (t *failTable) done(name string, now time.Time, failed, known bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	st := t.m[name]
	if st == nil {
		return
	}
	st.inflight = max(0, st.inflight-1)
	st.known = st.known || known
	st.last = now
	if !failed {
		return
	}
	st.prune(now, t.lim.Window)
	st.fails = append(st.fails, now)
	if len(st.fails) >= t.limit {
		st.until = now.Add(min(t.lim.Backoff<<min(st.strikes, 20), t.lim.MaxBackoff))
		st.strikes++
		st.fails = st.fails[:0]
	}
}

// isKnown reports whether name was seen to be a stored key id.
func (t *failTable) isKnown(name string) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	st := t.m[name]
	return st != nil && st.known
}

func (st *failState) prune(now time.Time, window time.Duration) {
	i := 0
	for i < len(st.fails) && now.Sub(st.fails[i]) >= window {
		i++
	}
	if i > 0 {
		st.fails = append(st.fails[:0], st.fails[i:]...)
	}
}

// makeRoom forgets quiet names when the table is full, and failing that an
// arbitrary name with no attempt in flight: the table's memory is bounded
// whatever names an attacker invents.
func (t *failTable) makeRoom(now time.Time) {
	if len(t.m) < t.lim.MaxTracked {
		return
	}
	for name, st := range t.m {
		if st.inflight == 0 && !now.Before(st.until) && now.Sub(st.last) >= t.lim.Window {
			delete(t.m, name)
		}
	}
	for name, st := range t.m {
		if len(t.m) < t.lim.MaxTracked {
			return
		}
		if st.inflight == 0 {
			delete(t.m, name)
		}
	}
}

// limiter is the pair of tables Keys consults before argon2id work.
type limiter struct {
	lim     Limits
	keys    *failTable
	sources *failTable
}

func newLimiter(l Limits) *limiter {
	lm := &limiter{lim: l.withDefaults()}
	lm.keys = newFailTable(lm.lim.KeyFailures, &lm.lim)
	lm.sources = newFailTable(lm.lim.SourceFailures, &lm.lim)
	return lm
}

// admit reserves an attempt for key id and source, or returns the refusal
// and which limit made it ("key_id" or "source").
func (l *limiter) admit(id, source string, now time.Time) (string, error) {
	if wait, ok := l.keys.admit(id, now); !ok {
		return "key_id", refused(wait, "too many attempts failed or under way for this key id; retry later")
	}
	if wait, ok := l.sources.admit(source, now); !ok {
		l.keys.done(id, now, false, false)
		return "source", refused(wait, "too many key verifications failed or under way from this address; retry later")
	}
	return "", nil
}

// done ends an attempt admit allowed.
func (l *limiter) done(id, source string, now time.Time, failed, known bool) {
	l.keys.done(id, now, failed, known)
	l.sources.done(source, now, failed, false)
}

// refused is a 429 that asks the client to wait (at least a second).
func refused(wait time.Duration, msg string) error {
	return &Retry{Err: auditerr.Errorf(ErrRateLimited, "%s", msg), After: max(wait, time.Second)}
}
