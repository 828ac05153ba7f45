package api

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/stigaudit/stigaudit/core/auditerr"
	"github.com/stigaudit/stigaudit/core/event"
	"github.com/stigaudit/stigaudit/core/jcs"
	"github.com/stigaudit/stigaudit/server/auth"
)

// Failed authentications are recorded as best-effort auth_failed events
// (docs/catalogue.md, a family the seed's spec required but never wrote). Anyone can
// provoke a 401, so recording is budgeted — per source address, per
// presented key id, and overall — and past a budget a failure is only
// counted and logged, never stored: the log cannot be flooded through it,
// and a flood from one address or against one key id cannot spend the
// budget of another (docs/operations.md#abuse). A failure that names a stored key id is
// always counted in stigaudit_auth_failures_total{key_id} by package auth.
const (
	// authFailedPerSource and authFailedPerKey are the budgets of one
	// source address and of one presented key id (events a second, and
	// the burst saved up).
	authFailedPerSource, authFailedSourceBurst = 1, 10
	authFailedPerKey, authFailedKeyBurst       = 1, 10
	// authFailedPerSecond and authFailedBurst bound the whole server.
	authFailedPerSecond = 20
	authFailedBurst     = 100
	// authFailedActor is the acting principal of an unauthenticated caller.
	authFailedActor = "urn:stigaudit:anonymous"
	// failureLogWindow is the period failure log lines are aggregated over.
	failureLogWindow = 10 * time.Second
	// maxFailurePairs bounds the (address, key id) pairs aggregated at once;
	// beyond it failures are summed under one "other" line.
	maxFailurePairs = 4096
)

// authBudget decides which failures are recorded as events.
type authBudget struct {
	all     *bucket
	sources *buckets
	keys    *buckets
}

func newAuthBudget() *authBudget {
	return &authBudget{
		all:     newBucket(authFailedPerSecond, authFailedBurst),
		sources: newBuckets(authFailedPerSource, authFailedSourceBurst),
		keys:    newBuckets(authFailedPerKey, authFailedKeyBurst),
	}
}

// take spends the budgets of source and keyID ("" for none) and the
// overall one, reporting whether the failure may be recorded.
func (b *authBudget) take(source, keyID string, now time.Time) bool {
	if !b.sources.take(source, now) {
		return false
	}
	if keyID != "" && !b.keys.take(keyID, now) {
		return false
	}
	return b.all.take(now)
}

// authFailure accounts for a failed authentication (401, or 429 from the
// key verification limits): one aggregated log line and, within the
// budgets, an auth_failed event.
func (s *Handlers) authFailure(c echo.Context, err error) {
	r := c.Request()
	source := auth.Source(r.RemoteAddr)
	keyID := presentedKeyID(r.Header.Get(echo.HeaderAuthorization))
	s.failLog.add(r.Context(), source, keyID, c.Path(), auditerr.CodeOf(err))
	if s.authFailed == nil || !s.authFailed.take(source, keyID, time.Now()) {
		return
	}
	d := []byte(`{"code":`)
	d = jcs.AppendString(d, string(auditerr.CodeOf(err)))
	if keyID != "" {
		d = append(d, `,"key_id":`...)
		d = jcs.AppendString(d, keyID)
	}
	d = append(d, `,"method":`...)
	d = jcs.AppendString(d, r.Method)
	d = append(d, `,"remote_addr":`...)
	d = jcs.AppendString(d, r.RemoteAddr)
	d = append(d, `,"route":`...)
	d = jcs.AppendString(d, c.Path())
	d = append(d, '}')
	// Detached from the request: a client that hangs up must not cancel
	// the record of its failed attempt.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), 5*time.Second)
	defer cancel()
	s.log.EmitNoFail(ctx, event.Draft{
		Type:      "auth_failed",
		EntityURI: authFailedActor,
		Outcome:   event.OutcomeDenied,
		Source:    "http",
		Detail:    d,
	})
}

// failLog aggregates the log lines of failed authentications: the first
// failure of an (address, key id) pair is logged at once, and the rest of
// the next failureLogWindow as one line, "N failures from ADDR for key K
// in 10 s". A flood of bad keys thus writes a line per pair per window,
// not one per request, and every line names the key id.
type failLog struct {
	logger *slog.Logger
	window time.Duration

	mu    sync.Mutex
	pairs map[failPair]*failCount
}

type failPair struct{ source, keyID string }

type failCount struct {
	failures, limited int
	routes            map[string]struct{}
}

func newFailLog(logger *slog.Logger) *failLog {
	return &failLog{logger: logger, window: failureLogWindow, pairs: make(map[failPair]*failCount)}
}

// add counts one failure and logs it as described on failLog.
func (l *failLog) add(ctx context.Context, source, keyID, route string, code auditerr.Code) {
	p := failPair{source, keyID}
	l.mu.Lock()
	fc := l.pairs[p]
	first := fc == nil
	if first && len(l.pairs) >= maxFailurePairs {
		p = failPair{"other", ""}
		fc = l.pairs[p]
		first = fc == nil
	}
	if first {
		fc = &failCount{routes: map[string]struct{}{}}
		l.pairs[p] = fc
		time.AfterFunc(l.window, func() { l.flush(p) })
	}
	if code == auth.ErrRateLimited.Code {
		fc.limited++
	} else {
		fc.failures++
	}
	if len(fc.routes) < 8 {
		fc.routes[route] = struct{}{}
	}
	l.mu.Unlock()
	if first && p.source != "other" {
		l.logger.LogAttrs(ctx, slog.LevelWarn, "authentication failed",
			slog.String("remote_addr", source), slog.String("key_id", keyID),
			slog.String("route", route), slog.String("code", string(code)))
	}
}

// flush writes the line for the rest of p's window and forgets p.
func (l *failLog) flush(p failPair) {
	l.mu.Lock()
	fc := l.pairs[p]
	delete(l.pairs, p)
	l.mu.Unlock()
	if fc == nil {
		return
	}
	n := fc.failures + fc.limited
	if p.source != "other" {
		n-- // the first was logged on its own
	}
	if n <= 0 {
		return
	}
	key := p.keyID
	if key == "" {
		key = "(none)"
	}
	routes := make([]string, 0, len(fc.routes))
	for r := range fc.routes {
		routes = append(routes, r)
	}
	l.logger.LogAttrs(context.Background(), slog.LevelWarn,
		fmt.Sprintf("%d failures from %s for key %s in %g s", n, p.source, key, l.window.Seconds()),
		slog.Int("failures", n), slog.Int("rate_limited", fc.limited),
		slog.String("remote_addr", p.source), slog.String("key_id", p.keyID),
		slog.String("routes", strings.Join(routes, ",")),
		slog.Duration("window", l.window))
}

// presentedKeyID returns the public id part of a bearer key shaped like
// sa_<id>_<secret>, or "".
func presentedKeyID(header string) string {
	_, key, ok := strings.Cut(header, " ")
	if !ok {
		return ""
	}
	rest, ok := strings.CutPrefix(strings.TrimSpace(key), "sa_")
	if !ok {
		return ""
	}
	id, _, ok := strings.Cut(rest, "_")
	if !ok || len(id) == 0 || len(id) > 64 {
		return ""
	}
	for i := 0; i < len(id); i++ {
		if ch := id[i]; !(ch >= 'a' && ch <= 'z' || ch >= '0' && ch <= '9') {
			return ""
		}
	}
	return id
}
