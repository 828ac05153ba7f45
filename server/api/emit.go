package api

import (
	"errors"
	"io"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/stigaudit/stigaudit"
	"github.com/stigaudit/stigaudit/core/auditerr"
	"github.com/stigaudit/stigaudit/core/event"
	"github.com/stigaudit/stigaudit/server/auth"
)

var skippedJSON = []byte(`{"skipped":"not_instruction"}`)

// readBody reads the request body, at most lim.MaxRequestBytes of it;
// more is lim.RequestTooLarge (413 too_large), the answer ParseEmitRequest
// gives a body it is handed whole.
func readBody(r *http.Request, lim event.Limits) ([]byte, error) {
	limit := int64(lim.MaxRequestBytes)
	if r.ContentLength > limit {
		return nil, lim.RequestTooLarge()
	}
	b, err := io.ReadAll(io.LimitReader(r.Body, limit+1))
	if err != nil {
		if auditerr.CodeOf(err) != "" { // a body Bound cut
			return nil, err
		}
		return nil, auditerr.Errorf(auditerr.ErrInvalidInput, "reading the request body: %v", err)
	}
	if int64(len(b)) > limit {
		return nil, lim.RequestTooLarge()
	}
	return b, nil
}

// scopeOf is what the key of p decides about the events it writes (see
// the package doc): its tenant, unless it is an admin's, and its entity as
// the emitter.
func scopeOf(p auth.Principal) event.Scope {
	return event.Scope{Tenant: p.Tenant, AnyTenant: p.IsAdmin(), Emitter: p.EntityURI, OIDCSub: p.OIDCSub}
}

// PostEvents is POST /v1/audit/events.
func (s *Handlers) PostEvents(c echo.Context) error {
	wait, err := s.waitParam(c)
	if err != nil {
		return err
	}
	lim := s.log.Limits()
	body, err := readBody(c.Request(), lim)
	if err != nil {
		return err
	}
	ds, batch, err := event.ParseEmitRequest(body, lim)
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

// emitOne emits d. A best-effort event the store could not commit is
// answered 202 with the event that was attempted (the Log logged and
// counted it); see the package doc.
func (s *Handlers) emitOne(c echo.Context, d event.Draft, wait string) error {
	ev, stored, err := s.log.EmitBestEffort(c.Request().Context(), d)
	switch {
	case errors.Is(err, auditerr.ErrNotInstruction):
		return c.JSONBlob(http.StatusOK, skippedJSON)
	case err != nil:
		return err
	case !stored:
		return c.JSONBlob(http.StatusAccepted, withStoredFalse(event.AppendJSON(nil, &ev)))
	case wait != "":
		return s.withReceipts(c, wait, []stigaudit.Result{{Event: ev}}, false)
	}
	return c.JSONBlob(http.StatusCreated, event.AppendJSON(nil, &ev))
}

// emitBatch emits ds atomically, answering as emitOne does.
func (s *Handlers) emitBatch(c echo.Context, ds []event.Draft, wait string) error {
	res, stored, err := s.log.EmitBatchBestEffort(c.Request().Context(), ds)
	switch {
	case err != nil:
		return err
	case !stored:
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
