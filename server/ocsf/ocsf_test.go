package ocsf_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/stigaudit/stigaudit/core/auditerr"
	"github.com/stigaudit/stigaudit/core/catalog"
	"github.com/stigaudit/stigaudit/core/event"
	"github.com/stigaudit/stigaudit/core/merkle"
	"github.com/stigaudit/stigaudit/server/ocsf"
)

const origin = "stigaudit/test"

// decode reads a record, numbers kept as json.Number.
func decode(t testing.TB, rec []byte) map[string]any {
	t.Helper()
	d := json.NewDecoder(bytes.NewReader(rec))
	d.UseNumber()
	var v map[string]any
	if err := d.Decode(&v); err != nil {
		t.Fatalf("record is not a JSON object: %v\n%s", err, rec)
	}
	if d.More() {
		t.Fatalf("trailing data after the record: %s", rec)
	}
	return v
}

// detailFor fills a type's required detail keys with values of their
// declared types.
func detailFor(ty catalog.Type) []byte {
	var b strings.Builder
	b.WriteByte('{')
	for i, k := range ty.Required() {
		if i > 0 {
			b.WriteByte(',')
		}
		v := `"v-` + k.Name + `"`
		switch {
		case len(k.OneOf) > 0:
			v = k.OneOf[0]
		case k.Type == catalog.NumberType:
			v = "42"
		case k.Type == catalog.BooleanType:
			v = "true"
		case k.Type == catalog.ObjectType:
			v = "{}"
		case k.Type == catalog.ArrayType:
			v = "[]"
		}
		fmt.Fprintf(&b, "%q:%s", k.Name, v)
	}
	b.WriteByte('}')
	if b.Len() == 2 {
		return nil
	}
	return []byte(b.String())
}

// variants returns events of type ty in the shapes a log holds: every
// outcome, with and without the optional fields, and purged.
func variants(ty catalog.Type) []event.Event {
	base := event.Event{
		Seq: 41, ID: "019dedb5-ae7b-7000-8000-000000000000", Type: ty.Name(), TS: "2026-05-03T12:00:00.123456Z",
		Tenant: "acme", EntityURI: "urn:stigmem:agent:a", Source: "", Outcome: event.OutcomeSuccess,
		Detail: detailFor(ty), LeafHash: [32]byte{1, 2, 3},
	}
	full := base
	full.Emitter, full.OIDCSub, full.FactID, full.Scope, full.HLC, full.AttestedKeyID =
		"urn:stigaudit:server", "sub-1", "fact-9", "facts:write", "1777809600123.4", "key-1"
	full.Source = `quote " and é`
	failed, denied := base, full
	failed.Outcome, denied.Outcome = event.OutcomeFailure, event.OutcomeDenied
	purged := event.Event{Seq: 7, ID: base.ID, Type: base.Type, TS: base.TS, Tenant: base.Tenant, Outcome: base.Outcome, LeafHash: base.LeafHash}
	return []event.Event{base, full, failed, denied, purged}
}

// TestTableCoversCatalogue: every built-in type has exactly one row, and
// no row names a type the catalogue does not have.
func TestTableCoversCatalogue(t *testing.T) {
	cat := catalog.Default()
	seen := map[string]bool{}
	for _, m := range ocsf.Table {
		if seen[m.EventType] {
			t.Errorf("%s has two rows", m.EventType)
		}
		seen[m.EventType] = true
		if _, ok := cat.Lookup(m.EventType); !ok {
			t.Errorf("row %s: not a catalogue type", m.EventType)
		}
	}
	for _, ty := range cat.Types() {
		if !seen[ty.Name()] {
			t.Errorf("catalogue type %s has no OCSF mapping", ty.Name())
		}
	}
}

// TestRecordsAgainstSchema renders every catalogue type (and an operator
// type, mapped to Default) in each of its variants and checks each record
// against its class as the vendored OCSF schema defines it, resolved
// through extends, the dictionary and the objects.
func TestRecordsAgainstSchema(t *testing.T) {
	s := loadSchema(t)
	if s.Version != ocsf.SchemaVersion {
		t.Fatalf("SchemaVersion %q, the vendored schema is %q", ocsf.SchemaVersion, s.Version)
	}
	cat, err := catalog.Default().Extend([]byte(`{"event_types":[{"name":"billing.refund","required_detail":["order_id"]},
		{"name":"billing.invoice_update","ocsf":{"class_uid":6003,"activity_id":3}},
		{"name":"sso.login","ocsf":{"class_uid":3002,"activity_id":1}},
		{"name":"tenant.create","ocsf":{"class_uid":3004,"activity_id":1}}]}`))
	if err != nil {
		t.Fatal(err)
	}
	enc, err := ocsf.NewEncoder(origin).WithCatalogue(cat)
	if err != nil {
		t.Fatal(err)
	}
	proof := &merkle.InclusionProof{Seq: 41, TreeSize: 50, Hashes: [][]byte{bytes.Repeat([]byte{9}, 32)}}
	for _, ty := range cat.Types() {
		t.Run(ty.Name(), func(t *testing.T) {
			m := enc.Lookup(ty.Name())
			if class, act, ok := ty.OCSF(); ok && (m.ClassUID != class || m.ActivityID != act) {
				t.Fatalf("declared %d/%d, mapped %d/%d", class, act, m.ClassUID, m.ActivityID)
			}
			sh, ok := s.classes[m.ClassUID]
			if !ok {
				t.Fatalf("class %d is not in the schema", m.ClassUID)
			}
			if m.CategoryUID() != sh.CategoryUID {
				t.Fatalf("category_uid %d, the schema says %d", m.CategoryUID(), sh.CategoryUID)
			}
			for i, e := range variants(ty) {
				for _, p := range []*merkle.InclusionProof{nil, proof} {
					rec := enc.AppendRecord(nil, &e, p)
					v := decode(t, rec)
					if errs := s.check(t, "record", sh, v); len(errs) > 0 {
						t.Errorf("variant %d:\n%s\n%s", i, strings.Join(errs, "\n"), rec)
					}
					checkRecord(t, s, &e, m, v, p != nil)
				}
			}
		})
	}
}

// checkRecord checks what the schema cannot: the arithmetic, the captions,
// and that the record traces back to its event.
func checkRecord(t *testing.T, s *schema, e *event.Event, m ocsf.Mapping, v map[string]any, withProof bool) {
	t.Helper()
	num := func(v any) int64 {
		n, err := v.(json.Number).Int64()
		if err != nil {
			t.Fatalf("%v is not an integer", v)
		}
		return n
	}
	if got, want := num(v["type_uid"]), int64(m.ClassUID*100+m.ActivityID); got != want {
		t.Errorf("type_uid %d, want %d", got, want)
	}
	if got := num(v["time"]); got != 1777809600123 {
		t.Errorf("time %d, want 1777809600123 (ts in epoch ms)", got)
	}
	if got, want := num(v["class_uid"])*100+num(v["activity_id"]), num(v["type_uid"]); got != want {
		t.Errorf("type_uid %d is not class_uid*100+activity_id %d", want, got)
	}
	if got, want := v["activity_name"], s.activityCaption(m.ClassUID, m.ActivityID); got != want {
		t.Errorf("activity_name %v, the schema says %s", got, want)
	}
	if got, want := v["class_name"], s.events[s.classes[m.ClassUID].Name].Caption; got != want {
		t.Errorf("class_name %v, the schema says %s", got, want)
	}
	wantStatus := int64(1)
	if e.Outcome != event.OutcomeSuccess || m.Failure {
		wantStatus = 2
	}
	if got := num(v["status_id"]); got != wantStatus {
		t.Errorf("status_id %d for outcome %s, want %d", got, e.Outcome, wantStatus)
	}
	md := v["metadata"].(map[string]any)
	if md["uid"] != e.ID || md["version"] != s.Version || md["log_name"] != origin || md["tenant_uid"] != e.Tenant {
		t.Errorf("metadata %v does not name the event, schema version and log", md)
	}
	prod := md["product"].(map[string]any)
	if prod["name"] != "stigaudit" || prod["version"] == "" || prod["vendor_name"] == "" {
		t.Errorf("metadata.product %v", prod)
	}
	un := v["unmapped"].(map[string]any)
	if num(un["seq"]) != e.Seq || un["leaf_hash"] != merkle.Hex(e.LeafHash) || un["tenant_id"] != e.Tenant {
		t.Errorf("unmapped %v does not keep seq, leaf_hash and tenant", un)
	}
	if _, ok := un["proof"]; ok != withProof {
		t.Errorf("unmapped.proof present %v, want %v", ok, withProof)
	}
	if e.Detail != nil {
		b, _ := json.Marshal(un["detail"])
		var want any
		_ = json.Unmarshal(e.Detail, &want)
		w, _ := json.Marshal(want)
		if !bytes.Equal(b, w) {
			t.Errorf("unmapped.detail %s, want %s", b, w)
		}
	}
}

// TestEpochMillis pins the time conversion on boundaries.
func TestEpochMillis(t *testing.T) {
	enc := ocsf.NewEncoder(origin)
	for _, tc := range []struct {
		ts   string
		want int64
	}{
		{"1970-01-01T00:00:00.000000Z", 0},
		{"1970-01-01T00:00:00.000999Z", 0},
		{"2026-05-03T12:00:00.123456Z", 1777809600123},
		{"2024-02-29T23:59:59.999999Z", 1709251199999},
		{"9999-12-31T23:59:59.999999Z", 253402300799999},
	} {
		e := event.Event{ID: "x", Type: "fact_read", TS: tc.ts, Tenant: "t", EntityURI: "u", Outcome: "success"}
		v := decode(t, enc.AppendRecord(nil, &e, nil))
		if got, _ := v["time"].(json.Number).Int64(); got != tc.want {
			t.Errorf("%s: time %d, want %d", tc.ts, got, tc.want)
		}
	}
}

func BenchmarkAppendRecord(b *testing.B) {
	enc := ocsf.NewEncoder(origin)
	var evs []event.Event
	for _, ty := range catalog.Default().Types() {
		evs = append(evs, variants(ty)[1])
	}
	var buf []byte
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		buf = enc.AppendRecord(buf[:0], &evs[i%len(evs)], nil)
	}
	b.SetBytes(int64(len(buf)))
}

// TestCheckCatchesBrokenRecords shows the schema check is not vacuous: a
// record missing a required attribute (or a required object's), with an
// enum value outside its enum or a string time fails it.
func TestCheckCatchesBrokenRecords(t *testing.T) {
	s := loadSchema(t)
	ty, _ := catalog.Default().Lookup("api_key_create")
	e := variants(ty)[0]
	good := ocsf.NewEncoder(origin).AppendRecord(nil, &e, nil)
	for _, tc := range []struct{ name, from, to string }{
		{"no metadata.product", `"product":{`, `"x_product":{`},
		{"no entity", `"entity":{`, `"x_entity":{`},
		{"entity without name or uid", `"uid":"v-key_id"`, `"type_id":0`},
		{"severity outside its enum", `"severity_id":1,`, `"severity_id":8,`},
		{"activity outside its enum", `"activity_id":1,`, `"activity_id":55,`},
		{"type_uid of another class", `"type_uid":300401`, `"type_uid":600301`},
		{"time as a string", `"time":1777809600123`, `"time":"1777809600123"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bad := bytes.Replace(good, []byte(tc.from), []byte(tc.to), 1)
			if bytes.Equal(bad, good) {
				t.Fatalf("no %s in %s", tc.from, good)
			}
			if errs := s.check(t, "record", s.classes[ocsf.ClassEntityManagement], decode(t, bad)); len(errs) == 0 {
				t.Fatalf("passes: %s", bad)
			}
		})
	}
	if errs := s.check(t, "record", s.classes[ocsf.ClassEntityManagement], decode(t, good)); len(errs) > 0 {
		t.Fatalf("the good record fails: %v", errs)
	}
}

// An operator's declaration the encoder cannot render is refused, so the
// server does not start with it.
func TestDeclaredClassesRefused(t *testing.T) {
	for _, decl := range []string{`{"class_uid":1001,"activity_id":1}`, `{"class_uid":6003,"activity_id":55}`} {
		cat, err := catalog.Default().Extend([]byte(`{"event_types":[{"name":"x.y","ocsf":` + decl + `}]}`))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := ocsf.NewEncoder(origin).WithCatalogue(cat); !errors.Is(err, auditerr.ErrInvalidConfig) {
			t.Errorf("%s: %v, want invalid_config", decl, err)
		}
	}
}
