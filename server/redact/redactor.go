package redact

import (
	"crypto/hmac"
	"crypto/sha256"
	"hash"

	"github.com/stigaudit/stigaudit/core/event"
	"github.com/stigaudit/stigaudit/core/jcs"
)

// cacheSize bounds a Redactor's memo of hashed values. Identifiers repeat
// across events (a few principals act many times), so most fields of an
// export are a map lookup rather than an HMAC.
const cacheSize = 4096

// Redactor applies a Profile with a Hasher. It keeps an HMAC state, a memo
// of recent values and a buffer for the redacted detail, so it is not safe
// for concurrent use: make one per export or stream.
type Redactor struct {
	p      *Profile
	mac    hash.Hash
	sum    []byte
	memo   map[string]string
	detail []byte
}

// NewRedactor returns a Redactor for p.
func (h *Hasher) NewRedactor(p *Profile) *Redactor {
	return &Redactor{
		p:    p,
		mac:  hmac.New(sha256.New, h.salt[:]),
		sum:  make([]byte, 0, sha256.Size),
		memo: make(map[string]string, 64),
	}
}

// Profile returns the profile r applies.
func (r *Redactor) Profile() *Profile { return r.p }

// hash returns the redacted form of v.
func (r *Redactor) hash(v []byte) string {
	if s, ok := r.memo[string(v)]; ok {
		return s
	}
	r.mac.Reset()
	r.mac.Write(v)
	r.sum = r.mac.Sum(r.sum[:0])
	s := string(appendHash(make([]byte, 0, HashLen), r.sum))
	if len(r.memo) >= cacheSize {
		clear(r.memo)
	}
	r.memo[string(v)] = s
	return s
}

func (r *Redactor) hashString(s string) string {
	if s == "" {
		return ""
	}
	if h, ok := r.memo[s]; ok {
		return h
	}
	return r.hash([]byte(s))
}

// Apply redacts e in place: it replaces the profile's fields with their
// hashes. It never writes into the memory of e's fields, so e may be a
// copy of an event others share (e.Detail is replaced, not overwritten);
// the new e.Detail lives in r's buffer and is valid until the next Apply.
// An error means e.Detail is not a canonical object (a store fault); e is
// then left with every top-level field redacted and its detail removed,
// so that nothing passes in the clear.
func (r *Redactor) Apply(e *event.Event) error {
	p := r.p
	if p.top != 0 {
		if p.top&fieldEntityURI != 0 {
			e.EntityURI = r.hashString(e.EntityURI)
		}
		if p.top&fieldEmitter != 0 {
			e.Emitter = r.hashString(e.Emitter)
		}
		if p.top&fieldOIDCSub != 0 {
			e.OIDCSub = r.hashString(e.OIDCSub)
		}
		if p.top&fieldFactID != 0 {
			e.FactID = r.hashString(e.FactID)
		}
		if p.top&fieldSource != 0 {
			e.Source = r.hashString(e.Source)
		}
		if p.top&fieldAttestedKeyID != 0 {
			e.AttestedKeyID = r.hashString(e.AttestedKeyID)
		}
		if p.top&fieldScope != 0 {
			e.Scope = r.hashString(e.Scope)
		}
	}
	if p.detail == nil || e.Detail == nil {
		return nil
	}
	out, err := r.object(r.detail[:0], e.Detail, p.detail)
	if err != nil {
		e.Detail = nil
		return err
	}
	r.detail = out
	e.Detail = out
	return nil
}

// object appends the canonical object obj with the members that n names
// redacted. Values change but names do not, so the output stays canonical.
func (r *Redactor) object(dst, obj []byte, n *node) ([]byte, error) {
	dst = append(dst, '{')
	it := jcs.Members(obj)
	first := true
	for it.Next() {
		m := it.Member()
		if !first {
			dst = append(dst, ',')
		}
		first = false
		dst = append(dst, '"')
		dst = append(dst, m.Key...)
		dst = append(dst, '"', ':')
		k := n.kids[string(m.Key)]
		if k == nil && hasBackslash(m.Key) {
			k = n.kids[m.Name()]
		}
		v := m.Value
		switch {
		case k == nil || string(v) == "null":
			dst = append(dst, v...)
		case k.leaf:
			if v[0] == '"' {
				s, _ := jcs.Unquote(v)
				v = []byte(s)
			}
			dst = jcs.AppendString(dst, r.hash(v))
		case v[0] == '{':
			var err error
			if dst, err = r.object(dst, v, k); err != nil {
				return dst, err
			}
		default:
			dst = append(dst, v...)
		}
	}
	if err := it.Err(); err != nil {
		return dst, err
	}
	return append(dst, '}'), nil
}

func hasBackslash(b []byte) bool {
	for _, c := range b {
		if c == '\\' {
			return true
		}
	}
	return false
}
