package api

import (
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/stigaudit/stigaudit/core/auditerr"
	"github.com/stigaudit/stigaudit/server/auth"
)

// statusOf maps every code that is not a plain input error (400).
var statusOf = map[auditerr.Code]int{
	auditerr.ErrUnauthorized.Code:       http.StatusUnauthorized,
	auditerr.ErrForbidden.Code:          http.StatusForbidden,
	auditerr.ErrNotFound.Code:           http.StatusNotFound,
	auditerr.ErrIDConflict.Code:         http.StatusConflict,
	auditerr.ErrPurged.Code:             http.StatusGone,
	auditerr.ErrTooLarge.Code:           http.StatusRequestEntityTooLarge,
	auditerr.ErrBatchTooLarge.Code:      http.StatusRequestEntityTooLarge,
	auditerr.ErrOutputTooLarge.Code:     http.StatusRequestEntityTooLarge,
	auditerr.ErrStoreUnavailable.Code:   http.StatusServiceUnavailable,
	auditerr.ErrClosed.Code:             http.StatusServiceUnavailable,
	auditerr.ErrSchemaTooNew.Code:       http.StatusServiceUnavailable,
	auditerr.ErrEntropyUnavailable.Code: http.StatusServiceUnavailable,
	auditerr.ErrInvalidConfig.Code:      http.StatusInternalServerError,
	auditerr.ErrPanic.Code:              http.StatusInternalServerError,
	auditerr.ErrNotInstruction.Code:     http.StatusOK,
	auth.ErrRateLimited.Code:            http.StatusTooManyRequests,
	auth.ErrKeyExpired.Code:             http.StatusUnauthorized,
	codeMethodNotAllowed:                http.StatusMethodNotAllowed,
	codeRequestTimeout:                  http.StatusRequestTimeout,

	// The key's re-check could not reach the database (and its grace had
	// passed): not the commit, which was never attempted.
	auth.ErrKeyRecheckUnavailable.Code: http.StatusServiceUnavailable,
}

// publicMessage is the message of a 5xx answer, by code, where the
// sentinel's generic message would mislead (store_unavailable is also a
// read that could not reach the store, not only a commit).
var publicMessage = map[auditerr.Code]string{
	auditerr.ErrStoreUnavailable.Code: "the store could not commit or answer",
	auditerr.ErrClosed.Code:           "the server is shutting down; retry on another replica or after it restarts",
}

// packagePrefixes are the Go package names that lower layers put in front
// of their messages ("sqlitestore: no event with id ..."); a client is
// told the cause, not the package.
var packagePrefixes = []string{"sqlitestore: ", "pgstore: ", "memstore: ", "hostfns: ", "stigaudit: ", "tlog: ", "retention: ", "exportapi: "}

// publicText removes package prefixes from msg, at its start and after
// each ": " of a wrapped chain.
func publicText(msg string) string {
	for _, p := range packagePrefixes {
		if !strings.Contains(msg, p) {
			continue
		}
		msg = strings.TrimPrefix(msg, p)
		msg = strings.ReplaceAll(msg, ": "+p, ": ")
	}
	return msg
}

// codeMethodNotAllowed answers a known path with the wrong method. It is an
// HTTP-layer code with no counterpart in the library.
const codeMethodNotAllowed auditerr.Code = "method_not_allowed"

// Status returns the HTTP status for err: 400 for input codes, 401, 403,
// 404, 409 id_conflict, 413 too_large and batch_too_large, 503 when the
// store cannot commit (store_unavailable) or a key cannot be re-checked
// (key_recheck_unavailable), and 500 for an error that carries no code.
func Status(err error) int {
	if err == nil {
		return http.StatusOK
	}
	var hs interface{ HTTPStatus() int }
	if errors.As(err, &hs) {
		return hs.HTTPStatus()
	}
	code := auditerr.CodeOf(err)
	if code == "" {
		return http.StatusInternalServerError
	}
	if s, ok := statusOf[code]; ok {
		return s
	}
	return http.StatusBadRequest
}

// errorBody renders {"error":{"code","message"[,"items"]}}. The message of
// a 5xx is the code's generic one: causes (SQL errors, paths) go to the log,
// not to the client.
func errorBody(err error, status int) []byte {
	var ae *auditerr.Error
	code, msg := auditerr.Code("internal"), "internal error"
	if errors.As(err, &ae) {
		code, msg = ae.Code, ae.Message
	}
	var pub *auditerr.PublicError
	if status >= 500 && errors.As(err, &pub) {
		msg = pub.Err.Message // meant for the client
	} else if status >= 500 && ae != nil {
		for u := error(ae); u != nil; u = errors.Unwrap(u) {
			if s, ok := u.(*auditerr.Error); ok {
				msg = s.Message // the sentinel's generic message is last
			}
		}
		if m, ok := publicMessage[code]; ok {
			msg = m
		}
	}
	msg = publicText(msg)
	b := []byte(`{"error":{"code":`)
	b = appendString(b, string(code))
	b = append(b, `,"message":`...)
	b = appendString(b, msg)
	var be *auditerr.BatchError
	if errors.As(err, &be) {
		b = append(b, `,"items":[`...)
		for i, it := range be.Items {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, `{"index":`...)
			b = strconv.AppendInt(b, int64(it.Index), 10)
			b = append(b, `,"code":`...)
			b = appendString(b, string(it.Code))
			b = append(b, `,"message":`...)
			b = appendString(b, publicText(it.Message))
			b = append(b, '}')
		}
		b = append(b, ']')
	}
	return append(b, "}}"...)
}

// retryAfter is the Retry-After of a 503, in seconds: PostgreSQL is probed
// at least once a second during an outage.
const retryAfter = "1"

// unavailableLogEvery bounds the log lines of 503 answers to one per code
// per period, with the count of the others: an outage under load would
// otherwise write a line per request.
const unavailableLogEvery = 5 * time.Second

// throttle lets one event a period through per key and counts the others.
type throttle struct {
	mu     sync.Mutex
	period time.Duration
	last   map[string]time.Time
	held   map[string]int
}

func newThrottle(period time.Duration) *throttle {
	return &throttle{period: period, last: map[string]time.Time{}, held: map[string]int{}}
}

// allow reports whether an event of key may pass at now and, if so, how
// many were held back since the last one that passed.
func (t *throttle) allow(key string, now time.Time) (bool, int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if last, ok := t.last[key]; ok && now.Sub(last) < t.period {
		t.held[key]++
		return false, 0
	}
	n := t.held[key]
	t.last[key], t.held[key] = now, 0
	return true, n
}

// writeError answers err with its status and logs server-side failures;
// a 503 carries Retry-After and is logged at most once per code every
// unavailableLogEvery.
func (s *Handlers) writeError(c echo.Context, err error) error {
	status := Status(err)
	if failed, _ := c.Get(authFailedKey).(bool); failed || status == http.StatusUnauthorized {
		// No secret is logged: the key text never reaches this point.
		s.authFailure(c, err)
	}
	logIt, held := true, 0
	if status == http.StatusServiceUnavailable {
		c.Response().Header().Set("Retry-After", retryAfter)
		if s.unavailable != nil {
			logIt, held = s.unavailable.allow(string(auditerr.CodeOf(err)), time.Now())
		}
	}
	// An error that says when to retry (a 429, a full stream table) wins.
	setRetryAfter(c.Response().Header(), err)
	if status >= 500 && logIt {
		attrs := []slog.Attr{slog.String("method", c.Request().Method), slog.String("route", c.Path()),
			slog.Int("status", status), slog.String("error", err.Error())}
		if held > 0 {
			attrs = append(attrs, slog.Int("similar_not_logged", held))
		}
		s.logger.LogAttrs(c.Request().Context(), slog.LevelError, "request failed", attrs...)
	}
	return c.JSONBlob(status, errorBody(err, status))
}

// retryAfterOf returns when an error says to retry (auth.Retry and the
// like), if it does.
func retryAfterOf(err error) (time.Duration, bool) {
	var ra interface{ RetryAfter() time.Duration }
	if !errors.As(err, &ra) {
		return 0, false
	}
	return ra.RetryAfter(), true
}

// HandleError is echo's HTTPErrorHandler: it renders echo's own errors
// (unknown route, wrong method, body limit) and anything a handler returned
// in the one error shape.
func (s *Handlers) HandleError(err error, c echo.Context) {
	if c.Response().Committed {
		return
	}
	var he *echo.HTTPError
	if errors.As(err, &he) {
		switch he.Code {
		case http.StatusNotFound:
			err = auditerr.Errorf(auditerr.ErrNotFound, "no such route")
		case http.StatusMethodNotAllowed:
			err = &auditerr.Error{Code: codeMethodNotAllowed, Message: "method not allowed", Index: -1}
		case http.StatusRequestEntityTooLarge:
			err = auditerr.Errorf(auditerr.ErrTooLarge, "the request body is too large")
		case http.StatusUnauthorized:
			err = auditerr.Errorf(auditerr.ErrUnauthorized, "missing or invalid API key")
		default:
			err = auditerr.Errorf(auditerr.ErrInvalidInput, "%v", he.Message)
		}
	}
	_ = s.writeError(c, err)
}
