package stream

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/stigaudit/stigaudit"
	"github.com/stigaudit/stigaudit/core/auditerr"
	"github.com/stigaudit/stigaudit/core/event"
	"github.com/stigaudit/stigaudit/core/jcs"
	"github.com/stigaudit/stigaudit/hostfns"
	"github.com/stigaudit/stigaudit/server/api"
	"github.com/stigaudit/stigaudit/server/auth"
	"github.com/stigaudit/stigaudit/server/redact"
)

// Route is the stream route.
const Route = "/v1/audit/stream"

// Defaults of Config.
const (
	DefaultHeartbeat    = 15 * time.Second
	DefaultWriteTimeout = 10 * time.Second
)

// Config configures New.
type Config struct {
	// Log is read to catch up.
	Log *stigaudit.Log
	// Keys authenticates requests.
	Keys *auth.Keys
	// Hub delivers live commits; it must be the Log's Observer (or be fed
	// by it through Tee).
	Hub *Hub
	// Policy decides redaction; nil refuses redact=hmac.
	Policy *redact.Policy
	// Heartbeat is the interval of heartbeat comments; default
	// DefaultHeartbeat.
	Heartbeat time.Duration
	// WriteTimeout bounds each write to a client; default
	// DefaultWriteTimeout.
	WriteTimeout time.Duration
	// Logger receives stream failures; default slog.Default().
	Logger *slog.Logger
}

// Handler serves the live stream.
type Handler struct{ cfg Config }

// New returns the handler of GET /v1/audit/stream; mount it behind
// api.Authenticate and api.Require(audit.read).
func New(cfg Config) *Handler {
	if cfg.Heartbeat <= 0 {
		cfg.Heartbeat = DefaultHeartbeat
	}
	if cfg.WriteTimeout <= 0 {
		cfg.WriteTimeout = DefaultWriteTimeout
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &Handler{cfg: cfg}
}

// request is a parsed stream request.
type request struct {
	q        hostfns.Query
	after    int64 // the stream starts after this seq; -2: at the end of the log
	redactor *redact.Redactor
}

func (h *Handler) parse(c echo.Context) (request, error) {
	r := request{after: -2}
	vals := c.QueryParams()
	filters := url.Values{}
	for name, vs := range vals {
		switch name {
		case "from":
			n, err := strconv.ParseInt(vs[0], 10, 64)
			if len(vs) != 1 || err != nil || n < 0 {
				return r, auditerr.Errorf(auditerr.ErrInvalidParameter, "from must be a seq (a non-negative integer)")
			}
			r.after = n - 1
		case redact.Param:
		case "limit", "cursor":
			return r, auditerr.Errorf(auditerr.ErrInvalidParameter, "a stream takes no %s: it starts at from, or after Last-Event-ID", name)
		default:
			filters[name] = vs
		}
	}
	if id := c.Request().Header.Get("Last-Event-ID"); id != "" {
		n, err := strconv.ParseInt(id, 10, 64)
		if err != nil || n < 0 {
			return r, auditerr.Errorf(auditerr.ErrInvalidParameter, "Last-Event-ID must be a seq this stream sent")
		}
		r.after = n
	}
	var err error
	if r.redactor, err = h.cfg.Policy.ForRequest(api.PrincipalOf(c), vals); err != nil {
		return r, err
	}
	if r.q, err = api.ParseFilters(h.cfg.Log, filters, api.PrincipalOf(c), Route, hostfns.Ascending); err != nil {
		return r, err
	}
	r.q.Limit = hostfns.MaxQueryLimit
	return r, nil
}

// Stream is GET /v1/audit/stream.
func (h *Handler) Stream(c echo.Context) error {
	r, err := h.parse(c)
	if err != nil {
		return err
	}
	p := api.PrincipalOf(c)
	release, err := h.cfg.Hub.Admit(p.KeyID, p.Tenant)
	if err != nil {
		return err
	}
	defer release()
	reqCtx := c.Request().Context()
	// The stream ends when its key is revoked or expires.
	ctx, stopWatch := h.cfg.Keys.WatchContext(reqCtx, p)
	defer stopWatch()
	if r.after == -2 {
		size, err := h.cfg.Log.Store().Size(ctx)
		if err != nil {
			return err
		}
		r.after = size - 1
	}
	resp := c.Response()
	hd := resp.Header()
	hd.Set(echo.HeaderContentType, "text/event-stream")
	hd.Set("Cache-Control", "no-cache")
	hd.Set("X-Accel-Buffering", "no") // nginx: do not buffer the stream
	resp.WriteHeader(http.StatusOK)

	w := &writer{rc: http.NewResponseController(resp), resp: resp, timeout: h.cfg.WriteTimeout, redactor: r.redactor}
	w.buf = append(w.buf, "retry: 2000\n: stigaudit stream after seq "...)
	w.buf = strconv.AppendInt(w.buf, r.after, 10)
	w.buf = append(w.buf, "\n\n"...)
	if err := w.flush(); err != nil {
		return nil
	}
	// A write blocked on a client that does not read must not outlive the
	// key by more than a moment; a reading client still gets the final
	// event (flush sets a new deadline).
	defer context.AfterFunc(ctx, func() {
		if reqCtx.Err() == nil {
			_ = w.rc.SetWriteDeadline(time.Now().Add(keyEndGrace))
		}
	})()
	code, err := h.follow(ctx, &r, w)
	keyEnded := false
	if cause := context.Cause(ctx); errors.Is(cause, auth.ErrKeyRevoked) || errors.Is(cause, auth.ErrKeyExpired) {
		code, err, keyEnded = codeOf(cause), cause, true
	}
	switch {
	case keyEnded:
		h.cfg.Logger.LogAttrs(reqCtx, slog.LevelInfo, "a stream ended with its key",
			slog.String("key_id", p.KeyID), slog.String("code", code), slog.Int64("after_seq", r.after))
	case reqCtx.Err() != nil || code == ReasonClosed:
	case code == ReasonSlow:
		h.cfg.Logger.LogAttrs(reqCtx, slog.LevelInfo, "a slow stream reader was cut off",
			slog.String("key_id", p.KeyID), slog.Int64("after_seq", r.after))
	case err != nil:
		h.cfg.Logger.LogAttrs(reqCtx, slog.LevelWarn, "stream ended", slog.String("code", code), slog.String("error", err.Error()))
	}
	if code != "" && reqCtx.Err() == nil {
		w.final(code, err, r.after)
	}
	return nil
}

// follow sends the stream until it must end, returning the code of the
// final error event ("" for none) and its cause.
func (h *Handler) follow(ctx context.Context, r *request, w *writer) (string, error) {
	for attempt := 0; ; attempt++ {
		if err := h.catchUp(ctx, r, w); err != nil {
			return codeOf(err), err
		}
		sub, err := h.cfg.Hub.Subscribe()
		if err != nil {
			return codeOf(err), err
		}
		defer sub.Close()
		// Whatever committed before the subscription is in the store now.
		if err := h.catchUp(ctx, r, w); err != nil {
			return codeOf(err), err
		}
		select {
		case <-sub.Done():
			// Fell behind while catching up: try again from the store.
			if sub.Reason() == ReasonSlow && attempt < 3 {
				sub.Close()
				continue
			}
			return sub.Reason(), errors.New("the subscription ended while catching up")
		default:
		}
		return h.live(ctx, r, w, sub)
	}
}

// catchUp sends what the store holds after r.after, page by page.
func (h *Handler) catchUp(ctx context.Context, r *request, w *writer) error {
	for {
		q := r.q
		q.After = r.after
		page, err := h.cfg.Log.Query(ctx, q)
		if err != nil {
			return err
		}
		for i := range page.Events {
			w.event(&page.Events[i])
			r.after = page.Events[i].Seq
		}
		if len(page.Events) > 0 {
			if err := w.flush(); err != nil {
				return err
			}
		}
		if !page.HasMore || len(page.Events) == 0 {
			return nil
		}
	}
}

// live follows the subscription.
func (h *Handler) live(ctx context.Context, r *request, w *writer, sub *Subscription) (string, error) {
	beat := time.NewTicker(h.cfg.Heartbeat)
	defer beat.Stop()
	for {
		select {
		case <-ctx.Done():
			return "", ctx.Err()
		case <-sub.Done():
			return sub.Reason(), errors.New(sub.Reason())
		case batch := <-sub.C():
			h.take(r, w, sub, batch)
			// Take what else is queued before writing: one write for
			// several commits when the log is busy.
		more:
			for len(w.buf) < maxCoalesce {
				select {
				case batch := <-sub.C():
					h.take(r, w, sub, batch)
				default:
					break more
				}
			}
			if ctx.Err() != nil {
				return "", ctx.Err()
			}
			if len(w.buf) > 0 {
				if err := w.flush(); err != nil {
					return "", err
				}
			}
		case <-beat.C:
			w.buf = append(w.buf, ": heartbeat\n\n"...)
			if err := w.flush(); err != nil {
				return "", err
			}
		}
	}
}

// keyEndGrace is how long a write already under way may still take when
// the stream's key ends.
const keyEndGrace = 500 * time.Millisecond

// maxCoalesce bounds the bytes gathered from queued batches before a
// write.
const maxCoalesce = 256 << 10

// take encodes the events of batch that r selects and have not been sent.
func (h *Handler) take(r *request, w *writer, sub *Subscription, batch []event.Event) {
	for i := range batch {
		e := &batch[i]
		if e.Seq <= r.after {
			continue
		}
		if Match(&r.q, e) {
			w.event(e)
		}
		r.after = e.Seq
	}
	sub.Took(len(batch))
}

// codeOf names an error for the final event.
func codeOf(err error) string {
	if c := auditerr.CodeOf(err); c != "" {
		return string(c)
	}
	return string(auditerr.ErrStoreUnavailable.Code)
}

// writer encodes events as SSE and writes them with a deadline.
type writer struct {
	rc       *http.ResponseController
	resp     *echo.Response
	timeout  time.Duration
	redactor *redact.Redactor
	buf      []byte
	ev       event.Event
}

// event appends one event to the buffer.
func (w *writer) event(e *event.Event) {
	if w.redactor != nil {
		w.ev = *e
		if err := w.redactor.Apply(&w.ev); err != nil {
			return // never sent in the clear
		}
		e = &w.ev
	}
	w.buf = append(w.buf, "id: "...)
	w.buf = strconv.AppendInt(w.buf, e.Seq, 10)
	w.buf = append(w.buf, "\ndata: "...)
	w.buf = event.AppendJSON(w.buf, e)
	w.buf = append(w.buf, "\n\n"...)
}

// flush writes the buffer and flushes it to the client.
func (w *writer) flush() error {
	_ = w.rc.SetWriteDeadline(time.Now().Add(w.timeout)) // unsupported writers have none
	_, err := w.resp.Write(w.buf)
	w.buf = w.buf[:0]
	if err != nil {
		return err
	}
	return w.rc.Flush()
}

// final sends the closing error event.
func (w *writer) final(code string, cause error, after int64) {
	msg := "the stream ended"
	switch code {
	case ReasonSlow:
		msg = "the reader fell too far behind and was cut off; reconnect with Last-Event-ID to resume from the store"
	case ReasonClosed:
		msg = "the server is shutting down; reconnect with Last-Event-ID to resume"
	case string(auth.ErrKeyRevoked.Code), string(auth.ErrKeyExpired.Code):
		msg = cause.Error() + "; the stream ends here"
	default:
		if cause != nil {
			msg = "the stream failed (" + code + "); reconnect with Last-Event-ID to resume"
		}
	}
	w.buf = append(w.buf[:0], "event: error\ndata: {\"code\":"...)
	w.buf = jcs.AppendString(w.buf, code)
	w.buf = append(w.buf, `,"message":`...)
	w.buf = jcs.AppendString(w.buf, msg)
	if after >= 0 {
		w.buf = append(w.buf, `,"last_event_id":`...)
		w.buf = jcs.AppendString(w.buf, strconv.FormatInt(after, 10))
	}
	w.buf = append(w.buf, "}\n\n"...)
	_ = w.flush()
}
