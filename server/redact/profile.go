package redact

import (
	"slices"
	"strings"

	"github.com/stigaudit/stigaudit/core/auditerr"
)

// DefaultFields is the profile of a deployment that configures none: the
// fields that name a person or a key.
const DefaultFields = "entity_uri,emitter,oidc_sub,attested_key_id"

// field is a set of top-level event fields.
type field uint8

const (
	fieldEntityURI field = 1 << iota
	fieldEmitter
	fieldOIDCSub
	fieldFactID
	fieldSource
	fieldAttestedKeyID
	fieldScope
)

// topField returns the field called name, if it can be redacted.
func topField(name string) (field, bool) {
	switch name {
	case "entity_uri":
		return fieldEntityURI, true
	case "emitter":
		return fieldEmitter, true
	case "oidc_sub":
		return fieldOIDCSub, true
	case "fact_id":
		return fieldFactID, true
	case "source":
		return fieldSource, true
	case "attested_key_id":
		return fieldAttestedKeyID, true
	case "scope":
		return fieldScope, true
	}
	return 0, false
}

// Profile is the set of fields a deployment redacts (see the package
// doc). It is immutable once parsed.
type Profile struct {
	top    field
	detail *node // nil when no detail path is redacted
	names  []string
}

// node is one level of the detail paths: a leaf is redacted whole.
type node struct {
	leaf bool
	kids map[string]*node
}

// ParseProfile reads a comma-separated list of fields such as
// "oidc_sub,detail.key_id,detail.peer.addr". Spaces around names are
// ignored and repeats are harmless. A field that cannot be redacted (seq,
// id, ts, tenant_id, event_type, outcome, hlc, leaf_hash, detail as a
// whole), an unknown name or an empty path segment is an error wrapping
// auditerr.ErrInvalidConfig. An empty list is a profile that redacts
// nothing.
func ParseProfile(list string) (*Profile, error) {
	p := &Profile{}
	for _, f := range strings.Split(list, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		if path, ok := strings.CutPrefix(f, "detail."); ok {
			segs := strings.Split(path, ".")
			if slices.Contains(segs, "") {
				return nil, auditerr.Errorf(auditerr.ErrInvalidConfig, "redact: %q has an empty path segment", f)
			}
			if p.detail == nil {
				p.detail = &node{}
			}
			n := p.detail
			for _, s := range segs {
				if n.kids == nil {
					n.kids = map[string]*node{}
				}
				k := n.kids[s]
				if k == nil {
					k = &node{}
					n.kids[s] = k
				}
				n = k
			}
			n.leaf = true
		} else if t, ok := topField(f); ok {
			p.top |= t
		} else {
			return nil, auditerr.Errorf(auditerr.ErrInvalidConfig,
				"redact: %q cannot be redacted (use entity_uri, emitter, oidc_sub, fact_id, source, attested_key_id, scope or detail.<path>)", f)
		}
		if !slices.Contains(p.names, f) {
			p.names = append(p.names, f)
		}
	}
	slices.Sort(p.names)
	return p, nil
}

// Fields returns the redacted fields, sorted.
func (p *Profile) Fields() []string { return slices.Clone(p.names) }

// String returns the profile as ParseProfile reads it.
func (p *Profile) String() string { return strings.Join(p.names, ",") }

// Empty reports whether the profile redacts nothing.
func (p *Profile) Empty() bool { return len(p.names) == 0 }

// Redacts reports whether the top-level field called name is redacted.
func (p *Profile) Redacts(name string) bool {
	f, ok := topField(name)
	return ok && p.top&f != 0
}
