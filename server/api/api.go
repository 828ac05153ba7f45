package api

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/stigaudit/stigaudit"
	"github.com/stigaudit/stigaudit/core/auditerr"
	"github.com/stigaudit/stigaudit/core/merkle"
	"github.com/stigaudit/stigaudit/server/auth"
	"github.com/stigaudit/stigaudit/server/health"
	"github.com/stigaudit/stigaudit/server/metrics"
	"github.com/stigaudit/stigaudit/server/redact"
)

// Config configures New.
type Config struct {
	// Log is the audit log served; required.
	Log *stigaudit.Log
	// Keys authenticates requests; required.
	Keys *auth.Keys
	// Metrics records HTTP requests; optional. Best-effort failures are
	// counted by the Log's Observer (stigaudit.Log.EmitBestEffort).
	Metrics *metrics.Metrics
	// Logger receives server-side failures; default slog.Default().
	Logger *slog.Logger
	// Prover answers ?proof=1 on the read routes; nil refuses the
	// parameter.
	Prover Prover
	// Receipts, if set, makes POST /v1/audit/events?wait=checkpoint (and
	// wait=witnessed) answer once the events are covered, with their
	// receipts; MaxWait bounds the wait (default DefaultMaxWait).
	Receipts Receipts
	MaxWait  time.Duration
	// Ready are the conditions GET /readyz checks after the store's Ping
	// (health.Check: the store's file and last commit, disk margin,
	// checkpointer). Each failure is named in the 503 answer.
	Ready []health.Check
	// Redaction decides per request whether list answers are redacted
	// (the redact parameter, principals always redacted); nil serves
	// clear data and refuses the redact parameter.
	Redaction *redact.Policy
	// RateLimit is the most requests a second one source address may
	// send (auth.Source); beyond it requests are answered 429
	// rate_limited with Retry-After. 0 turns the limit off.
	RateLimit float64
	// Stats answers GET /v1/audit/stats (the store's counts); without it
	// the route is not mounted.
	Stats StatsReader
}

// Prover proves that events are in the signed log (server/tlog implements
// it; declared here, where it is used, so api does not import tlog).
type Prover interface {
	// Inclusion proves seq in the tree of the given size; size 0 means the
	// latest signed checkpoint. An event newer than that checkpoint is an
	// error wrapping auditerr.ErrNotFound.
	Inclusion(ctx context.Context, seq, size uint64) (merkle.InclusionProof, error)
}

// Handlers are the API's handlers and middleware; what they share.
type Handlers struct {
	log       *stigaudit.Log
	keys      *auth.Keys
	metrics   *metrics.Metrics
	logger    *slog.Logger
	prover    Prover
	readiness []health.Check
	receipts  Receipts
	maxWait   time.Duration
	redaction *redact.Policy
	stats     StatsReader
	// authFailed budgets auth_failed events; failLog aggregates their
	// log lines (authfail.go).
	authFailed *authBudget
	failLog    *failLog
	// requests is the per-source request limit, or nil (ratelimit.go).
	requests *buckets
	// unavailable rate-limits the log lines of 503 answers.
	unavailable *throttle
}

// New returns the handlers of the routes implemented here (events in,
// reads, health) and the middleware every route runs behind. It mounts
// nothing: server.New's route table does (server/routes.go).
func New(cfg Config) *Handlers {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.MaxWait <= 0 {
		cfg.MaxWait = DefaultMaxWait
	}
	s := &Handlers{log: cfg.Log, keys: cfg.Keys, metrics: cfg.Metrics, logger: cfg.Logger, prover: cfg.Prover, readiness: cfg.Ready,
		receipts: cfg.Receipts, maxWait: cfg.MaxWait, redaction: cfg.Redaction, stats: cfg.Stats,
		authFailed: newAuthBudget(), failLog: newFailLog(cfg.Logger), unavailable: newThrottle(unavailableLogEvery)}
	if cfg.RateLimit > 0 {
		s.requests = newBuckets(cfg.RateLimit, max(cfg.RateLimit, 1))
	}
	return s
}

// Echo returns an echo instance with the API's error handler and
// middleware (CheckQuery before routing; Observe, RecoverPanics and
// RateLimit around every route) and no routes.
func (s *Handlers) Echo() *echo.Echo {
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.HTTPErrorHandler = s.HandleError
	e.Pre(s.CheckQuery)
	e.Use(s.Observe, s.RecoverPanics, s.RateLimit)
	return e
}

// Healthz is GET /healthz: the process answers.
func (s *Handlers) Healthz(c echo.Context) error {
	return c.JSONBlob(http.StatusOK, []byte(`{"status":"ok"}`))
}

// principalKey is the echo context key of the authenticated principal;
// authFailedKey marks a request whose key did not verify.
const (
	principalKey  = "stigaudit.principal"
	authFailedKey = "stigaudit.auth_failed"
)

// Authenticate is middleware that verifies the Bearer key of the request
// and stores its principal for PrincipalOf; a missing or bad key is a 401,
// an expired one 401 key_expired, and an attempt refused by the key
// verification limits (auth.Limits) 429 rate_limited with Retry-After.
func Authenticate(keys *auth.Keys) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			h := c.Request().Header.Get(echo.HeaderAuthorization)
			scheme, key, ok := strings.Cut(h, " ")
			if !ok || !strings.EqualFold(scheme, "Bearer") || key == "" {
				return auditerr.Errorf(auditerr.ErrUnauthorized, "an Authorization: Bearer <key> header is required")
			}
			ctx := auth.WithSource(c.Request().Context(), auth.Source(c.Request().RemoteAddr))
			p, err := keys.Verify(ctx, strings.TrimSpace(key))
			if err != nil {
				c.Set(authFailedKey, true)
				return err
			}
			c.Set(principalKey, p)
			return next(c)
		}
	}
}

// Require is middleware, after Authenticate, that answers 403 unless the
// principal holds want.
func Require(want auth.Perms) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			if !PrincipalOf(c).Can(want) {
				return auditerr.Errorf(auditerr.ErrForbidden, "this key lacks the %s permission", want)
			}
			return next(c)
		}
	}
}

// PrincipalOf returns the principal Authenticate stored, or the zero
// Principal (which may do nothing).
func PrincipalOf(c echo.Context) auth.Principal {
	p, _ := c.Get(principalKey).(auth.Principal)
	return p
}

// RecoverPanics turns a handler panic into a 500 with code "panic".
func (s *Handlers) RecoverPanics(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) (err error) {
		defer func() {
			if r := recover(); r != nil {
				if r == http.ErrAbortHandler {
					panic(r)
				}
				s.logger.Error("handler panicked", slog.Any("panic", r), slog.String("stack", string(debug.Stack())))
				err = auditerr.Errorf(auditerr.ErrPanic, "internal error")
			}
		}()
		return next(c)
	}
}

// Observe renders errors in place, so the status is known, and records the
// request in the HTTP metrics. A client that hung up is not answered and
// is recorded as 499.
func (s *Handlers) Observe(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		start := time.Now()
		status := 0
		if err := next(c); err != nil {
			if hungUp(c, err) {
				s.logHangUp(c, err)
				status = StatusClientClosedRequest
			} else {
				s.HandleError(err, c)
			}
		}
		if status == 0 {
			status = c.Response().Status
		}
		if s.metrics != nil {
			route := c.Path()
			if route == "" {
				route = "unmatched"
			}
			s.metrics.HTTPRequest(route, c.Request().Method, status, time.Since(start))
		}
		return nil
	}
}

// Ready answers 200 when the store is reachable, 503 otherwise.
func (s *Handlers) Ready(c echo.Context) error {
	ctx, cancel := context.WithTimeout(c.Request().Context(), 2*time.Second)
	defer cancel()
	checks := append([]health.Check{{Name: "store", Run: s.log.Store().Ping}}, s.readiness...)
	failed := health.Run(ctx, checks)
	if len(failed) == 0 {
		return c.JSONBlob(http.StatusOK, []byte(`{"status":"ready"}`))
	}
	// Rendered here rather than returned: the API hides the message of a
	// 5xx, and this one is for the operator.
	msgs := make([]string, len(failed))
	reasons := make([]map[string]string, len(failed))
	for i, f := range failed {
		msgs[i] = f.Check + ": " + f.Err.Error()
		reasons[i] = map[string]string{"check": f.Check, "message": f.Err.Error()}
	}
	body, _ := json.Marshal(map[string]any{
		"error":   map[string]string{"code": "store_unavailable", "message": strings.Join(msgs, "; ")},
		"reasons": reasons,
	})
	c.Response().Header().Set("Retry-After", "5")
	return c.JSONBlob(http.StatusServiceUnavailable, body)
}

// appendString appends s as a JSON string.
func appendString(dst []byte, s string) []byte {
	b, _ := json.Marshal(s) // a string always marshals
	return append(dst, b...)
}
