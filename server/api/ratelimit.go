package api

import (
	"math"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/stigaudit/stigaudit/core/auditerr"
	"github.com/stigaudit/stigaudit/server/auth"
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
	return b.takeLocked(now)
}

func (b *bucket) takeLocked(now time.Time) bool {
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

// buckets is one token bucket per name (a source address, a key id), in a
// table of bounded size.
type buckets struct {
	rate, burst float64
	max         int

	mu sync.Mutex
	m  map[string]*bucket
}

// maxBuckets bounds each table of buckets.
const maxBuckets = 65536

func newBuckets(rate, burst float64) *buckets {
	return &buckets{rate: rate, burst: burst, max: maxBuckets, m: make(map[string]*bucket)}
}

// take spends a token of name's bucket at now, reporting whether there
// was one.
func (bs *buckets) take(name string, now time.Time) bool {
	bs.mu.Lock()
	defer bs.mu.Unlock()
	b := bs.m[name]
	if b == nil {
		if len(bs.m) >= bs.max {
			bs.makeRoom(now)
		}
		b = newBucket(bs.rate, bs.burst)
		bs.m[name] = b
	}
	return b.takeLocked(now)
}

// makeRoom forgets the buckets that have refilled (forgetting them changes
// nothing), and failing that an arbitrary half: memory stays bounded
// whatever names arrive.
func (bs *buckets) makeRoom(now time.Time) {
	refill := time.Duration(bs.burst / bs.rate * float64(time.Second))
	for name, b := range bs.m {
		if now.Sub(b.last) >= refill {
			delete(bs.m, name)
		}
	}
	for name := range bs.m {
		if len(bs.m) < bs.max/2 {
			return
		}
		delete(bs.m, name)
	}
}

// RateLimit is middleware answering 429 rate_limited, with Retry-After,
// to a source address (auth.Source) that sends more than the configured
// requests a second (Config.RateLimit). Liveness, readiness and metrics
// are not limited.
func (s *Handlers) RateLimit(next echo.HandlerFunc) echo.HandlerFunc {
	if s.requests == nil {
		return next
	}
	retry := time.Duration(math.Ceil(1/s.requests.rate)) * time.Second
	return func(c echo.Context) error {
		switch c.Path() {
		case "/healthz", "/readyz", "/metrics":
			return next(c)
		}
		if !s.requests.take(auth.Source(c.Request().RemoteAddr), time.Now()) {
			return &auth.Retry{
				Err:   auditerr.Errorf(auth.ErrRateLimited, "more than %s requests a second from this address; retry later", strconv.FormatFloat(s.requests.rate, 'g', -1, 64)),
				After: max(retry, time.Second),
			}
		}
		return next(c)
	}
}

// setRetryAfter sets Retry-After from an error that says when to retry.
func setRetryAfter(h http.Header, err error) {
	ra, ok := retryAfterOf(err)
	if !ok {
		return
	}
	h.Set("Retry-After", strconv.Itoa(int(math.Ceil(max(ra, time.Second).Seconds()))))
}
