package redact

import (
	"net/url"

	"github.com/stigaudit/stigaudit/core/auditerr"
	"github.com/stigaudit/stigaudit/server/auth"
)

// Param is the query parameter that asks for redaction: redact=hmac, or
// redact=none for clear data (the default, refused to principals that are
// always redacted).
const Param = "redact"

// Values of Param.
const (
	ModeHMAC = "hmac"
	ModeNone = "none"
)

// Policy decides, per request, whether a principal gets redacted data.
// It is immutable and safe for concurrent use. A nil *Policy redacts
// nothing and refuses redact=hmac (redaction is not configured).
type Policy struct {
	hasher     *Hasher
	profile    *Profile
	principals map[string]bool
}

// NewPolicy returns a Policy that redacts profile's fields with hasher,
// always for the listed principals: each entry is a key id or an
// entity_uri, and a key matches when either of its own equals an entry.
func NewPolicy(hasher *Hasher, profile *Profile, principals []string) *Policy {
	pol := &Policy{hasher: hasher, profile: profile, principals: map[string]bool{}}
	for _, p := range principals {
		if p != "" {
			pol.principals[p] = true
		}
	}
	return pol
}

// Hasher returns the policy's hasher.
func (pol *Policy) Hasher() *Hasher { return pol.hasher }

// Profile returns the policy's profile.
func (pol *Policy) Profile() *Profile { return pol.profile }

// Forced reports whether p always gets redacted data.
func (pol *Policy) Forced(p auth.Principal) bool {
	if pol == nil || len(pol.principals) == 0 {
		return false
	}
	return pol.principals[p.KeyID] || pol.principals[p.EntityURI]
}

// ForRequest returns the Redactor a request gets, or nil for clear data,
// from the principal and the redact parameter of vals (absent, "hmac" or
// "none"). A forced principal is redacted whatever it asks and refused
// redact=none (403), and refused a filter on a redacted field (403). A
// malformed parameter, or redact=hmac where the policy is nil, is an
// error wrapping auditerr.ErrInvalidParameter.
func (pol *Policy) ForRequest(p auth.Principal, vals url.Values) (*Redactor, error) {
	mode := ""
	if vs, ok := vals[Param]; ok {
		if len(vs) != 1 || vs[0] != ModeHMAC && vs[0] != ModeNone {
			return nil, auditerr.Errorf(auditerr.ErrInvalidParameter, "%s must be %s or %s", Param, ModeHMAC, ModeNone)
		}
		mode = vs[0]
	}
	forced := pol.Forced(p)
	switch {
	case forced && mode == ModeNone:
		return nil, auditerr.Errorf(auditerr.ErrForbidden, "this key sees redacted data only")
	case forced:
		if err := pol.checkFilters(vals); err != nil {
			return nil, err
		}
		return pol.hasher.NewRedactor(pol.profile), nil
	case mode == ModeHMAC:
		if pol == nil {
			return nil, auditerr.Errorf(auditerr.ErrInvalidParameter, "redaction is not configured on this server")
		}
		return pol.hasher.NewRedactor(pol.profile), nil
	}
	return nil, nil
}

// filterFields are the read filters that compare a field's clear value.
var filterFields = [...]string{"entity_uri", "oidc_sub", "source", "fact_id", "scope"}

// checkFilters refuses a filter on a redacted field.
func (pol *Policy) checkFilters(vals url.Values) error {
	for _, f := range filterFields {
		if _, ok := vals[f]; ok && pol.profile.Redacts(f) {
			return auditerr.Errorf(auditerr.ErrForbidden, "this key sees %s redacted and may not filter on it", f)
		}
	}
	return nil
}
