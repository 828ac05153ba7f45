package retention

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strconv"

	"github.com/labstack/echo/v4"

	"github.com/stigaudit/stigaudit/core/auditerr"
	"github.com/stigaudit/stigaudit/core/event"
	"github.com/stigaudit/stigaudit/core/jcs"
	"github.com/stigaudit/stigaudit/core/merkle"
	"github.com/stigaudit/stigaudit/core/uuid7"
	"github.com/stigaudit/stigaudit/hostfns"
	"github.com/stigaudit/stigaudit/server/api"
	"github.com/stigaudit/stigaudit/server/auth"
)

// EventRoute reads one event by id or seq.
const EventRoute = "/v1/audit/events/:id"

// Routes serves GET /v1/audit/events/{id}.
type Routes struct {
	// Store is read; it must implement hostfns.Getter.
	Store hostfns.Store
	// Purges, if set, tells when a purged event was purged
	// (sqlitestore.Store.Purging, pgstore.Store.Purging).
	Purges interface {
		PurgedAt(ctx context.Context, seq int64) (string, error)
	}
	// Keys authenticates requests.
	Keys *auth.Keys
	// Receipt, if set, serves GET /v1/audit/events/{id}/receipt: the
	// event's receipt (server/tlog.Receipts).
	Receipt func(ctx context.Context, e *event.Event) ([]byte, error)
}

// EventReceipt is GET /v1/audit/events/{id}/receipt: the event's C2SP
// tlog-proof, for the keys that may read the event.
func (r *Routes) EventReceipt(c echo.Context) error {
	e, err := r.visibleEvent(c)
	if err != nil {
		return err
	}
	b, err := r.Receipt(c.Request().Context(), &e)
	if err != nil {
		return err
	}
	return c.Blob(http.StatusOK, "text/plain; charset=utf-8", b)
}

// visibleEvent finds the event the request names, if its key may read it.
func (r *Routes) visibleEvent(c echo.Context) (event.Event, error) {
	p := api.PrincipalOf(c)
	tenant, err := tenantParam(c, p)
	if err != nil {
		return event.Event{}, err
	}
	id := c.Param("id")
	if c.Request().URL.RawPath != "" {
		u, err := url.PathUnescape(id)
		if err != nil {
			return event.Event{}, auditerr.Errorf(auditerr.ErrInvalidParameter, "id is not a valid path segment")
		}
		id = u
	}
	e, err := r.lookup(c.Request().Context(), tenant, id)
	if err != nil {
		return event.Event{}, err
	}
	if !visible(p, &e) {
		return event.Event{}, auditerr.Errorf(auditerr.ErrNotFound, "no event %s", id)
	}
	return e, nil
}

// Event is GET /v1/audit/events/{id}: the event, or 410 with what is
// left of it once retention purged it.
func (r *Routes) Event(c echo.Context) error {
	e, err := r.visibleEvent(c)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	if !IsPurged(&e) {
		return c.JSONBlob(http.StatusOK, event.AppendJSON(nil, &e))
	}
	var purgedAt string
	if r.Purges != nil {
		purgedAt, _ = r.Purges.PurgedAt(ctx, e.Seq) // unknown: the 410 says so without the time
	}
	return c.JSONBlob(http.StatusGone, appendGone(nil, &e, purgedAt))
}

// tenantParam returns the tenant whose ids the request names: the key's
// own, or for an admin key the one its only parameter, tenant_id, names.
// Ids are scoped to the tenant (docs/event-format.md#ids).
func tenantParam(c echo.Context, p auth.Principal) (string, error) {
	params := c.QueryParams()
	tenant := p.Tenant
	for name, vs := range params {
		if name != "tenant_id" {
			return "", auditerr.Errorf(auditerr.ErrInvalidParameter, "this route takes no parameter but tenant_id, not %q", name)
		}
		if len(vs) != 1 {
			return "", auditerr.Errorf(auditerr.ErrInvalidParameter, "tenant_id is given %d times", len(vs))
		}
		if vs[0] == "" {
			return "", auditerr.Errorf(auditerr.ErrInvalidParameter, "tenant_id %q is not a valid tenant", vs[0])
		}
		t, err := api.TenantParam(vs[0], p)
		if err != nil {
			return "", err
		}
		tenant = t
	}
	return tenant, nil
}

// lookup finds an event by seq, or by UUID within tenant (ids are scoped
// to the tenant; seqs are positions in the one log). Anything else is
// invalid_id.
func (r *Routes) lookup(ctx context.Context, tenant, id string) (event.Event, error) {
	if seq, err := strconv.ParseInt(id, 10, 64); err == nil && seq >= 0 {
		page, err := r.Store.Query(ctx, hostfns.Query{Order: hostfns.Ascending, After: seq - 1, Limit: 1})
		if err != nil {
			return event.Event{}, err
		}
		if len(page.Events) == 0 || page.Events[0].Seq != seq {
			return event.Event{}, auditerr.Errorf(auditerr.ErrNotFound, "no event with seq %d", seq)
		}
		return page.Events[0], nil
	}
	uuid, err := uuid7.Normalize(id)
	if err != nil {
		return event.Event{}, auditerr.Errorf(auditerr.ErrInvalidID, "%q is neither an event id (a UUID) nor a seq", clip(id))
	}
	g, ok := r.Store.(hostfns.Getter)
	if !ok {
		return event.Event{}, errors.New("retention: the store cannot look events up by id")
	}
	return g.Get(ctx, tenant, uuid)
}

// clip shortens what a client sent for an error message.
func clip(s string) string {
	if len(s) > 64 {
		return s[:64] + "..."
	}
	return s
}

// visible applies the list routes' scope: admin every event, audit.read
// its tenant, read its tenant and own entity_uri.
func visible(p auth.Principal, e *event.Event) bool {
	switch {
	case p.IsAdmin():
		return true
	case e.Tenant != p.Tenant:
		return false
	case p.Can(auth.PermAuditRead):
		return true
	}
	return e.EntityURI == p.EntityURI && e.EntityURI != ""
}

// appendGone renders the 410 answer for a purged event.
func appendGone(dst []byte, e *event.Event, purgedAt string) []byte {
	dst = append(dst, `{"error":{"code":`...)
	dst = jcs.AppendString(dst, string(auditerr.ErrPurged.Code))
	dst = append(dst, `,"message":`...)
	dst = jcs.AppendString(dst, "the event's content was purged by the retention policy; its leaf hash remains and still proves its place in the log")
	dst = append(dst, `},"event":{"seq":`...)
	dst = strconv.AppendInt(dst, e.Seq, 10)
	for _, f := range [...]struct{ name, v string }{
		{"id", e.ID}, {"event_type", e.Type}, {"ts", e.TS}, {"tenant_id", e.Tenant}, {"outcome", e.Outcome},
	} {
		dst = append(dst, `,"`...)
		dst = append(dst, f.name...)
		dst = append(dst, `":`...)
		dst = jcs.AppendString(dst, f.v)
	}
	dst = append(dst, `,"leaf_hash":"`...)
	dst = merkle.AppendHex(dst, e.LeafHash[:])
	dst = append(dst, '"')
	if purgedAt != "" {
		dst = append(dst, `,"purged_at":`...)
		dst = jcs.AppendString(dst, purgedAt)
	}
	return append(dst, "}}"...)
}
