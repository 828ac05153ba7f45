package event

import (
	"fmt"
	"testing"

	"github.com/stigaudit/stigaudit/core/auditerr"
)

func TestScopeApply(t *testing.T) {
	key := Scope{Tenant: "acme", Emitter: "urn:w", OIDCSub: "sub-w"}
	admin := Scope{Tenant: "default", AnyTenant: true, Emitter: "urn:admin", OIDCSub: "sub-a"}
	for _, c := range []struct {
		name  string
		scope Scope
		in    Draft
		code  auditerr.Code
		want  Draft
	}{
		{"defaults from the key", key, Draft{Type: "fact_read"}, "",
			Draft{Type: "fact_read", Tenant: "acme", Emitter: "urn:w", EntityURI: "urn:w", OIDCSub: "sub-w"}},
		{"the draft's actor and subject stay", key, Draft{EntityURI: "urn:u", OIDCSub: "sub-u"}, "",
			Draft{Tenant: "acme", Emitter: "urn:w", EntityURI: "urn:u", OIDCSub: "sub-u"}},
		{"the key's tenant, named", key, Draft{Tenant: "acme"}, "",
			Draft{Tenant: "acme", Emitter: "urn:w", EntityURI: "urn:w", OIDCSub: "sub-w"}},
		{"the key's tenant, before normalisation", key, Draft{Tenant: " ACME "}, "",
			Draft{Tenant: " ACME ", Emitter: "urn:w", EntityURI: "urn:w", OIDCSub: "sub-w"}},
		{"the key's emitter, repeated", key, Draft{Emitter: "urn:w"}, "",
			Draft{Tenant: "acme", Emitter: "urn:w", EntityURI: "urn:w", OIDCSub: "sub-w"}},
		{"another tenant", key, Draft{Tenant: "other"}, auditerr.ErrForbidden.Code, Draft{}},
		{"a tenant that does not normalise", key, Draft{Tenant: "no/such"}, auditerr.ErrInvalidTenant.Code, Draft{}},
		{"another emitter", key, Draft{Emitter: "urn:x"}, auditerr.ErrForbidden.Code, Draft{}},
		{"an admin names any tenant", admin, Draft{Tenant: "other"}, "",
			Draft{Tenant: "other", Emitter: "urn:admin", EntityURI: "urn:admin", OIDCSub: "sub-a"}},
		{"an admin's tenant is still the default", admin, Draft{}, "",
			Draft{Tenant: "default", Emitter: "urn:admin", EntityURI: "urn:admin", OIDCSub: "sub-a"}},
		{"an admin cannot forge an emitter", admin, Draft{Emitter: "urn:x"}, auditerr.ErrForbidden.Code, Draft{}},
		{"the zero scope changes nothing", Scope{}, Draft{Tenant: "t", Emitter: "urn:e", EntityURI: "urn:u"}, "",
			Draft{Tenant: "t", Emitter: "urn:e", EntityURI: "urn:u"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			d := c.in
			err := c.scope.Apply(&d)
			if auditerr.CodeOf(err) != c.code {
				t.Fatalf("Apply = %v, want code %q", err, c.code)
			}
			if err == nil && fmt.Sprintf("%+v", d) != fmt.Sprintf("%+v", c.want) {
				t.Fatalf("Apply made %+v, want %+v", d, c.want)
			}
		})
	}
}

func TestScopeCheck(t *testing.T) {
	ev := Event{Tenant: "acme", Emitter: "urn:w"}
	for _, c := range []struct {
		name  string
		scope Scope
		ev    Event
		code  auditerr.Code
	}{
		{"within", Scope{Tenant: "acme", Emitter: "urn:w"}, ev, ""},
		{"the zero scope", Scope{}, ev, ""},
		{"tenant only", Scope{Tenant: "acme"}, Event{Tenant: "acme", Emitter: "urn:any"}, ""},
		{"another tenant", Scope{Tenant: "other"}, ev, auditerr.ErrForbidden.Code},
		{"any tenant", Scope{Tenant: "other", AnyTenant: true}, ev, ""},
		{"another emitter", Scope{Emitter: "urn:x"}, ev, auditerr.ErrForbidden.Code},
		{"no emitter where the scope names one", Scope{Emitter: "urn:w"}, Event{Tenant: "acme"}, auditerr.ErrForbidden.Code},
	} {
		t.Run(c.name, func(t *testing.T) {
			if err := c.scope.Check(&c.ev); auditerr.CodeOf(err) != c.code {
				t.Fatalf("Check = %v, want code %q", err, c.code)
			}
		})
	}
}

// TestScopeApplyThenCheck: a draft Apply accepts builds an event Check
// accepts, so the HTTP server and a WebAssembly host agree.
func TestScopeApplyThenCheck(t *testing.T) {
	var b Builder
	for _, s := range []Scope{
		{Tenant: "acme", Emitter: "urn:w"},
		{Tenant: "default", AnyTenant: true, Emitter: "urn:admin"},
	} {
		for _, d := range []Draft{
			{Type: "fact_read"},
			{Type: "fact_read", Tenant: " Acme", EntityURI: "urn:u"},
			{Type: "fact_read", Tenant: "other", Emitter: "urn:w"},
		} {
			if err := s.Apply(&d); err != nil {
				continue
			}
			ev, err := b.Build(&d, fixedNow, zeroEntropy())
			if err != nil {
				t.Fatalf("%+v: %v", d, err)
			}
			if err := s.Check(&ev); err != nil {
				t.Errorf("scope %+v: Apply accepted %+v, Check refused its event: %v", s, d, err)
			}
		}
	}
}
