package event

import (
	"strconv"

	"github.com/stigaudit/stigaudit/core/jcs"
	"github.com/stigaudit/stigaudit/core/sha256s"
)

// AppendCanonical appends the canonical form of e (docs/event-format.md#canonical-form): the RFC 8785
// object of every field but seq and leaf_hash, with empty optional fields
// (hlc, emitter, oidc_sub, fact_id, attested_key_id, scope) and a nil
// detail omitted, and source always present. Detail is embedded as is: it
// must already be canonical, as Build and ParseEvent leave it.
func AppendCanonical(dst []byte, e *Event) []byte {
	// Members in RFC 8785 order (all names are ASCII, so byte order).
	dst = append(dst, '{')
	comma := false
	opt := func(name, v string) {
		if v == "" {
			return
		}
		if comma {
			dst = append(dst, ',')
		}
		comma = true
		dst = append(dst, name...)
		dst = jcs.AppendString(dst, v)
	}
	opt(`"attested_key_id":`, e.AttestedKeyID)
	if e.Detail != nil {
		if comma {
			dst = append(dst, ',')
		}
		comma = true
		dst = append(dst, `"detail":`...)
		dst = append(dst, e.Detail...)
	}
	opt(`"emitter":`, e.Emitter)
	if comma {
		dst = append(dst, ',')
	}
	dst = append(dst, `"entity_uri":`...)
	dst = jcs.AppendString(dst, e.EntityURI)
	comma = true
	dst = append(dst, `,"event_type":`...)
	dst = jcs.AppendString(dst, e.Type)
	opt(`"fact_id":`, e.FactID)
	opt(`"hlc":`, e.HLC)
	dst = append(dst, `,"id":`...)
	dst = jcs.AppendString(dst, e.ID)
	opt(`"oidc_sub":`, e.OIDCSub)
	dst = append(dst, `,"outcome":`...)
	dst = jcs.AppendString(dst, e.Outcome)
	opt(`"scope":`, e.Scope)
	dst = append(dst, `,"source":`...)
	dst = jcs.AppendString(dst, e.Source)
	dst = append(dst, `,"tenant_id":`...)
	dst = jcs.AppendString(dst, e.Tenant)
	dst = append(dst, `,"ts":`...)
	dst = jcs.AppendString(dst, e.TS)
	return append(dst, '}')
}

// LeafHash returns the RFC 6962 leaf hash of a canonical event:
// SHA-256(0x00 ‖ canonical).
func LeafHash(canonical []byte) [32]byte { return sha256s.SumPrefixed(0x00, canonical) }

const hexDigits = "0123456789abcdef"

// AppendJSON appends e as the HTTP API returns it: every field (docs/event-format.md#fields) in
// §2 order (seq, id, event_type, ts, hlc, tenant_id, entity_uri, emitter,
// oidc_sub, fact_id, source, attested_key_id, scope, outcome, detail,
// leaf_hash), empty optional fields and a Seq of -1 as null, detail as its
// canonical object or null, leaf_hash as lower-case hex. The output has no
// white space and is stable: ParseEvent reads it back to the same event.
func AppendJSON(dst []byte, e *Event) []byte {
	dst = append(dst, `{"seq":`...)
	if e.Seq < 0 {
		dst = append(dst, "null"...)
	} else {
		dst = strconv.AppendInt(dst, e.Seq, 10)
	}
	str := func(name, v string) {
		dst = append(dst, name...)
		dst = jcs.AppendString(dst, v)
	}
	opt := func(name, v string) {
		dst = append(dst, name...)
		if v == "" {
			dst = append(dst, "null"...)
		} else {
			dst = jcs.AppendString(dst, v)
		}
	}
	str(`,"id":`, e.ID)
	str(`,"event_type":`, e.Type)
	str(`,"ts":`, e.TS)
	opt(`,"hlc":`, e.HLC)
	str(`,"tenant_id":`, e.Tenant)
	str(`,"entity_uri":`, e.EntityURI)
	opt(`,"emitter":`, e.Emitter)
	opt(`,"oidc_sub":`, e.OIDCSub)
	opt(`,"fact_id":`, e.FactID)
	str(`,"source":`, e.Source)
	opt(`,"attested_key_id":`, e.AttestedKeyID)
	opt(`,"scope":`, e.Scope)
	str(`,"outcome":`, e.Outcome)
	dst = append(dst, `,"detail":`...)
	if e.Detail == nil {
		dst = append(dst, "null"...)
	} else {
		dst = append(dst, e.Detail...)
	}
	dst = append(dst, `,"leaf_hash":"`...)
	for _, c := range e.LeafHash {
		dst = append(dst, hexDigits[c>>4], hexDigits[c&0x0F])
	}
	return append(dst, '"', '}')
}
