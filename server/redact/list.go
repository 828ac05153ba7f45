package redact

import (
	"bytes"
	"fmt"
	"net/http"
	"slices"

	"github.com/labstack/echo/v4"

	"github.com/stigaudit/stigaudit/core/event"
	"github.com/stigaudit/stigaudit/core/jcs"
	"github.com/stigaudit/stigaudit/server/api"
)

// listRoutes are the list routes of package api whose answers
// ListMiddleware redacts.
var listRoutes = [...]string{"/v1/audit", "/v1/audit/facts/:fact_id", "/v1/admin/audit"}

// ListMiddleware returns echo middleware, to install with e.Use on the
// API's echo instance, that applies pol to the list answers of package api
// (GET /v1/audit, /v1/audit/facts/{fact_id}, /v1/admin/audit). It accepts
// the redact parameter there, hiding it from the list handler (which
// refuses unknown parameters), and when the principal asks for redaction
// or is always redacted it rewrites each event of the answer through a
// Redactor, and refuses a forced principal's filter on a redacted field.
//
// Answers of these routes are buffered to do so (a page is at most 1000
// events). An answer it cannot re-read fails the request with a 500:
// nothing passes in the clear by accident.
//
// It stands in for a hook inside package api's list handler, which could
// redact while encoding instead of re-reading its answer.
func ListMiddleware(pol *Policy) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			if !slices.Contains(listRoutes[:], c.Path()) {
				return next(c)
			}
			req := c.Request()
			vals := req.URL.Query()
			_, asked := vals[Param]
			if !asked && !pol.forcesAny() {
				return next(c) // nobody is redacted here: no need to hold the answer
			}
			if asked {
				rest := req.URL.Query()
				delete(rest, Param)
				req.URL.RawQuery = rest.Encode()
			}
			resp := c.Response()
			real := resp.Writer
			rec := &recorder{header: real.Header(), status: http.StatusOK}
			resp.Writer = rec
			err := next(c)
			resp.Writer, resp.Committed, resp.Status, resp.Size = real, false, http.StatusOK, 0
			if err != nil {
				return err
			}
			r, err := pol.ForRequest(api.PrincipalOf(c), vals)
			if err != nil {
				return err
			}
			body := rec.body.Bytes()
			if r != nil && rec.status == http.StatusOK {
				if body, err = RedactList(r, body); err != nil {
					return err
				}
			}
			resp.WriteHeader(rec.status)
			_, err = resp.Write(body)
			return err
		}
	}
}

// recorder holds an answer back: headers go through, status and body wait.
type recorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (w *recorder) Header() http.Header         { return w.header }
func (w *recorder) WriteHeader(status int)      { w.status = status }
func (w *recorder) Write(b []byte) (int, error) { return w.body.Write(b) }

// RedactList rewrites a list answer {"events":[...],"next_cursor":..,
// "has_more":..} with every event redacted by r; other members are kept
// as they are.
func RedactList(r *Redactor, body []byte) ([]byte, error) {
	out := make([]byte, 0, len(body)+len(body)/4)
	out = append(out, '{')
	it := jcs.Members(body)
	first := true
	for it.Next() {
		m := it.Member()
		if !first {
			out = append(out, ',')
		}
		first = false
		out = append(out, '"')
		out = append(out, m.Key...)
		out = append(out, '"', ':')
		if !m.NameIs("events") {
			out = append(out, m.Value...)
			continue
		}
		out = append(out, '[')
		els := jcs.Elements(m.Value)
		n := 0
		for els.Next() {
			text, proof := cutProof(els.Member().Value)
			e, err := event.ParseEvent(text)
			if err != nil {
				return nil, fmt.Errorf("redact: re-read event %d of a list answer: %w", n, err)
			}
			if err := r.Apply(&e); err != nil {
				return nil, fmt.Errorf("redact: event seq %d: %w", e.Seq, err)
			}
			if n > 0 {
				out = append(out, ',')
			}
			out = event.AppendJSON(out, &e)
			if proof != nil {
				// The proof is of the stored event's leaf, which redaction
				// keeps: it goes back as it was.
				out = append(out[:len(out)-1], `,"proof":`...)
				out = append(out, proof...)
				out = append(out, '}')
			}
			n++
		}
		if err := els.Err(); err != nil {
			return nil, fmt.Errorf("redact: re-read a list answer: %w", err)
		}
		out = append(out, ']')
	}
	if err := it.Err(); err != nil {
		return nil, fmt.Errorf("redact: re-read a list answer: %w", err)
	}
	return append(out, '}'), nil
}

// cutProof returns the event object obj without its "proof" member (which
// ?proof=1 adds to list answers), and that member's value, or nil.
func cutProof(obj []byte) (rest, proof []byte) {
	it := jcs.Members(obj)
	for it.Next() {
		m := it.Member()
		if !m.NameIs("proof") {
			continue
		}
		// m.Key and m.Value are views into obj: their offsets follow from
		// the capacities.
		start := cap(obj) - cap(m.Key) - 1 // the opening quote of the name
		end := cap(obj) - cap(m.Value) + len(m.Value)
		if obj[end] == ',' {
			end++
		} else if obj[start-1] == ',' {
			start--
		}
		out := make([]byte, 0, len(obj)-(end-start))
		out = append(append(out, obj[:start]...), obj[end:]...)
		return out, m.Value
	}
	return obj, nil
}
