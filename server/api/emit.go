package api

import (
	"errors"
	"io"
	"log/slog"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/stigaudit/stigaudit"
	"github.com/stigaudit/stigaudit/core/auditerr"
	"github.com/stigaudit/stigaudit/core/event"
	"github.com/stigaudit/stigaudit/server/auth"
)

var skippedJSON = []byte(`{"skipped":"not_instruction"}`)

// readBody reads at most limit bytes of the request body; more is a 413.
func readBody(r *http.Request, limit int64) ([]byte, error) {
	if r.ContentLength > limit {
		return nil, bodyTooLarge(limit)
	}
	b, err := io.ReadAll(io.LimitReader(r.Body, limit+1))
	if err != nil {
		if auditerr.CodeOf(err) != "" { // a body Bound cut
			return nil, err
		}
		return nil, auditerr.Errorf(auditerr.ErrInvalidInput, "reading the request body: %v", err)
	}
	if int64(len(b)) > limit {
		return nil, bodyTooLarge(limit)
	}
	return b, nil
}

// bodyTooLarge states the byte rule of an emit request.
func bodyTooLarge(limit int64) error {
	return auditerr.Errorf(auditerr.ErrTooLarge, "the request body is more than %d bytes, the most one emit request (one event or a whole batch) may carry", limit)
}

// scopeOf is what the key of p decides about the events it writes (see
// the package doc): its tenant, unless it is an admin's, and its entity as
// the emitter.
func scopeOf(p auth.Principal) event.Scope {
	return event.Scope{Tenant: p.Tenant, AnyTenant: p.IsAdmin(), Emitter: p.EntityURI, OIDCSub: p.OIDCSub}
}

// postEvents is POST /v1/audit/events.
func (s *server) postEvents(c echo.Context) error {
	wait, err := s.waitParam(c)
	if err != nil {
		return err
	}
	body, err := readBody(c.Request(), s.limit)
	if err != nil {
		return err
	}
	ds, batch, err := event.ParseEmitRequest(body, s.log.Limits())
	if err != nil {
		return err
	}
	scope := scopeOf(PrincipalOf(c))
	for i := range ds {
		if err := scope.Apply(&ds[i]); err != nil {
			switch {
			case !batch:
				return err
			case errors.Is(err, auditerr.ErrForbidden):
				return auditerr.Errorf(auditerr.ErrForbidden, "event %d: %v", i, err)
			default:
				return &auditerr.BatchError{Items: []*auditerr.Error{auditerr.AtIndex(err, i)}}
			}
		}
	}
	if batch {
		return s.emitBatch(c, ds, wait)
	}
	return s.emitOne(c, ds[0], wait)
}

func (s *server) emitOne(c echo.Context, d event.Draft, wait string) error {
	ctx := c.Request().Context()
	ev, err := s.log.Emit(ctx, d)
	switch {
	case err == nil && wait != "":
		return s.withReceipts(c, wait, []stigaudit.Result{{Event: ev}}, false)
	case err == nil:
		return c.JSONBlob(http.StatusCreated, event.AppendJSON(nil, &ev))
	case errors.Is(err, auditerr.ErrNotInstruction):
		return c.JSONBlob(http.StatusOK, skippedJSON)
	case !s.bestEffort(err, d):
		return err
	}
	built, berr := s.log.Build(d)
	if berr != nil {
		return err
	}
	s.swallowed(c, err, d)
	return c.JSONBlob(http.StatusAccepted, withStoredFalse(event.AppendJSON(nil, &built)))
}

func (s *server) emitBatch(c echo.Context, ds []event.Draft, wait string) error {
	ctx := c.Request().Context()
	res, err := s.log.EmitBatch(ctx, ds)
	if err != nil {
		if !s.bestEffort(err, ds...) {
			return err
		}
		res = make([]stigaudit.Result, len(ds))
		for i := range ds {
			ev, berr := s.log.Build(ds[i])
			switch {
			case errors.Is(berr, auditerr.ErrNotInstruction):
				res[i].Skipped = true
			case berr != nil:
				return err
			default:
				res[i].Event = ev
			}
		}
		for i := range ds {
			if !res[i].Skipped {
				s.swallowed(c, err, ds[i])
			}
		}
		return c.JSONBlob(http.StatusAccepted, withStoredFalse(appendResults(nil, res)))
	}
	status := http.StatusOK // every item skipped: nothing was created
	for i := range res {
		if !res[i].Skipped {
			status = http.StatusCreated
			break
		}
	}
	if wait != "" && status == http.StatusCreated {
		return s.withReceipts(c, wait, res, true)
	}
	return c.JSONBlob(status, appendResults(nil, res))
}

// appendResults renders {"events":[...]} with skipped items in place.
func appendResults(b []byte, res []stigaudit.Result) []byte {
	b = append(b, `{"events":[`...)
	for i := range res {
		if i > 0 {
			b = append(b, ',')
		}
		if res[i].Skipped {
			b = append(b, skippedJSON...)
		} else {
			b = event.AppendJSON(b, &res[i].Event)
		}
	}
	return append(b, "]}"...)
}

// withStoredFalse adds "stored":false to a rendered JSON object.
func withStoredFalse(obj []byte) []byte {
	return append(obj[:len(obj)-1], `,"stored":false}`...)
}

// bestEffort reports whether a failed emit of ds may be swallowed: the store
// could not commit and no draft is of a critical type (critical types fail
// closed, SPEC §3).
func (s *server) bestEffort(err error, ds ...event.Draft) bool {
	if !errors.Is(err, auditerr.ErrStoreUnavailable) {
		return false
	}
	cat := s.log.Catalogue()
	for i := range ds {
		t, ok := cat.Lookup(ds[i].Type)
		if !ok || t.Critical() {
			return false
		}
	}
	return true
}

// swallowed logs and counts a best-effort event that was not stored.
func (s *server) swallowed(c echo.Context, err error, d event.Draft) {
	s.logger.LogAttrs(c.Request().Context(), slog.LevelError, "audit emit failed (best effort)",
		slog.String("event_type", d.Type), slog.String("tenant", d.Tenant),
		slog.String("entity_uri", d.EntityURI), slog.String("error", err.Error()))
	if s.metrics != nil {
		s.metrics.BestEffortFailed(d.Type, d.Tenant, err)
	}
}
