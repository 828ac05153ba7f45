package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/stigaudit/stigaudit/core/auditerr"
	"github.com/stigaudit/stigaudit/core/catalog"
	"github.com/stigaudit/stigaudit/core/event"
	"github.com/stigaudit/stigaudit/hostfns"
	"github.com/stigaudit/stigaudit/server/auth"
	"github.com/stigaudit/stigaudit/server/redact"
)

// DefaultLimit is the page size when a read names none.
const DefaultLimit = 100

// tsLayout is the fixed-width form of event.TS.
const tsLayout = "2006-01-02T15:04:05.000000Z"

// ListEvents is GET /v1/audit: newest first.
func (s *Handlers) ListEvents(c echo.Context) error {
	return s.list(c, "/v1/audit", hostfns.Descending, "")
}

// FactTrail is GET /v1/audit/facts/:fact_id: one target's trail, oldest
// first.
func (s *Handlers) FactTrail(c echo.Context) error {
	id := c.Param("fact_id")
	if c.Request().URL.RawPath != "" { // echo matched on the escaped path
		u, err := url.PathUnescape(id)
		if err != nil {
			return auditerr.Errorf(auditerr.ErrInvalidParameter, "fact_id is not a valid path segment")
		}
		id = u
	}
	if id == "" {
		return auditerr.Errorf(auditerr.ErrInvalidParameter, "fact_id is empty")
	}
	return s.list(c, "/v1/audit/facts", hostfns.Ascending, id)
}

// AdminList is GET /v1/admin/audit: oldest first by seq.
func (s *Handlers) AdminList(c echo.Context) error {
	return s.list(c, "/v1/admin/audit", hostfns.Ascending, "")
}

func (s *Handlers) list(c echo.Context, route string, order hostfns.Order, factID string) error {
	vals := c.QueryParams()
	withProof, err := s.proofParam(vals)
	if err != nil {
		return err
	}
	// The redact parameter is the policy's, not a filter: without a policy
	// it is refused as unknown, like any parameter no route takes.
	asked := url.Values{}
	if vs, ok := vals[redact.Param]; ok && s.redaction != nil {
		asked[redact.Param] = vs
		delete(vals, redact.Param)
	}
	p := PrincipalOf(c)
	q, err := parseQuery(s.log.Catalogue(), vals, p, route, order, factID)
	if err != nil {
		return err
	}
	var r *redact.Redactor
	if s.redaction != nil {
		for k, vs := range vals {
			asked[k] = vs // the filters: a forced principal may not filter on a redacted field
		}
		if r, err = s.redaction.ForRequest(p, asked); err != nil {
			return err
		}
	}
	page, err := s.log.Query(c.Request().Context(), q)
	if err != nil {
		return err
	}
	b := append(make([]byte, 0, 512*len(page.Events)+64), `{"events":[`...)
	var proofSize uint64 // every proof of a page is against one tree size
	for i := range page.Events {
		if i > 0 {
			b = append(b, ',')
		}
		e := &page.Events[i]
		if r != nil {
			// Redacted while encoding; a proof is of the stored leaf,
			// which redaction keeps.
			if err := r.Apply(e); err != nil {
				return fmt.Errorf("redact: event seq %d: %w", e.Seq, err)
			}
		}
		if !withProof {
			b = event.AppendJSON(b, e)
			continue
		}
		if b, err = s.appendWithProof(c.Request().Context(), b, e, &proofSize); err != nil {
			return err
		}
	}
	b = append(b, `],"next_cursor":`...)
	if page.HasMore && len(page.Events) > 0 {
		last := page.Events[len(page.Events)-1].Seq
		b = appendString(b, encodeCursor(order, last, filterHash(route, &q)))
	} else {
		b = append(b, "null"...)
	}
	b = append(b, `,"has_more":`...)
	b = strconv.AppendBool(b, page.HasMore && len(page.Events) > 0)
	b = append(b, '}')
	return c.JSONBlob(http.StatusOK, b)
}

// proofParam reads ?proof= (a bool) and removes it from vals, so it is not
// a filter: cursors stay valid with or without proofs.
func (s *Handlers) proofParam(vals url.Values) (bool, error) {
	vs, ok := vals["proof"]
	if !ok {
		return false, nil
	}
	delete(vals, "proof")
	if len(vs) != 1 {
		return false, invalidParam("parameter %q is repeated", "proof")
	}
	on, err := strconv.ParseBool(vs[0])
	if err != nil {
		return false, invalidParam("proof must be true or false (or 1 or 0), not %q", vs[0])
	}
	if on && s.prover == nil {
		return false, invalidParam("this server does not serve proofs")
	}
	return on, nil
}

// appendWithProof appends e's API form with a "proof" member: its
// inclusion proof against the latest signed checkpoint, or null when the
// event is newer than that checkpoint. *size fixes the tree size for the
// rest of the page once a proof has been made.
func (s *Handlers) appendWithProof(ctx context.Context, b []byte, e *event.Event, size *uint64) ([]byte, error) {
	j := event.AppendJSON(nil, e)
	b = append(b, j[:len(j)-1]...) // drop the closing brace
	b = append(b, `,"proof":`...)
	pr, err := s.prover.Inclusion(ctx, uint64(e.Seq), *size)
	switch {
	case err == nil:
		*size = pr.TreeSize
		b = pr.AppendJSON(b)
	case errors.Is(err, auditerr.ErrNotFound):
		b = append(b, "null"...)
	default:
		return nil, err
	}
	return append(b, '}'), nil
}

// params lists the query parameters of the read routes; event_type alone
// may repeat.
var params = map[string]bool{
	"event_type": true, "entity_uri": true, "oidc_sub": true, "source": true,
	"fact_id": true, "attested": true, "outcome": true, "scope": true,
	"since": true, "until": true, "limit": true, "cursor": true, "tenant_id": true,
}

func invalidParam(format string, args ...any) error {
	return auditerr.Errorf(auditerr.ErrInvalidParameter, format, args...)
}

// parseQuery turns the URL query into a store query scoped to what p may
// see. Every parameter is checked; none is ignored.
func parseQuery(cat *catalog.Catalogue, vals url.Values, p auth.Principal, route string, order hostfns.Order, factID string) (hostfns.Query, error) {
	q := hostfns.Query{Order: order, After: -1, Limit: DefaultLimit, FactID: factID}
	var cursor string
	for name, vs := range vals {
		if !params[name] || name == "fact_id" && factID != "" {
			return q, invalidParam("unknown parameter %q", name)
		}
		if len(vs) > 1 && name != "event_type" {
			return q, invalidParam("parameter %q is repeated", name)
		}
		for _, v := range vs {
			if v == "" && name != "source" {
				return q, invalidParam("parameter %q is empty", name)
			}
		}
		v := vs[0]
		var err error
		switch name {
		case "event_type":
			for _, t := range vs {
				if _, ok := cat.Lookup(t); !ok {
					return q, auditerr.Errorf(auditerr.ErrUnknownEventType, "event_type %q is not in the catalogue", t)
				}
			}
			q.Types = vs
		case "entity_uri":
			q.EntityURI = v
		case "oidc_sub":
			q.OIDCSub = v
		case "source":
			q.Source = &v
		case "fact_id":
			q.FactID = v
		case "scope":
			q.Scope = v
		case "outcome":
			if v != event.OutcomeSuccess && v != event.OutcomeFailure && v != event.OutcomeDenied {
				return q, invalidParam("outcome must be success, failure or denied, not %q", v)
			}
			q.Outcome = v
		case "attested":
			b, err := strconv.ParseBool(v)
			if err != nil {
				return q, invalidParam("attested must be true or false, not %q", v)
			}
			q.Attested = &b
		case "since":
			q.Since, err = parseTime(name, v)
		case "until":
			q.Until, err = parseTime(name, v)
		case "limit":
			n, perr := strconv.Atoi(v)
			if perr != nil || n < 1 || n > hostfns.MaxQueryLimit {
				return q, invalidParam("limit must be an integer from 1 to %d, not %q", hostfns.MaxQueryLimit, v)
			}
			q.Limit = n
		case "cursor":
			cursor = v
		case "tenant_id":
			if q.Tenant, err = TenantParam(v, p); err != nil {
				return q, err
			}
		}
		if err != nil {
			return q, err
		}
	}

	// Scope: admin sees every tenant unless it named one; others their own
	// tenant, and read-only keys their own entity_uri.
	if !p.IsAdmin() {
		q.Tenant = p.Tenant
	}
	if !p.Can(auth.PermAuditRead) {
		if q.EntityURI != "" && q.EntityURI != p.EntityURI {
			return q, auditerr.Errorf(auditerr.ErrForbidden, "a read key sees only events whose entity_uri is its own (%q)", p.EntityURI)
		}
		q.EntityURI = p.EntityURI
	}

	if cursor != "" {
		after, err := decodeCursor(cursor, order, filterHash(route, &q))
		if err != nil {
			return q, err
		}
		q.After = after
	}
	if err := q.Check(); err != nil {
		return q, err
	}
	return q, nil
}

// TenantParam reads a tenant_id parameter for p: a valid tenant, which
// only an admin key may name when it is not the key's own (403 otherwise).
func TenantParam(v string, p auth.Principal) (string, error) {
	t, err := event.NormalizeTenant(v)
	if err != nil {
		return "", invalidParam("tenant_id %q is not a valid tenant", v)
	}
	if !p.IsAdmin() && t != p.Tenant {
		return "", auditerr.Errorf(auditerr.ErrForbidden, "this key may only read tenant %q", p.Tenant)
	}
	return t, nil
}

// parseTime reads an RFC 3339 time with any offset and returns the smallest
// fixed-width UTC ts t such that, for every stored ts e (which has
// microsecond precision), e ≥ t exactly when the instant of e is at or
// after the parameter's. Sub-microsecond parameters are therefore rounded
// up: that keeps since inclusive and until exclusive at every precision.
func parseTime(name, v string) (string, error) {
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return "", invalidParam("%s must be an RFC 3339 time such as 2026-05-03T12:00:00Z, not %q", name, v)
	}
	t = t.UTC()
	if tr := t.Truncate(time.Microsecond); !tr.Equal(t) {
		t = tr.Add(time.Microsecond)
	}
	if t.Year() < 0 || t.Year() > 9999 {
		return "", invalidParam("%s %q is outside years 0000-9999 in UTC", name, v)
	}
	return t.Format(tsLayout), nil
}
