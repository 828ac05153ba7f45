package exportapi

import (
	"context"
	"errors"
	"strconv"
	"unicode/utf8"

	"github.com/stigaudit/stigaudit/core/auditerr"
	"github.com/stigaudit/stigaudit/core/event"
	"github.com/stigaudit/stigaudit/core/jcs"
	"github.com/stigaudit/stigaudit/server/auth"
)

// maxQueryRecorded bounds the raw query string a refused export records.
const maxQueryRecorded = 2048

// Phases of the audit_export events.
const (
	PhaseStart   = "start"
	PhaseEnd     = "end"
	PhaseRefused = "refused"
)

// recordTenant is where an export is recorded: the exported tenant, or the
// key's own when an admin exports every tenant.
func recordTenant(p auth.Principal, tenant string) string {
	if tenant != "" {
		return tenant
	}
	if p.Tenant != "" {
		return p.Tenant
	}
	return event.DefaultTenant
}

func exportDraft(p auth.Principal, tenant, outcome string, detail []byte) event.Draft {
	return event.Draft{
		Type:      "audit_export",
		Tenant:    recordTenant(p, tenant),
		EntityURI: actor(p),
		Emitter:   Emitter,
		OIDCSub:   p.OIDCSub,
		Source:    "GET " + Route,
		Outcome:   outcome,
		Detail:    detail,
	}
}

// actor is the acting principal of a request: the key's entity_uri.
func actor(p auth.Principal) string {
	if p.EntityURI != "" {
		return p.EntityURI
	}
	return "urn:stigaudit:anonymous"
}

// obj builds a JSON object member by member; Build canonicalises it.
type obj struct{ b []byte }

func (o *obj) key(k string) {
	if len(o.b) == 0 {
		o.b = append(o.b, '{')
	} else {
		o.b = append(o.b, ',')
	}
	o.b = jcs.AppendString(o.b, k)
	o.b = append(o.b, ':')
}
func (o *obj) str(k, v string) { o.key(k); o.b = jcs.AppendString(o.b, v) }
func (o *obj) opt(k, v string) {
	if v != "" {
		o.str(k, v)
	}
}
func (o *obj) int(k string, v int64) { o.key(k); o.b = strconv.AppendInt(o.b, v, 10) }
func (o *obj) bool(k string, v bool) { o.key(k); o.b = strconv.AppendBool(o.b, v) }
func (o *obj) raw(k string, v []byte) {
	o.key(k)
	o.b = append(o.b, v...)
}
func (o *obj) done() []byte {
	if len(o.b) == 0 {
		return []byte("{}")
	}
	return append(o.b, '}')
}

// filters renders the parsed filters of r.
func filters(r *request) []byte {
	var f obj
	q := &r.q
	f.opt("tenant_id", q.Tenant)
	if len(q.Types) > 0 {
		f.key("event_type")
		f.b = append(f.b, '[')
		for i, t := range q.Types {
			if i > 0 {
				f.b = append(f.b, ',')
			}
			f.b = jcs.AppendString(f.b, t)
		}
		f.b = append(f.b, ']')
	}
	f.opt("entity_uri", q.EntityURI)
	f.opt("oidc_sub", q.OIDCSub)
	if q.Source != nil {
		f.str("source", *q.Source)
	}
	f.opt("fact_id", q.FactID)
	f.opt("outcome", q.Outcome)
	f.opt("scope", q.Scope)
	if q.Attested != nil {
		f.bool("attested", *q.Attested)
	}
	f.opt("since", q.Since)
	f.opt("until", q.Until)
	return f.done()
}

func startDraft(p auth.Principal, r *request, size uint64) event.Draft {
	var d obj
	d.str("phase", PhaseStart)
	d.str("key_id", p.KeyID)
	d.str("format", r.format)
	d.raw("filters", filters(r))
	if r.redactor != nil {
		d.str("redact", "hmac")
		d.str("redacted_fields", r.redactor.Profile().String())
	}
	d.int("from_seq", r.from)
	d.int("checkpoint_size", int64(size))
	return exportDraft(p, r.q.Tenant, event.OutcomeSuccess, d.done())
}

func endDraft(p auth.Principal, r *request, startID string, n int64, cause error) event.Draft {
	var d obj
	d.str("phase", PhaseEnd)
	d.str("start_id", startID)
	d.str("key_id", p.KeyID)
	d.str("format", r.format)
	d.int("events", n)
	d.bool("complete", cause == nil)
	outcome := event.OutcomeSuccess
	if cause != nil {
		outcome = event.OutcomeFailure
		d.str("error", errorCode(cause))
	}
	return exportDraft(p, r.q.Tenant, outcome, d.done())
}

func refusedDraft(p auth.Principal, rawQuery, tenant string, cause error) event.Draft {
	var d obj
	d.str("phase", PhaseRefused)
	d.str("key_id", p.KeyID)
	d.str("query", clip(rawQuery, maxQueryRecorded))
	d.str("error", errorCode(cause))
	outcome := event.OutcomeFailure
	if errors.Is(cause, auditerr.ErrForbidden) {
		outcome = event.OutcomeDenied
	}
	return exportDraft(p, tenant, outcome, d.done())
}

// errorCode names why an export failed.
func errorCode(err error) string {
	switch {
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return "client_gone"
	}
	if c := auditerr.CodeOf(err); c != "" {
		return string(c)
	}
	return "write_failed"
}

// clip shortens s to at most n bytes, at a rune boundary.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
