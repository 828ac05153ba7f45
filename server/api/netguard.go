package api

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/stigaudit/stigaudit/core/auditerr"
)

// The guards of docs/operations.md#answers that sit in front of every route: a query the
// URL parser rejects, or one with too many parameters, is a 400 before
// routing (so no handler ever sees a silently truncated query); a request
// body that trickles is cut with 408; an answer must be delivered within
// a write deadline; and a client that hangs up is neither answered nor
// counted as a server error.

// MaxQueryParams is the most query parameters a request may carry. The
// read routes take a dozen at most; Go's net/url stops parsing at 10,000
// and would drop every filter past the error.
const MaxQueryParams = 200

// HTTP-layer codes, with no counterpart in the library.
const (
	// codeInvalidQuery answers a query string that cannot be parsed whole
	// or carries more than MaxQueryParams parameters (400).
	codeInvalidQuery auditerr.Code = "invalid_query"
	// codeRequestTimeout answers a request body that arrived too slowly
	// (408).
	codeRequestTimeout auditerr.Code = "request_timeout"
)

// StatusClientClosedRequest is the status recorded in the metrics (never
// sent) for a request whose client hung up before its answer: nginx's 499.
const StatusClientClosedRequest = 499

// CheckQuery returns a 400 invalid_query error when raw, a request's raw
// query string, holds more than MaxQueryParams parameters or anything
// net/url refuses (a bad %-escape, a semicolon separator).
func CheckQuery(raw string) error {
	if raw == "" {
		return nil
	}
	n := 0
	for s := raw; s != ""; {
		var part string
		part, s, _ = strings.Cut(s, "&")
		if part == "" {
			continue // url.ParseQuery skips empty parts too
		}
		if n++; n > MaxQueryParams {
			return &auditerr.Error{Code: codeInvalidQuery, Index: -1,
				Message: "the query has more than " + strconv.Itoa(MaxQueryParams) + " parameters"}
		}
	}
	if _, err := url.ParseQuery(raw); err != nil {
		return &auditerr.Error{Code: codeInvalidQuery, Index: -1, Message: "the query string is not valid: " + err.Error()}
	}
	return nil
}

// CheckQuery is echo Pre middleware applying the function CheckQuery to
// every request, before routing, so that the rule holds on every route,
// known or not. A refused query is counted under the route "unmatched".
func (s *Handlers) CheckQuery(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		err := CheckQuery(c.Request().URL.RawQuery)
		if err == nil {
			return next(c)
		}
		start := time.Now()
		s.HandleError(err, c)
		if s.metrics != nil {
			s.metrics.HTTPRequest("unmatched", c.Request().Method, c.Response().Status, time.Since(start))
		}
		return nil
	}
}

// hungUp reports whether err is only the echo of a client that went away:
// the request's context is canceled (net/http cancels it when the
// connection fails), nothing was answered yet, and the failure is not a
// body this server cut itself.
func hungUp(c echo.Context, err error) bool {
	if c.Response().Committed || auditerr.CodeOf(err) == codeRequestTimeout {
		return false
	}
	return errors.Is(c.Request().Context().Err(), context.Canceled)
}

// logHangUp logs a hung-up client at debug level: it is the client's
// doing, and a flood of them must not fill the log.
func (s *Handlers) logHangUp(c echo.Context, err error) {
	s.logger.LogAttrs(c.Request().Context(), slog.LevelDebug, "client hung up",
		slog.String("method", c.Request().Method), slog.String("route", c.Path()),
		slog.String("remote_addr", c.Request().RemoteAddr), slog.String("error", err.Error()))
}

// Bounds are the per-request limits Bound enforces. Zero fields take the
// defaults below.
type Bounds struct {
	// WriteTimeout bounds the delivery of an answer, from its first byte;
	// default DefaultWriteTimeout.
	WriteTimeout time.Duration
	// Streaming lists the paths whose answers are long streams (exports):
	// there each write moves the deadline WriteTimeout ahead instead, so a
	// reader that keeps reading is never cut and one that stops is.
	Streaming []string
	// OwnDeadlines lists the paths whose handlers set their own write
	// deadlines (the SSE stream): Bound only clears the one a previous
	// request on the connection left.
	OwnDeadlines []string
	// BodyMinRate is the slowest a request body may arrive, in bytes per
	// second after BodyGrace; default DefaultBodyMinRate.
	BodyMinRate int
	// BodyGrace is the time a body may take before BodyMinRate applies;
	// default DefaultBodyGrace.
	BodyGrace time.Duration
	// BodyTimeout bounds the reading of a whole body; default
	// DefaultBodyTimeout.
	BodyTimeout time.Duration
}

// Defaults of Bounds.
const (
	DefaultWriteTimeout = 30 * time.Second
	DefaultBodyMinRate  = 1024
	DefaultBodyGrace    = 5 * time.Second
	DefaultBodyTimeout  = 30 * time.Second
)

func (b *Bounds) defaults() {
	if b.WriteTimeout <= 0 {
		b.WriteTimeout = DefaultWriteTimeout
	}
	if b.BodyMinRate <= 0 {
		b.BodyMinRate = DefaultBodyMinRate
	}
	if b.BodyGrace <= 0 {
		b.BodyGrace = DefaultBodyGrace
	}
	if b.BodyTimeout <= 0 {
		b.BodyTimeout = DefaultBodyTimeout
	}
}

// Bounded is an http.Handler that applies Bounds to every request and
// counts the requests in flight (see Wait).
type Bounded struct {
	h    http.Handler
	b    Bounds
	mode map[string]writeMode

	mu       sync.Mutex
	inflight int
	idle     *sync.Cond
}

// Bound returns h behind the limits of b.
//
// A body is read under a read deadline that moves with the bytes
// received: the body may take BodyGrace plus one second per BodyMinRate
// bytes, and never more than BodyTimeout in all. A body cut this way is
// answered 408 request_timeout. The write deadline of an ordinary answer
// is set when its first byte is written; streaming paths move it at every
// write (http.ResponseController, so it works per request on a keep-alive
// connection).
func Bound(h http.Handler, b Bounds) *Bounded {
	b.defaults()
	bh := &Bounded{h: h, b: b, mode: map[string]writeMode{}}
	bh.idle = sync.NewCond(&bh.mu)
	for _, p := range b.Streaming {
		bh.mode[p] = eachWrite
	}
	for _, p := range b.OwnDeadlines {
		bh.mode[p] = handlerSets
	}
	return bh
}

// ServeHTTP serves r through the handler under the bounds.
func (bh *Bounded) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	bh.mu.Lock()
	bh.inflight++
	bh.mu.Unlock()
	defer func() {
		bh.mu.Lock()
		if bh.inflight--; bh.inflight == 0 {
			bh.idle.Broadcast()
		}
		bh.mu.Unlock()
	}()
	rc := http.NewResponseController(w)
	start := time.Now()
	if r.Body != nil && r.Body != http.NoBody && r.ContentLength != 0 {
		sb := &slowBody{ReadCloser: r.Body, rc: rc, b: &bh.b, start: start}
		// Also bounds a body the handler never reads, which net/http
		// discards after the answer (a 401 to a slow uploader).
		sb.setDeadline()
		r.Body = sb
	}
	bw := &boundWriter{ResponseWriter: w, rc: rc, d: bh.b.WriteTimeout, mode: bh.mode[r.URL.Path]}
	// A deadline left by the previous request on this connection must not
	// cut this one before it writes.
	_ = rc.SetWriteDeadline(time.Time{})
	bh.h.ServeHTTP(bw, r)
}

// Wait waits until no request is in flight, or until ctx is done.
func (bh *Bounded) Wait(ctx context.Context) error {
	done := make(chan struct{})
	go func() {
		bh.mu.Lock()
		for bh.inflight > 0 && ctx.Err() == nil {
			bh.idle.Wait()
		}
		bh.mu.Unlock()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		bh.mu.Lock()
		bh.idle.Broadcast() // let the waiter see ctx and return
		bh.mu.Unlock()
		return ctx.Err()
	}
}

// InFlight returns the number of requests being served.
func (bh *Bounded) InFlight() int {
	bh.mu.Lock()
	defer bh.mu.Unlock()
	return bh.inflight
}

// errBodyTooSlow answers a body cut by its read deadline.
func errBodyTooSlow(b *Bounds) error {
	return &auditerr.Error{Code: codeRequestTimeout, Index: -1,
		Message: "the request body arrived too slowly: it must come at " + strconv.Itoa(b.BodyMinRate) +
			" bytes/s or faster after " + b.BodyGrace.String() + ", and whole within " + b.BodyTimeout.String()}
}

// slowBody is a request body read under a moving read deadline.
type slowBody struct {
	io.ReadCloser
	rc    *http.ResponseController
	b     *Bounds
	start time.Time
	n     int64
	done  bool
}

// setDeadline moves the read deadline to where the bytes received so far
// allow: BodyGrace plus one second per BodyMinRate bytes after the start,
// and BodyTimeout at the latest.
func (s *slowBody) setDeadline() {
	d := s.start.Add(s.b.BodyGrace + time.Duration(s.n)*time.Second/time.Duration(s.b.BodyMinRate))
	if limit := s.start.Add(s.b.BodyTimeout); d.After(limit) {
		d = limit
	}
	_ = s.rc.SetReadDeadline(d) // a writer without deadlines (tests) has none
}

func (s *slowBody) Read(p []byte) (int, error) {
	if s.done {
		return s.ReadCloser.Read(p)
	}
	s.setDeadline()
	n, err := s.ReadCloser.Read(p)
	s.n += int64(n)
	switch {
	case err == nil:
	case errors.Is(err, os.ErrDeadlineExceeded):
		return n, errBodyTooSlow(s.b)
	case errors.Is(err, io.EOF):
		// The whole body is in. net/http now reads in the background to
		// notice a client hanging up; with a deadline left in place that
		// read would time out and cancel the request's context.
		s.done = true
		_ = s.rc.SetReadDeadline(time.Time{})
	}
	return n, err
}

// writeMode is how a path's answers get their write deadline.
type writeMode int

const (
	firstWrite  writeMode = iota // once, at the first byte
	eachWrite                    // moved at every write
	handlerSets                  // by the handler itself
)

// boundWriter sets the write deadline of an answer as its path's mode
// says.
type boundWriter struct {
	http.ResponseWriter
	rc   *http.ResponseController
	d    time.Duration
	mode writeMode
	set  bool
}

func (w *boundWriter) deadline() {
	if w.mode == eachWrite || w.mode == firstWrite && !w.set {
		w.set = true
		_ = w.rc.SetWriteDeadline(time.Now().Add(w.d))
	}
}

// WriteHeader starts the deadline and sends the header.
func (w *boundWriter) WriteHeader(code int) {
	w.deadline()
	w.ResponseWriter.WriteHeader(code)
}

// Write writes under the deadline.
func (w *boundWriter) Write(p []byte) (int, error) {
	w.deadline()
	return w.ResponseWriter.Write(p)
}

// FlushError flushes under the deadline (http.ResponseController finds it).
func (w *boundWriter) FlushError() error {
	w.deadline()
	return w.rc.Flush()
}

// Flush is http.Flusher, for code that asserts it.
func (w *boundWriter) Flush() { _ = w.FlushError() }

// Unwrap lets http.ResponseController reach the connection.
func (w *boundWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
