package auth

import (
	"strings"

	"github.com/stigaudit/stigaudit/core/auditerr"
)

// Perms is a set of permissions. The zero value grants nothing.
type Perms uint8

// Permissions (docs/api.md#permissions).
const (
	// PermAuditWrite allows emitting events in the key's tenant.
	PermAuditWrite Perms = 1 << iota
	// PermRead allows reading the events whose entity_uri is the key's own.
	PermRead
	// PermAuditRead allows reading every event of the key's tenant.
	PermAuditRead
	// PermAdmin allows everything in every tenant, and key management.
	PermAdmin
)

// permNames lists the permissions in their canonical order.
var permNames = [...]struct {
	p    Perms
	name string
}{
	{PermAuditWrite, "audit.write"},
	{PermRead, "read"},
	{PermAuditRead, "audit.read"},
	{PermAdmin, "admin"},
}

// ParsePerms parses a comma-separated list such as "audit.write,read".
// Spaces around names are ignored and repeats are harmless; an unknown name
// or an empty list is an error wrapping auditerr.ErrInvalidInput.
func ParsePerms(s string) (Perms, error) {
	var ps Perms
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		p, ok := permByName(f)
		if !ok {
			return 0, auditerr.Errorf(auditerr.ErrInvalidInput,
				"unknown permission %q (want audit.write, read, audit.read or admin)", f)
		}
		ps |= p
	}
	if ps == 0 {
		return 0, auditerr.Errorf(auditerr.ErrInvalidInput, "no permission given")
	}
	return ps, nil
}

func permByName(name string) (Perms, bool) {
	for _, n := range permNames {
		if n.name == name {
			return n.p, true
		}
	}
	return 0, false
}

// String returns the canonical comma-separated form, e.g. "audit.write,read".
// It is the form stored in the api_keys table.
func (ps Perms) String() string {
	var b strings.Builder
	for _, n := range permNames {
		if ps&n.p != 0 {
			if b.Len() > 0 {
				b.WriteByte(',')
			}
			b.WriteString(n.name)
		}
	}
	return b.String()
}

// Has reports whether the set grants every permission in want, taking
// implications into account: admin implies every permission and audit.read
// implies read.
func (ps Perms) Has(want Perms) bool {
	eff := ps
	if ps&PermAdmin != 0 {
		eff = PermAuditWrite | PermRead | PermAuditRead | PermAdmin
	}
	if ps&PermAuditRead != 0 {
		eff |= PermRead
	}
	return eff&want == want
}
