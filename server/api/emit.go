package api

import (
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
	req, err := s.log.EmitRequest(c.Request().Context(), scopeOf(PrincipalOf(c)), body)
	if err != nil {
		return err
	}
	if req.Batch {
		return s.answerBatch(c, req, wait)
	}
	return s.answerOne(c, req.Results[0], req.Stored, wait)
}

// answerOne answers a single event: 201 with the stored event, 200 when it
// was skipped (an instruction event for a fact that is not one), 202 with
// the attempted event when the store could not commit a best-effort event
// (the Log logged and counted it; see the package doc).
func (s *Handlers) answerOne(c echo.Context, r stigaudit.Result, stored bool, wait string) error {
	switch {
	case r.Skipped:
		return c.JSONBlob(http.StatusOK, skippedJSON)
	case !stored:
		return c.JSONBlob(http.StatusAccepted, withStoredFalse(event.AppendJSON(nil, &r.Event)))
	case wait != "":
		return s.withReceipts(c, wait, []stigaudit.Result{r}, false)
	}
	return c.JSONBlob(http.StatusCreated, event.AppendJSON(nil, &r.Event))
}

// answerBatch answers a batch as answerOne answers one event.
func (s *Handlers) answerBatch(c echo.Context, req stigaudit.Request, wait string) error {
	res := req.Results
	if !req.Stored {
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
