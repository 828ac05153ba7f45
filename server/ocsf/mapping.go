package ocsf

// SchemaVersion is the OCSF schema version records declare in
// metadata.version: the version of the schema copy the tests check them
// against (testdata/ocsf-schema/version.json).
const SchemaVersion = "1.9.0-dev"

// OCSF class uids used by Table.
const (
	ClassEntityManagement = 3004
	ClassAuthentication   = 3002
	ClassAPIActivity      = 6003
)

// Activity ids shared by the classes used here.
const (
	ActivityCreate = 1
	ActivityRead   = 2
	ActivityUpdate = 3
	ActivityDelete = 4
	ActivityLogon  = 1 // Authentication
	ActivityOther  = 99
)

// Severity ids (OCSF dictionary severity_id).
const (
	SeverityInformational = 1
	SeverityLow           = 2
	SeverityMedium        = 3
)

// Mapping is one row of Table: how events of one type become OCSF records.
type Mapping struct {
	// EventType is the catalogue name.
	EventType string
	// ClassUID is the OCSF class (category_uid*1000 + the class's uid).
	ClassUID int
	// ActivityID is the class's activity; type_uid = ClassUID*100 + ActivityID.
	ActivityID int
	// SeverityID is the record's severity_id.
	SeverityID int
	// Failure, when true, makes status_id Failure whatever the outcome (a
	// type that records a failed attempt, such as auth_failed).
	Failure bool
	// Entity is the entity type of an Entity Management record (entity.type).
	Entity string
	// EntityKey, when set, names the detail key whose string value is the
	// entity's uid; fact_id is used when it is absent.
	EntityKey string
}

// CategoryUID is the class's category: a class uid is category*1000 plus
// the class's number (3 IAM, 6 Application Activity).
func (m *Mapping) CategoryUID() int { return m.ClassUID / 1000 }

// TypeUID is the record's type_uid: ClassUID*100 + ActivityID.
func (m *Mapping) TypeUID() int { return m.ClassUID*100 + m.ActivityID }

// Default is the mapping of a type Table does not name and that declares
// no class of its own (an operator's catalogue type without "ocsf"; see
// Encoder.WithCatalogue): API Activity / Other, informational.
var Default = Mapping{ClassUID: ClassAPIActivity, ActivityID: ActivityOther, SeverityID: SeverityInformational}

// Shorthands for Table.
const (
	api  = ClassAPIActivity
	ent  = ClassEntityManagement
	auth = ClassAuthentication
	info = SeverityInformational
	low  = SeverityLow
	med  = SeverityMedium
)

// Table maps every built-in catalogue type (docs/catalogue.md#built-in-types)
// to its OCSF class and activity. It is data: the encoder and the docs'
// rendered copy (docs/operations.md#siem-formats) read it, and a test checks
// each row against the OCSF schema and that every catalogue type has one.
//
// Actions on facts, manifests, quarantine and tombstones are API Activity
// (the call that made, read, changed or removed them); rejections and
// anomalies whose call has no CRUD verb are API Activity / Other. Keys,
// tokens, peers and plugins — things stigaudit's operators manage — are
// Entity Management with the entity named. auth_failed is Authentication /
// Logon, always Failure.
var Table = []Mapping{
	// Declared in the seed's emit().
	{EventType: "fact_write", ClassUID: api, ActivityID: ActivityCreate, SeverityID: info},
	{EventType: "fact_read", ClassUID: api, ActivityID: ActivityRead, SeverityID: info},
	{EventType: "capability_token_issue", ClassUID: ent, ActivityID: ActivityCreate, SeverityID: info, Entity: "capability_token"},
	{EventType: "capability_token_revoke", ClassUID: ent, ActivityID: ActivityDelete, SeverityID: info, Entity: "capability_token"},
	{EventType: "manifest_publish", ClassUID: api, ActivityID: ActivityCreate, SeverityID: info},
	{EventType: "key_rotation", ClassUID: ent, ActivityID: ActivityUpdate, SeverityID: info, Entity: "signing_key"},
	{EventType: "federation_connect", ClassUID: api, ActivityID: ActivityOther, SeverityID: info},
	{EventType: "quarantine_admit", ClassUID: api, ActivityID: ActivityCreate, SeverityID: info},
	{EventType: "quarantine_release", ClassUID: api, ActivityID: ActivityUpdate, SeverityID: info},
	{EventType: "quota_breach", ClassUID: api, ActivityID: ActivityOther, SeverityID: low},
	{EventType: "admin_action", ClassUID: api, ActivityID: ActivityOther, SeverityID: info},
	{EventType: "replay_rejected", ClassUID: api, ActivityID: ActivityOther, SeverityID: med, Failure: true},
	{EventType: "instruction_audit", ClassUID: api, ActivityID: ActivityOther, SeverityID: info},
	{EventType: "instruction_quarantined", ClassUID: api, ActivityID: ActivityCreate, SeverityID: low},
	{EventType: "instruction_promoted", ClassUID: api, ActivityID: ActivityUpdate, SeverityID: low},
	{EventType: "peer_hlc_anomaly", ClassUID: api, ActivityID: ActivityOther, SeverityID: low},
	{EventType: "api_key_rehashed", ClassUID: ent, ActivityID: ActivityUpdate, SeverityID: info, Entity: "api_key", EntityKey: "key_id"},

	// Written by the seed's node outside emit().
	{EventType: "fact_retract", ClassUID: api, ActivityID: ActivityDelete, SeverityID: info},
	{EventType: "tombstone_created", ClassUID: api, ActivityID: ActivityCreate, SeverityID: info},
	{EventType: "tombstone_revoked", ClassUID: api, ActivityID: ActivityDelete, SeverityID: info},
	{EventType: "tombstone_federation_ingested", ClassUID: api, ActivityID: ActivityCreate, SeverityID: info},
	{EventType: "tombstone_revocation_federation_ingested", ClassUID: api, ActivityID: ActivityDelete, SeverityID: info},
	{EventType: "tombstone_federation_rejected", ClassUID: api, ActivityID: ActivityCreate, SeverityID: low, Failure: true},
	{EventType: "tombstone_sync_gap", ClassUID: api, ActivityID: ActivityOther, SeverityID: low},
	{EventType: "federation_integrity_rejected", ClassUID: api, ActivityID: ActivityOther, SeverityID: med, Failure: true},
	{EventType: "federation_valid_until_extension_rejected", ClassUID: api, ActivityID: ActivityUpdate, SeverityID: low, Failure: true},
	{EventType: "quarantine_ingest", ClassUID: api, ActivityID: ActivityCreate, SeverityID: info},
	{EventType: "quarantine_promote", ClassUID: api, ActivityID: ActivityUpdate, SeverityID: info},
	{EventType: "quarantine_reject", ClassUID: api, ActivityID: ActivityDelete, SeverityID: info},
	{EventType: "sanitizer_quarantine", ClassUID: api, ActivityID: ActivityCreate, SeverityID: low},
	{EventType: "capability_issued", ClassUID: ent, ActivityID: ActivityCreate, SeverityID: info, Entity: "capability_token"},
	{EventType: "capability_revoked", ClassUID: ent, ActivityID: ActivityDelete, SeverityID: info, Entity: "capability_token"},
	{EventType: "capability_rejected", ClassUID: ent, ActivityID: ActivityRead, SeverityID: low, Failure: true, Entity: "capability_token"},
	{EventType: "capability_verified", ClassUID: ent, ActivityID: ActivityRead, SeverityID: info, Entity: "capability_token"},
	{EventType: "fact_mutation_attempted", ClassUID: api, ActivityID: ActivityUpdate, SeverityID: med},

	// Federation peer events.
	{EventType: "rejected_fact", ClassUID: api, ActivityID: ActivityCreate, SeverityID: low, Failure: true},
	{EventType: "rejected_token", ClassUID: api, ActivityID: ActivityOther, SeverityID: med, Failure: true},
	{EventType: "scope_violation", ClassUID: api, ActivityID: ActivityOther, SeverityID: med, Failure: true},
	{EventType: "replay_attempt", ClassUID: api, ActivityID: ActivityOther, SeverityID: med, Failure: true},
	{EventType: "san_mismatch", ClassUID: auth, ActivityID: ActivityLogon, SeverityID: med, Failure: true},
	{EventType: "peer_approved", ClassUID: ent, ActivityID: 8 /* Enable */, SeverityID: info, Entity: "peer", EntityKey: "peer_id"},
	{EventType: "peer_approval_failed", ClassUID: ent, ActivityID: 8 /* Enable */, SeverityID: low, Failure: true, Entity: "peer", EntityKey: "peer_id"},
	{EventType: "tl_proof_missing", ClassUID: api, ActivityID: ActivityOther, SeverityID: med, Failure: true},
	{EventType: "tl_proof_verified", ClassUID: api, ActivityID: ActivityRead, SeverityID: info},
	{EventType: "manifest_stored", ClassUID: api, ActivityID: ActivityCreate, SeverityID: info},
	{EventType: "manifest_refresh_failed", ClassUID: api, ActivityID: ActivityUpdate, SeverityID: low, Failure: true},

	// Plugin registry.
	{EventType: "plugin.registered", ClassUID: ent, ActivityID: ActivityCreate, SeverityID: info, Entity: "plugin", EntityKey: "plugin_name"},
	{EventType: "plugin.registration_failed", ClassUID: ent, ActivityID: ActivityCreate, SeverityID: low, Failure: true, Entity: "plugin", EntityKey: "plugin_name"},
	{EventType: "plugin.handler_denied", ClassUID: api, ActivityID: ActivityOther, SeverityID: low, Failure: true},
	{EventType: "plugin.handler_error", ClassUID: api, ActivityID: ActivityOther, SeverityID: low, Failure: true},

	// Required by the seed's spec.
	{EventType: "auth_failed", ClassUID: auth, ActivityID: ActivityLogon, SeverityID: low, Failure: true},
	{EventType: "api_key_create", ClassUID: ent, ActivityID: ActivityCreate, SeverityID: info, Entity: "api_key", EntityKey: "key_id"},
	{EventType: "api_key_revoke", ClassUID: ent, ActivityID: ActivityDelete, SeverityID: info, Entity: "api_key", EntityKey: "key_id"},
	{EventType: "peer_registered", ClassUID: ent, ActivityID: ActivityCreate, SeverityID: info, Entity: "peer"},
	{EventType: "peer_revoked", ClassUID: ent, ActivityID: ActivityDelete, SeverityID: info, Entity: "peer"},
	{EventType: "config_change", ClassUID: api, ActivityID: ActivityUpdate, SeverityID: info},
	{EventType: "audit_export", ClassUID: api, ActivityID: ActivityRead, SeverityID: info},
}

// class is what a record of one class says about it.
type class struct {
	name, category string
	activities     map[int]string // activity_id -> activity_name
}

// classes describes the classes Table uses (captions from the OCSF schema;
// a test checks them).
var classes = map[int]class{
	ClassAPIActivity: {"API Activity", "Application Activity",
		map[int]string{1: "Create", 2: "Read", 3: "Update", 4: "Delete", 99: "Other"}},
	ClassEntityManagement: {"Entity Management", "Identity & Access Management",
		map[int]string{1: "Create", 2: "Read", 3: "Update", 4: "Delete", 8: "Enable", 99: "Other"}},
	ClassAuthentication: {"Authentication", "Identity & Access Management",
		map[int]string{1: "Logon", 99: "Other"}},
}

var severityNames = map[int]string{1: "Informational", 2: "Low", 3: "Medium"}

var byType = func() map[string]*Mapping {
	m := make(map[string]*Mapping, len(Table))
	for i := range Table {
		m[Table[i].EventType] = &Table[i]
	}
	return m
}()

// Lookup returns the mapping of eventType: its Table row, or Default (with
// EventType set) for a type Table does not name.
func Lookup(eventType string) Mapping {
	if m, ok := byType[eventType]; ok {
		return *m
	}
	d := Default
	d.EventType = eventType
	return d
}
