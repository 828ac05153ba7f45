package event

import "github.com/stigaudit/stigaudit/core/auditerr"

// Scope is what a writer's credential decides about the events it writes:
// the tenant they go to and who emitted them. The HTTP server makes one
// from the API key of a request (Apply, before Build); a WebAssembly host
// makes one from the services of a call (Check, on the event the guest
// built). It is not the event's scope field (the capability scope, a
// string the emitter supplies).
//
// A zero Scope allows everything and changes nothing.
type Scope struct {
	// Tenant is the writer's tenant, normalised (NormalizeTenant): the
	// tenant of a draft that names none, and, unless AnyTenant, the only
	// tenant the writer may write to. "" restricts nothing.
	Tenant string
	// AnyTenant lets the writer name any tenant (an admin key); Tenant is
	// still the default.
	AnyTenant bool
	// Emitter is who the writer is (a key's entity_uri): every event it
	// writes names exactly this emitter, which a draft may repeat but not
	// change. It is also the default actor (entity_uri) of a draft. ""
	// restricts nothing.
	Emitter string
	// OIDCSub is the writer's OIDC subject, the default oidc_sub of a
	// draft.
	OIDCSub string
}

// Apply stamps d with what s decides, before Build: the tenant, entity_uri
// and oidc_sub default to the writer's, and the emitter becomes the
// writer's. A draft that names another tenant (unless AnyTenant) or
// another emitter is refused with forbidden; a tenant that does not
// normalise, with invalid_tenant.
func (s *Scope) Apply(d *Draft) error {
	if d.Tenant == "" {
		d.Tenant = s.Tenant
	} else if err := s.checkTenant(d.Tenant, true); err != nil {
		return err
	}
	if s.Emitter != "" {
		if d.Emitter != "" && d.Emitter != s.Emitter {
			return auditerr.Errorf(auditerr.ErrForbidden, "emitter is set from the key (%q) and cannot be %q", s.Emitter, d.Emitter)
		}
		d.Emitter = s.Emitter
		if d.EntityURI == "" {
			d.EntityURI = s.Emitter
		}
	}
	if d.OIDCSub == "" {
		d.OIDCSub = s.OIDCSub
	}
	return nil
}

// Check reports whether e, an event already built, lies within s: its
// tenant is the writer's (unless AnyTenant) and its emitter is the
// writer's. Outside, it fails with forbidden.
func (s *Scope) Check(e *Event) error {
	if err := s.checkTenant(e.Tenant, false); err != nil {
		return err
	}
	if s.Emitter != "" && e.Emitter != s.Emitter {
		return auditerr.Errorf(auditerr.ErrForbidden, "emitter must be the writer's (%q), not %q", s.Emitter, clip(e.Emitter))
	}
	return nil
}

// checkTenant refuses a tenant other than the writer's; normalize tells
// that t is a draft's, not yet normalised.
func (s *Scope) checkTenant(t string, normalize bool) error {
	if s.AnyTenant || s.Tenant == "" {
		return nil
	}
	if normalize {
		var err error
		if t, err = NormalizeTenant(t); err != nil {
			return err
		}
	}
	if t != s.Tenant {
		return auditerr.Errorf(auditerr.ErrForbidden, "this key may only write to tenant %q", s.Tenant)
	}
	return nil
}
