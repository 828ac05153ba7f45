package catalog

import (
	"slices"
	"strings"
	"sync"

	"github.com/stigaudit/stigaudit/core/auditerr"
	"github.com/stigaudit/stigaudit/core/jcs"
)

// Family says where an event type comes from (the rows of docs/catalogue.md#built-in-types).
type Family string

// Families.
const (
	// FamilySeedDeclared: declared in the seed's emit() (§22.3.1).
	FamilySeedDeclared Family = "seed_declared"
	// FamilySeedNode: written by the seed's node outside emit().
	FamilySeedNode Family = "seed_node"
	// FamilyFederationPeer: the seed's federation peer events.
	FamilyFederationPeer Family = "federation_peer"
	// FamilyPlugin: the plugin registry.
	FamilyPlugin Family = "plugin_registry"
	// FamilySpecRequired: required by the seed's spec but never recorded.
	FamilySpecRequired Family = "spec_required"
	// FamilyOperator: added by an operator with Extend.
	FamilyOperator Family = "operator"
)

// Limits on operator-defined types.
const (
	// MaxNameLen is the longest event type or detail key name.
	MaxNameLen = 128
	// MaxRequired is the most required detail keys one type may list.
	MaxRequired = 64
	// MaxConfigBytes is the largest configuration Extend reads.
	MaxConfigBytes = 1 << 20
)

// JSONType is the declared JSON type of a required detail key's value.
type JSONType string

// JSON types a required key may declare. AnyType, the zero value, accepts
// every value but null (the old list-of-names form of a configuration).
const (
	AnyType     JSONType = ""
	StringType  JSONType = "string"
	NumberType  JSONType = "number"
	BooleanType JSONType = "boolean"
	ObjectType  JSONType = "object"
	ArrayType   JSONType = "array"
)

// ValidJSONType reports whether t is a type a key may declare (not AnyType).
func ValidJSONType(t JSONType) bool {
	switch t {
	case StringType, NumberType, BooleanType, ObjectType, ArrayType:
		return true
	}
	return false
}

// typeOf returns the JSON type of the canonical value v.
func typeOf(v []byte) JSONType {
	switch v[0] {
	case '"':
		return StringType
	case '{':
		return ObjectType
	case '[':
		return ArrayType
	case 't', 'f':
		return BooleanType
	case 'n':
		return AnyType // null: refused as missing before the type is asked
	}
	return NumberType
}

// Key is a required detail key.
type Key struct {
	// Name is the member name in the detail object.
	Name string
	// Type, when not AnyType, is the JSON type the value must have.
	Type JSONType
	// OneOf, when not empty, lists the permitted values as canonical JSON
	// texts (e.g. `"future"`); the value must equal one of them byte for
	// byte. When empty, any value but null (of Type) is accepted.
	OneOf []string
}

// Type is one catalogued event type. It is a read-only value.
type Type struct {
	name     string
	family   Family
	critical bool
	required []Key // sorted by Name
	// ocsfClass and ocsfActivity are the OCSF class and activity an
	// operator type declares (0: none declared).
	ocsfClass, ocsfActivity int
}

// Name returns the event_type name.
func (t Type) Name() string { return t.name }

// Family returns where the type comes from.
func (t Type) Family() Family { return t.family }

// Critical reports whether emits of this type fail closed.
func (t Type) Critical() bool { return t.critical }

// OCSF returns the OCSF class_uid and activity_id an operator type
// declares in the catalogue file ("ocsf":{"class_uid":n,"activity_id":n});
// ok is false when it declares none (built-in types are mapped by the
// server's own table, docs/operations.md#ocsf).
func (t Type) OCSF() (classUID, activityID int, ok bool) {
	return t.ocsfClass, t.ocsfActivity, t.ocsfClass != 0
}

// Required returns a copy of the required detail keys, sorted by name.
func (t Type) Required() []Key {
	out := make([]Key, len(t.required))
	for i, k := range t.required {
		out[i] = Key{Name: k.Name, Type: k.Type, OneOf: slices.Clone(k.OneOf)}
	}
	return out
}

// CheckDetail checks that the canonical detail object (or nil, for no
// detail) carries every required key with a non-null value of the key's
// declared JSON type, and a permitted one where the key constrains it. It
// fails with missing_detail_key naming the first missing or refused key.
func (t Type) CheckDetail(detail []byte) error {
	if len(t.required) == 0 {
		return nil
	}
	var found uint64
	if detail != nil {
		it := jcs.Members(detail)
		for it.Next() {
			m := it.Member()
			for i := range t.required {
				k := &t.required[i]
				if !m.NameIs(k.Name) {
					continue
				}
				if string(m.Value) == "null" {
					break
				}
				if k.Type != AnyType && typeOf(m.Value) != k.Type {
					return auditerr.Errorf(auditerr.ErrMissingDetailKey, "detail key %q of %s must be a JSON %s, not %s",
						k.Name, t.name, string(k.Type), clip(m.Value))
				}
				if len(k.OneOf) > 0 && !slices.Contains(k.OneOf, string(m.Value)) {
					return auditerr.Errorf(auditerr.ErrMissingDetailKey, "detail key %q of %s must be one of %s, not %s",
						k.Name, t.name, strings.Join(k.OneOf, ", "), clip(m.Value))
				}
				found |= 1 << i
				break
			}
		}
		if err := it.Err(); err != nil {
			return auditerr.Errorf(auditerr.ErrInvalidDetail, "detail of %s: %v", t.name, err)
		}
	}
	for i, k := range t.required {
		if found&(1<<i) == 0 {
			return auditerr.Errorf(auditerr.ErrMissingDetailKey, "detail key %q is required (non-null) for event type %s", k.Name, t.name)
		}
	}
	return nil
}

func clip(v []byte) string {
	if len(v) > 64 {
		return string(v[:64]) + "..."
	}
	return string(v)
}

// Catalogue is a closed set of event types. It never changes after
// construction and is safe for concurrent use.
type Catalogue struct {
	byName map[string]Type
	sorted []Type
}

// Lookup returns the type called name.
func (c *Catalogue) Lookup(name string) (Type, bool) {
	t, ok := c.byName[name]
	return t, ok
}

// Types returns every type, sorted by name.
func (c *Catalogue) Types() []Type { return slices.Clone(c.sorted) }

// Len returns the number of types.
func (c *Catalogue) Len() int { return len(c.sorted) }

func newCatalogue(types []Type) *Catalogue {
	c := &Catalogue{byName: make(map[string]Type, len(types)), sorted: slices.Clone(types)}
	for _, t := range types {
		c.byName[t.name] = t
	}
	slices.SortFunc(c.sorted, func(a, b Type) int { return strings.Compare(a.name, b.name) })
	return c
}

// ValidName reports whether name is a valid event type name:
// ^[a-z][a-z0-9_]*(\.[a-z0-9_]+)*$ and at most MaxNameLen bytes.
func ValidName(name string) bool {
	if len(name) == 0 || len(name) > MaxNameLen || name[0] < 'a' || name[0] > 'z' {
		return false
	}
	for i := 1; i < len(name); i++ {
		c := name[i]
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '_':
		case c == '.':
			// A dot starts a segment that needs at least one character.
			if i == len(name)-1 || name[i+1] == '.' {
				return false
			}
		default:
			return false
		}
	}
	return true
}

// Default returns the built-in catalogue of docs/catalogue.md#built-in-types. Every call returns the
// same immutable catalogue.
func Default() *Catalogue { return defaultCatalogue() }

var defaultCatalogue = sync.OnceValue(func() *Catalogue { return newCatalogue(builtins()) })

// builtins lists docs/catalogue.md#built-in-types, row by row.
func builtins() []Type {
	var ts []Type
	add := func(f Family, critical bool, required []Key, names ...string) {
		for _, n := range names {
			ts = append(ts, Type{name: n, family: f, critical: critical, required: required})
		}
	}
	// docs/catalogue.md#required-detail-keys: every built-in required key is a string but skew_ms.
	keys := func(names ...string) []Key {
		ks := make([]Key, len(names))
		for i, n := range names {
			ks[i] = Key{Name: n, Type: StringType}
		}
		return ks
	}

	// Declared in the seed (§22.3.1).
	add(FamilySeedDeclared, true, nil,
		"fact_write", "capability_token_issue", "capability_token_revoke", "manifest_publish",
		"key_rotation", "federation_connect", "quarantine_admit", "quarantine_release",
		"replay_rejected", "instruction_audit", "instruction_quarantined", "instruction_promoted")
	add(FamilySeedDeclared, false, nil, "fact_read")
	add(FamilySeedDeclared, false, keys("dimension"), "quota_breach")
	add(FamilySeedDeclared, true, keys("action"), "admin_action")
	add(FamilySeedDeclared, true, keys("from", "key_id", "to"), "api_key_rehashed")
	add(FamilySeedDeclared, true, []Key{
		{Name: "direction", Type: StringType, OneOf: []string{`"future"`, `"past"`}},
		{Name: "sender_node_id", Type: StringType},
		{Name: "skew_ms", Type: NumberType},
	}, "peer_hlc_anomaly")

	// Written by the seed's node outside emit().
	add(FamilySeedNode, true, nil,
		"fact_retract", "quarantine_ingest", "quarantine_promote", "quarantine_reject",
		"sanitizer_quarantine", "capability_issued", "capability_revoked",
		"federation_valid_until_extension_rejected", "fact_mutation_attempted")
	add(FamilySeedNode, false, nil, "capability_rejected", "capability_verified")
	add(FamilySeedNode, true, keys("target_entity_uri"),
		"tombstone_created", "tombstone_revoked", "tombstone_federation_ingested",
		"tombstone_revocation_federation_ingested", "tombstone_federation_rejected")
	add(FamilySeedNode, false, keys("target_entity_uri"), "tombstone_sync_gap")
	add(FamilySeedNode, true, keys("reason", "sender_node_id"), "federation_integrity_rejected")

	// Federation peer events, now in the one stream.
	add(FamilyFederationPeer, true, keys("peer_id"),
		"rejected_fact", "rejected_token", "scope_violation", "replay_attempt", "san_mismatch",
		"peer_approved", "peer_approval_failed", "tl_proof_missing", "tl_proof_verified",
		"manifest_stored", "manifest_refresh_failed")

	// Plugin registry.
	add(FamilyPlugin, false, keys("plugin_name"),
		"plugin.registered", "plugin.registration_failed", "plugin.handler_denied", "plugin.handler_error")

	// Required by the seed's spec, never recorded by it.
	add(FamilySpecRequired, false, nil, "auth_failed")
	add(FamilySpecRequired, true, keys("key_id"), "api_key_create", "api_key_revoke")
	add(FamilySpecRequired, true, nil, "peer_registered", "peer_revoked", "config_change", "audit_export")
	return ts
}
