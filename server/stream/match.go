package stream

import (
	"slices"

	"github.com/stigaudit/stigaudit/core/event"
	"github.com/stigaudit/stigaudit/hostfns"
)

// Match reports whether e is selected by the filters of q, by the rules a
// store's Query applies (hostfns.Query): equal fields, any of Types, an
// exact Source, Attested as the presence of attested_key_id, Since
// inclusive and Until exclusive on ts. Order, After and Limit are ignored.
func Match(q *hostfns.Query, e *event.Event) bool {
	switch {
	case q.Tenant != "" && e.Tenant != q.Tenant,
		len(q.Types) > 0 && !slices.Contains(q.Types, e.Type),
		q.EntityURI != "" && e.EntityURI != q.EntityURI,
		q.OIDCSub != "" && e.OIDCSub != q.OIDCSub,
		q.FactID != "" && e.FactID != q.FactID,
		q.Outcome != "" && e.Outcome != q.Outcome,
		q.Scope != "" && e.Scope != q.Scope,
		q.Source != nil && e.Source != *q.Source,
		q.Attested != nil && (e.AttestedKeyID != "") != *q.Attested,
		q.Since != "" && e.TS < q.Since,
		q.Until != "" && e.TS >= q.Until:
		return false
	}
	return true
}
