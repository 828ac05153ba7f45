package api

import (
	"context"
	"strings"
	"sync"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/stigaudit/stigaudit/core/event"
	"github.com/stigaudit/stigaudit/core/jcs"
)

// Failed authentications are recorded as best-effort auth_failed events
// (SPEC §3, a family the seed's spec required but never wrote). Anyone can
// provoke a 401, so recording is rate limited: past the budget a failure is
// only logged, never stored, and the log cannot be flooded through it.
const (
	authFailedPerSecond = 5
	authFailedBurst     = 20
	// authFailedActor is the acting principal of an unauthenticated caller.
	authFailedActor = "urn:stigaudit:anonymous"
)

// bucket is a token bucket: rate tokens a second, at most burst saved.
type bucket struct {
	mu     sync.Mutex
	tokens float64
	last   time.Time
	rate   float64
	burst  float64
}

func newBucket(rate, burst float64) *bucket {
	return &bucket{tokens: burst, rate: rate, burst: burst}
}

// take reports whether a token was available at now, and spends it.
func (b *bucket) take(now time.Time) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.last.IsZero() {
		b.tokens = min(b.burst, b.tokens+now.Sub(b.last).Seconds()*b.rate)
	}
	b.last = now
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

// recordAuthFailure emits auth_failed for a 401, within the rate limit.
// The detail names the route, the remote address and the public key id
// when the caller presented something shaped like a key; never the secret.
func (s *server) recordAuthFailure(c echo.Context) {
	if s.authFailed == nil || !s.authFailed.take(time.Now()) {
		return
	}
	r := c.Request()
	d := []byte(`{"method":`)
	d = jcs.AppendString(d, r.Method)
	d = append(d, `,"remote_addr":`...)
	d = jcs.AppendString(d, r.RemoteAddr)
	d = append(d, `,"route":`...)
	d = jcs.AppendString(d, c.Path())
	if id := presentedKeyID(r.Header.Get(echo.HeaderAuthorization)); id != "" {
		d = append(d, `,"key_id":`...)
		d = jcs.AppendString(d, id)
	}
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
