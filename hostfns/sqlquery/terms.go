package sqlquery

import (
	"github.com/stigaudit/stigaudit/core/event"
	"github.com/stigaudit/stigaudit/hostfns"
)

// Terms returns the WHERE terms, joined by AND, of the filters of q
// that every SQL store writes alike: tenant, event types, entity, OIDC
// subject, fact, outcome, scope, source and attestation, over the events
// table's columns (optional text columns NULL when absent). The time
// bounds, the keyset on seq and the order are left to each store, which
// bounds them with its own indexes.
//
// arg binds a value and returns its placeholder ("?" or "$n"); in returns
// the test that event_type is one of types (len(types) ≥ 2), binding them
// as the dialect prefers.
func Terms(q hostfns.Query, arg func(v any) string, in func(types []string) string) []string {
	var where []string
	eq := func(col, v string) {
		if v != "" {
			where = append(where, col+" = "+arg(v))
		}
	}
	eq("tenant_id", q.Tenant)
	switch len(q.Types) {
	case 0:
	case 1:
		eq("event_type", q.Types[0])
	default:
		where = append(where, in(q.Types))
	}
	eq("entity_uri", q.EntityURI)
	eq("oidc_sub", q.OIDCSub)
	eq("fact_id", q.FactID)
	eq("outcome", q.Outcome)
	if q.Outcome != "" && q.Outcome != event.OutcomeSuccess {
		// Repeats, word for word, the WHERE clause of the partial index
		// events_tenant_outcome_seq, so that the planner can use it.
		where = append(where, "outcome <> 'success'")
	}
	eq("scope", q.Scope)
	if q.Source != nil {
		where = append(where, "source = "+arg(*q.Source))
	}
	if q.Attested != nil {
		// "IS NOT NULL" is word for word the WHERE clause of the partial
		// index events_tenant_attested_seq, so that the planner can use it.
		if *q.Attested {
			where = append(where, "attested_key_id IS NOT NULL")
		} else {
			where = append(where, "attested_key_id IS NULL")
		}
	}
	return where
}
