package catalog

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/stigaudit/stigaudit/core/auditerr"
)

// spec is docs/catalogue.md transcribed independently of builtins: family, the
// best-effort members, and required keys per type.
var spec = []struct {
	family     Family
	types      []string
	bestEffort []string
	required   map[string]string // type → space-separated keys; "*" applies to all
}{
	{FamilySeedDeclared, strings.Fields(`fact_write fact_read capability_token_issue capability_token_revoke
		manifest_publish key_rotation federation_connect quarantine_admit quarantine_release quota_breach
		admin_action replay_rejected instruction_audit instruction_quarantined instruction_promoted
		peer_hlc_anomaly api_key_rehashed`),
		[]string{"fact_read", "quota_breach"},
		map[string]string{"quota_breach": "dimension", "admin_action": "action", "api_key_rehashed": "key_id from to",
			"peer_hlc_anomaly": "sender_node_id direction skew_ms"}},
	{FamilySeedNode, strings.Fields(`fact_retract tombstone_created tombstone_revoked tombstone_federation_ingested
		tombstone_revocation_federation_ingested tombstone_federation_rejected tombstone_sync_gap
		federation_integrity_rejected federation_valid_until_extension_rejected quarantine_ingest
		quarantine_promote quarantine_reject sanitizer_quarantine capability_issued capability_revoked
		capability_rejected capability_verified fact_mutation_attempted`),
		[]string{"tombstone_sync_gap", "capability_verified", "capability_rejected"},
		map[string]string{"tombstone_*": "target_entity_uri", "federation_integrity_rejected": "sender_node_id reason"}},
	{FamilyFederationPeer, strings.Fields(`rejected_fact rejected_token scope_violation replay_attempt san_mismatch
		peer_approved peer_approval_failed tl_proof_missing tl_proof_verified manifest_stored manifest_refresh_failed`),
		nil, map[string]string{"*": "peer_id"}},
	{FamilyPlugin, strings.Fields(`plugin.registered plugin.registration_failed plugin.handler_denied plugin.handler_error`),
		strings.Fields(`plugin.registered plugin.registration_failed plugin.handler_denied plugin.handler_error`),
		map[string]string{"*": "plugin_name"}},
	{FamilySpecRequired, strings.Fields(`auth_failed api_key_create api_key_revoke peer_registered peer_revoked config_change audit_export`),
		[]string{"auth_failed"}, map[string]string{"api_key_*": "key_id"}},
}

func TestDefaultMatchesSpec(t *testing.T) {
	c := Default()
	n := 0
	for _, row := range spec {
		for _, name := range row.types {
			n++
			typ, ok := c.Lookup(name)
			if !ok {
				t.Errorf("%s missing", name)
				continue
			}
			if typ.Name() != name || typ.Family() != row.family {
				t.Errorf("%s: name %q family %q, want family %q", name, typ.Name(), typ.Family(), row.family)
			}
			if want := !slices.Contains(row.bestEffort, name); typ.Critical() != want {
				t.Errorf("%s: critical = %v, want %v", name, typ.Critical(), want)
			}
			var want []string
			for pattern, keys := range row.required {
				if pattern == name || pattern == "*" || (strings.HasSuffix(pattern, "*") && strings.HasPrefix(name, strings.TrimSuffix(pattern, "*"))) {
					want = strings.Fields(keys)
				}
			}
			var got []string
			for _, k := range typ.Required() {
				got = append(got, k.Name)
			}
			slices.Sort(want)
			if !slices.Equal(got, want) {
				t.Errorf("%s: required %v, want %v", name, got, want)
			}
		}
	}
	if c.Len() != n || len(c.Types()) != n {
		t.Errorf("catalogue has %d types, docs/catalogue.md lists %d", c.Len(), n)
	}
	if Default() != c {
		t.Error("Default returns a different catalogue each time")
	}
}

func TestTypesSortedAndCopied(t *testing.T) {
	c := Default()
	ts := c.Types()
	if !slices.IsSortedFunc(ts, func(a, b Type) int { return strings.Compare(a.Name(), b.Name()) }) {
		t.Error("Types() is not sorted")
	}
	ts[0] = Type{name: "mutated"}
	if c.Types()[0].Name() == "mutated" {
		t.Error("Types() exposes the catalogue's slice")
	}
	typ, _ := c.Lookup("peer_hlc_anomaly")
	req := typ.Required()
	req[0].OneOf[0] = `"mutated"`
	if typ.Required()[0].OneOf[0] != `"future"` {
		t.Error("Required() exposes the type's keys")
	}
}

func TestCheckDetail(t *testing.T) {
	c := Default()
	tests := []struct {
		typ, detail string // detail "" means no detail
		code        auditerr.Code
	}{
		{"fact_write", "", ""},
		{"fact_write", `{"anything":1}`, ""},
		{"quota_breach", `{"dimension":"rps"}`, ""},
		{"quota_breach", `{"dimension":0}`, "missing_detail_key"}, // a string (docs/catalogue.md#required-detail-keys)
		{"admin_action", `{"action":"rotate"}`, ""},
		{"admin_action", `{"action":5}`, "missing_detail_key"},
		{"admin_action", `{"action":{"name":"rotate"}}`, "missing_detail_key"},
		{"admin_action", `{"action":true}`, "missing_detail_key"},
		{"api_key_create", `{"key_id":["k1"]}`, "missing_detail_key"},
		{"peer_hlc_anomaly", `{"direction":"future","sender_node_id":"n","skew_ms":-2.5}`, ""},
		{"peer_hlc_anomaly", `{"direction":"future","sender_node_id":"n","skew_ms":"5"}`, "missing_detail_key"},
		{"peer_hlc_anomaly", `{"direction":"future","sender_node_id":7,"skew_ms":5}`, "missing_detail_key"},
		{"quota_breach", "", "missing_detail_key"},
		{"quota_breach", `{"dimensions":"rps"}`, "missing_detail_key"},
		{"quota_breach", `{"dimension":null}`, "missing_detail_key"},
		{"api_key_rehashed", `{"from":"bcrypt","key_id":"k1","to":"argon2id"}`, ""},
		{"api_key_rehashed", `{"from":"bcrypt","key_id":"k1"}`, "missing_detail_key"},
		{"peer_hlc_anomaly", `{"direction":"future","sender_node_id":"n","skew_ms":5}`, ""},
		{"peer_hlc_anomaly", `{"direction":"past","sender_node_id":"n","skew_ms":5}`, ""},
		{"peer_hlc_anomaly", `{"direction":"sideways","sender_node_id":"n","skew_ms":5}`, "missing_detail_key"},
		{"peer_hlc_anomaly", `{"direction":"Future","sender_node_id":"n","skew_ms":5}`, "missing_detail_key"},
		{"peer_hlc_anomaly", `{"direction":["future"],"sender_node_id":"n","skew_ms":5}`, "missing_detail_key"},
		{"peer_hlc_anomaly", `{"direction":"future","sender_node_id":"n"}`, "missing_detail_key"},
		{"plugin.registered", `{"plugin_name":"p","x":{"plugin_name":null}}`, ""},
		{"plugin.registered", `{"x":{"plugin_name":"p"}}`, "missing_detail_key"},
	}
	for _, tt := range tests {
		typ, ok := c.Lookup(tt.typ)
		if !ok {
			t.Fatalf("%s not found", tt.typ)
		}
		var d []byte
		if tt.detail != "" {
			d = []byte(tt.detail)
		}
		err := typ.CheckDetail(d)
		if got := auditerr.CodeOf(err); got != tt.code {
			t.Errorf("%s.CheckDetail(%s) = %v, want code %q", tt.typ, tt.detail, err, tt.code)
		}
	}
}

func TestValidName(t *testing.T) {
	for _, ok := range []string{"a", "fact_write", "plugin.registered", "a.b.c", "a1_.b2", "x._", "a." + strings.Repeat("b", 126)} {
		if !ValidName(ok) {
			t.Errorf("ValidName(%q) = false", ok)
		}
	}
	for _, bad := range []string{"", "A", "1a", "_a", ".a", "a.", "a..b", "a-b", "a b", "a.B", "é", "a/b", "a." + strings.Repeat("b", 127)} {
		if ValidName(bad) {
			t.Errorf("ValidName(%q) = true", bad)
		}
	}
}

func TestExtend(t *testing.T) {
	base := Default()
	c, err := base.Extend([]byte(`{"event_types":[
		{"name":"billing.invoice_sent","critical":false,"required_detail":["invoice_id",{"name":"channel","one_of":["email","post",1]}]},
		{"name":"deploy"}
	]}`))
	if err != nil {
		t.Fatal(err)
	}
	if c.Len() != base.Len()+2 {
		t.Fatalf("Len = %d, want %d", c.Len(), base.Len()+2)
	}
	if _, ok := base.Lookup("deploy"); ok {
		t.Fatal("Extend changed the base catalogue")
	}
	deploy, ok := c.Lookup("deploy")
	if !ok || !deploy.Critical() || deploy.Family() != FamilyOperator || len(deploy.Required()) != 0 {
		t.Fatalf("deploy = %+v, %v; want critical operator type without keys", deploy, ok)
	}
	inv, _ := c.Lookup("billing.invoice_sent")
	if inv.Critical() {
		t.Error("critical:false ignored")
	}
	req := inv.Required()
	if len(req) != 2 || req[0].String() != `{"name":"channel","one_of":["email","post",1]}` || req[1].String() != `"invoice_id"` {
		t.Fatalf("required = %v", req)
	}
	if err := inv.CheckDetail([]byte(`{"channel":1,"invoice_id":"i"}`)); err != nil {
		t.Error(err)
	}
	if err := inv.CheckDetail([]byte(`{"channel":"fax","invoice_id":"i"}`)); !errors.Is(err, auditerr.ErrMissingDetailKey) {
		t.Errorf("fax channel: %v", err)
	}
	// The old list-of-names form accepts any non-null value.
	if err := inv.CheckDetail([]byte(`{"channel":"email","invoice_id":{"n":1}}`)); err != nil {
		t.Errorf("untyped key: %v", err)
	}
	// A declared type is checked, and written back as it was read.
	typed, err := base.Extend([]byte(`{"event_types":[{"name":"billing.charge","required_detail":[
		{"name":"amount_cents","type":"number"},{"name":"paid","type":"boolean"},{"name":"lines","type":"array"},
		{"name":"card","type":"object"},{"name":"currency","type":"string","one_of":["EUR","USD"]}]}]}`))
	if err != nil {
		t.Fatal(err)
	}
	charge, _ := typed.Lookup("billing.charge")
	var names []string
	for _, k := range charge.Required() {
		names = append(names, k.String())
	}
	if got := strings.Join(names, ","); got != `{"name":"amount_cents","type":"number"},{"name":"card","type":"object"},`+
		`{"name":"currency","one_of":["EUR","USD"],"type":"string"},{"name":"lines","type":"array"},{"name":"paid","type":"boolean"}` {
		t.Errorf("typed keys written as %s", got)
	}
	for detail, code := range map[string]auditerr.Code{
		`{"amount_cents":1250,"card":{},"currency":"EUR","lines":[],"paid":true}`:   "",
		`{"amount_cents":"1250","card":{},"currency":"EUR","lines":[],"paid":true}`: "missing_detail_key",
		`{"amount_cents":1250,"card":[],"currency":"EUR","lines":[],"paid":true}`:   "missing_detail_key",
		`{"amount_cents":1250,"card":{},"currency":"EUR","lines":{},"paid":true}`:   "missing_detail_key",
		`{"amount_cents":1250,"card":{},"currency":"EUR","lines":[],"paid":"yes"}`:  "missing_detail_key",
		`{"amount_cents":1250,"card":{},"currency":"GBP","lines":[],"paid":true}`:   "missing_detail_key",
	} {
		if got := auditerr.CodeOf(charge.CheckDetail([]byte(detail))); got != code {
			t.Errorf("billing.charge %s: code %q, want %q", detail, got, code)
		}
	}
	// Extending an extended catalogue keeps both generations.
	c2, err := c.Extend([]byte(`{"event_types":[{"name":"deploy.rollback"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"fact_write", "deploy", "deploy.rollback"} {
		if _, ok := c2.Lookup(n); !ok {
			t.Errorf("%s missing after a second Extend", n)
		}
	}
}

func TestExtendRefuses(t *testing.T) {
	tests := []struct{ name, config string }{
		{"not json", `{"event_types":[`},
		{"not an object", `[]`},
		{"missing event_types", `{}`},
		{"unknown top-level member", `{"event_types":[],"version":1}`},
		{"event_types not array", `{"event_types":{}}`},
		{"entry not object", `{"event_types":["x"]}`},
		{"missing name", `{"event_types":[{"critical":true}]}`},
		{"bad name", `{"event_types":[{"name":"Bad-Name"}]}`},
		{"name not string", `{"event_types":[{"name":7}]}`},
		{"builtin duplicate", `{"event_types":[{"name":"fact_write"}]}`},
		{"duplicate within config", `{"event_types":[{"name":"x.y"},{"name":"x.y"}]}`},
		{"critical not bool", `{"event_types":[{"name":"x","critical":"yes"}]}`},
		{"unknown member", `{"event_types":[{"name":"x","family":"seed"}]}`},
		{"required not array", `{"event_types":[{"name":"x","required_detail":"a"}]}`},
		{"required entry number", `{"event_types":[{"name":"x","required_detail":[1]}]}`},
		{"required empty name", `{"event_types":[{"name":"x","required_detail":[""]}]}`},
		{"required twice", `{"event_types":[{"name":"x","required_detail":["a","a"]}]}`},
		{"one_of empty", `{"event_types":[{"name":"x","required_detail":[{"name":"a","one_of":[]}]}]}`},
		{"one_of object", `{"event_types":[{"name":"x","required_detail":[{"name":"a","one_of":[{}]}]}]}`},
		{"one_of null", `{"event_types":[{"name":"x","required_detail":[{"name":"a","one_of":[null]}]}]}`},
		{"key unknown member", `{"event_types":[{"name":"x","required_detail":[{"name":"a","max":1}]}]}`},
		{"key without name", `{"event_types":[{"name":"x","required_detail":[{"one_of":["a"]}]}]}`},
		{"unknown key type", `{"event_types":[{"name":"x","required_detail":[{"name":"a","type":"integer"}]}]}`},
		{"key type not a string", `{"event_types":[{"name":"x","required_detail":[{"name":"a","type":1}]}]}`},
		{"key type null", `{"event_types":[{"name":"x","required_detail":[{"name":"a","type":null}]}]}`},
		{"one_of value of another type", `{"event_types":[{"name":"x","required_detail":[{"name":"a","type":"string","one_of":["a",1]}]}]}`},
		{"duplicate member", `{"event_types":[{"name":"x","name":"y"}]}`},
		{"too many keys", `{"event_types":[{"name":"x","required_detail":["` + strings.Join(manyKeys(65), `","`) + `"]}]}`},
	}
	for _, tt := range tests {
		c, err := Default().Extend([]byte(tt.config))
		if !errors.Is(err, auditerr.ErrInvalidConfig) || c != nil {
			t.Errorf("%s: Extend = %v, %v; want invalid_config", tt.name, c, err)
		}
	}
}

func manyKeys(n int) []string {
	ks := make([]string, n)
	for i := range ks {
		ks[i] = "k" + strings.Repeat("x", i)
	}
	return ks
}

func BenchmarkLookupCheck(b *testing.B) {
	c := Default()
	d := []byte(`{"direction":"future","note":"x","sender_node_id":"n","skew_ms":5}`)
	b.ReportAllocs()
	for b.Loop() {
		typ, _ := c.Lookup("peer_hlc_anomaly")
		if err := typ.CheckDetail(d); err != nil {
			b.Fatal(err)
		}
	}
}

// TestConcurrentUse is meaningful under -race: catalogues are shared by
// every request handler.
func TestConcurrentUse(t *testing.T) {
	done := make(chan bool)
	for range 4 {
		go func() {
			c := Default()
			ext, err := c.Extend([]byte(`{"event_types":[{"name":"x.y","required_detail":["k"]}]}`))
			ok := err == nil
			for _, n := range []string{"fact_write", "peer_hlc_anomaly"} {
				typ, found := c.Lookup(n)
				ok = ok && found && typ.CheckDetail([]byte(`{"direction":"past","sender_node_id":"n","skew_ms":1}`)) == nil
			}
			_, found := ext.Lookup("x.y")
			done <- ok && found && len(c.Types()) == c.Len()
		}()
	}
	for range 4 {
		if !<-done {
			t.Error("concurrent use failed")
		}
	}
}

func TestOperatorTypeDeclaresOCSF(t *testing.T) {
	for _, tc := range []struct {
		entry          string
		class, act     int
		declared, fail bool
	}{
		{`{"name":"a.b"}`, 0, 0, false, false},
		{`{"name":"a.b","ocsf":{"class_uid":6003,"activity_id":1}}`, 6003, 1, true, false},
		{`{"name":"a.b","ocsf":{"activity_id":99,"class_uid":3002}}`, 3002, 99, true, false},
		{`{"name":"a.b","ocsf":{"class_uid":6003}}`, 0, 0, false, true},
		{`{"name":"a.b","ocsf":{"class_uid":0,"activity_id":1}}`, 0, 0, false, true},
		{`{"name":"a.b","ocsf":{"class_uid":6003,"activity_id":100}}`, 0, 0, false, true},
		{`{"name":"a.b","ocsf":{"class_uid":"6003","activity_id":1}}`, 0, 0, false, true},
		{`{"name":"a.b","ocsf":{"class_uid":6003,"activity_id":1,"x":1}}`, 0, 0, false, true},
		{`{"name":"a.b","ocsf":[6003,1]}`, 0, 0, false, true},
	} {
		c, err := Default().Extend([]byte(`{"event_types":[` + tc.entry + `]}`))
		if tc.fail {
			if err == nil {
				t.Errorf("%s: accepted", tc.entry)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%s: %v", tc.entry, err)
		}
		typ, _ := c.Lookup("a.b")
		class, act, ok := typ.OCSF()
		if class != tc.class || act != tc.act || ok != tc.declared {
			t.Errorf("%s: OCSF() = %d, %d, %v", tc.entry, class, act, ok)
		}
	}
}
