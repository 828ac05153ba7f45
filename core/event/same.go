package event

import "bytes"

// SameContent reports whether e and o carry the same content for the purpose
// of idempotent re-sends (docs/operations.md#idempotency): every field but Seq, TS and LeafHash is
// equal. TS is excluded because a re-sent draft is built at a later instant.
func (e *Event) SameContent(o *Event) bool {
	return e.ID == o.ID &&
		e.Type == o.Type &&
		e.HLC == o.HLC &&
		e.Tenant == o.Tenant &&
		e.EntityURI == o.EntityURI &&
		e.Emitter == o.Emitter &&
		e.OIDCSub == o.OIDCSub &&
		e.FactID == o.FactID &&
		e.Source == o.Source &&
		e.AttestedKeyID == o.AttestedKeyID &&
		e.Scope == o.Scope &&
		e.Outcome == o.Outcome &&
		bytes.Equal(e.Detail, o.Detail)
}
