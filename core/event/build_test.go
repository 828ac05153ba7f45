package event

import (
	"errors"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/stigaudit/stigaudit/core/auditerr"
	"github.com/stigaudit/stigaudit/core/catalog"
)

func ptr(s string) *string { return &s }

func TestBuildDefaultsAndNormalisation(t *testing.T) {
	var b Builder
	d := Draft{Type: "fact_write", EntityURI: "urn:a", Tenant: "  ACME-Corp ", ID: "019DEDB5-AE7B-7123-8567-89ABCDEF0123", Detail: []byte(` { "b" : 2 , "a" : 1 } `)}
	e, err := b.Build(&d, fixedNow, iotest.ErrReader(errors.New("entropy must not be read when an id is given")))
	if err != nil {
		t.Fatal(err)
	}
	want := Event{
		Seq: -1, ID: "019dedb5-ae7b-7123-8567-89abcdef0123", Type: "fact_write", TS: "2026-05-03T12:00:00.123456Z",
		Tenant: "acme-corp", EntityURI: "urn:a", Outcome: "success", Detail: []byte(`{"a":1,"b":2}`),
	}
	if !e.SameContent(&want) || e.TS != want.TS || e.Seq != -1 {
		t.Fatalf("Build = %+v\nwant %+v", e, want)
	}
	if e.LeafHash != LeafHash(AppendCanonical(nil, &e)) {
		t.Error("LeafHash is not the hash of the canonical form")
	}
}

func TestBuildGeneratesID(t *testing.T) {
	var b Builder
	d := Draft{Type: "fact_read", EntityURI: "urn:a"}
	e, err := b.Build(&d, fixedNow, zeroEntropy())
	if err != nil {
		t.Fatal(err)
	}
	if e.ID != "019dedb5-ae7b-7000-8000-000000000000" || e.Tenant != DefaultTenant || e.Detail != nil || e.Source != "" {
		t.Fatalf("Build = %+v", e)
	}
	if _, err := b.Build(&d, fixedNow, iotest.ErrReader(errors.New("down"))); !errors.Is(err, auditerr.ErrEntropyUnavailable) {
		t.Fatalf("failing entropy: %v", err)
	}
}

func TestBuildTimestamps(t *testing.T) {
	var b Builder
	d := Draft{Type: "fact_read", EntityURI: "urn:a", ID: "019dedb5-ae7b-7000-8000-000000000000"}
	tests := []struct {
		now  time.Time
		want string
	}{
		{time.Date(2026, 5, 3, 12, 0, 0, 0, time.UTC), "2026-05-03T12:00:00.000000Z"},
		{time.Date(2026, 5, 3, 14, 0, 0, 999999999, time.FixedZone("CEST", 2*3600)), "2026-05-03T12:00:00.999999Z"},
		{time.Date(1, 1, 1, 0, 0, 0, 1000, time.UTC), "0001-01-01T00:00:00.000001Z"},
	}
	for _, tt := range tests {
		e, err := b.Build(&d, tt.now, zeroEntropy())
		if err != nil || e.TS != tt.want {
			t.Errorf("Build at %v: TS %q, %v; want %q", tt.now, e.TS, err, tt.want)
		}
		if !ValidTS(e.TS) {
			t.Errorf("ValidTS(%q) = false", e.TS)
		}
	}
	if _, err := b.Build(&d, time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC), zeroEntropy()); !errors.Is(err, auditerr.ErrInvalidInput) {
		t.Errorf("year 10000: %v", err)
	}
}

func TestBuildInstruction(t *testing.T) {
	var b Builder
	tests := []struct {
		name   string
		d      Draft
		detail string
		source string
	}{
		{"entity prefix, nulls kept",
			Draft{Type: "instruction_quarantined", EntityURI: "urn:actor", Fact: &FactRef{Entity: ptr("instruction:run")}},
			`{"fact_entity":"instruction:run","fact_interpret_as":null,"fact_relation":null}`, "urn:actor"},
		{"interpret_as, caller keys win and source kept",
			Draft{Type: "instruction_promoted", EntityURI: "urn:actor", Source: "review", Detail: []byte(`{"fact_relation":"override","reviewer":"r","a":1}`),
				Fact: &FactRef{Entity: ptr("doc"), Relation: ptr("says"), InterpretAs: ptr("instruction")}},
			`{"a":1,"fact_entity":"doc","fact_interpret_as":"instruction","fact_relation":"override","reviewer":"r"}`, "review"},
		{"relation prefix",
			Draft{Type: "instruction_promoted", EntityURI: "urn:actor", Fact: &FactRef{Entity: ptr(""), Relation: ptr("instruction:do"), InterpretAs: ptr("content")}},
			`{"fact_entity":"","fact_interpret_as":"content","fact_relation":"instruction:do"}`, "urn:actor"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, err := b.Build(&tt.d, fixedNow, zeroEntropy())
			if err != nil {
				t.Fatal(err)
			}
			if string(e.Detail) != tt.detail || e.Source != tt.source {
				t.Errorf("detail %s source %q; want %s %q", e.Detail, e.Source, tt.detail, tt.source)
			}
		})
	}
	notInstr := Draft{Type: "instruction_quarantined", EntityURI: "urn:actor", Fact: &FactRef{Entity: ptr("Instruction:x"), InterpretAs: ptr("content")}}
	if _, err := b.Build(&notInstr, fixedNow, zeroEntropy()); !errors.Is(err, auditerr.ErrNotInstruction) {
		t.Errorf("non-instruction fact: %v, want not_instruction", err)
	}
}

func TestBuildErrors(t *testing.T) {
	ok := func(mod func(*Draft)) Draft {
		d := Draft{Type: "fact_write", EntityURI: "urn:a"}
		mod(&d)
		return d
	}
	long := strings.Repeat("x", MaxFieldBytes+1)
	tests := []struct {
		name string
		d    Draft
		code auditerr.Code
	}{
		{"missing type", ok(func(d *Draft) { d.Type = "" }), "missing_field"},
		{"unknown type", ok(func(d *Draft) { d.Type = "fact_writ" }), "unknown_event_type"},
		{"type wrong case", ok(func(d *Draft) { d.Type = "Fact_Write" }), "unknown_event_type"},
		{"missing entity", ok(func(d *Draft) { d.EntityURI = "" }), "missing_field"},
		{"bad id", ok(func(d *Draft) { d.ID = "not-a-uuid" }), "invalid_id"},
		{"bad tenant", ok(func(d *Draft) { d.Tenant = "-acme" }), "invalid_tenant"},
		{"tenant with space inside", ok(func(d *Draft) { d.Tenant = "ac me" }), "invalid_tenant"},
		{"tenant too long", ok(func(d *Draft) { d.Tenant = strings.Repeat("a", 64) }), "invalid_tenant"},
		{"blank tenant", ok(func(d *Draft) { d.Tenant = "   " }), "invalid_tenant"},
		{"bad hlc", ok(func(d *Draft) { d.HLC = "12" }), "invalid_hlc"},
		{"hlc leading zero", ok(func(d *Draft) { d.HLC = "012.1" }), "invalid_hlc"},
		{"bad outcome", ok(func(d *Draft) { d.Outcome = "Success" }), "invalid_outcome"},
		{"control char in entity", ok(func(d *Draft) { d.EntityURI = "urn:a\nforged" }), "invalid_field"},
		{"bidi override in source", ok(func(d *Draft) { d.Source = "a\u202eb" }), "invalid_field"},
		{"C1 control in scope", ok(func(d *Draft) { d.Scope = "a\u0085b" }), "invalid_field"},
		{"invalid utf8 in emitter", ok(func(d *Draft) { d.Emitter = "a\xffb" }), "invalid_field"},
		{"long fact_id", ok(func(d *Draft) { d.FactID = long }), "invalid_field"},
		{"long source", ok(func(d *Draft) { d.Source = strings.Repeat("s", MaxSourceBytes+1) }), "invalid_field"},
		{"fact on other type", ok(func(d *Draft) { d.Fact = &FactRef{Entity: ptr("instruction:x")} }), "invalid_field"},
		{"instruction without fact", ok(func(d *Draft) { d.Type = "instruction_promoted" }), "missing_field"},
		{"bad interpret_as", ok(func(d *Draft) {
			d.Type = "instruction_promoted"
			d.Fact = &FactRef{Entity: ptr("instruction:x"), InterpretAs: ptr("script")}
		}), "invalid_interpret_as"},
		{"interpret_as code is not an instruction", ok(func(d *Draft) {
			d.Type = "instruction_quarantined"
			d.Fact = &FactRef{Entity: ptr("doc:1"), InterpretAs: ptr("code")}
		}), "not_instruction"},
		{"inexact number in detail", ok(func(d *Draft) { d.Detail = []byte(`{"n":9007199254740993}`) }), "inexact_number"},
		{"action of admin_action is a string", ok(func(d *Draft) {
			d.Type = "admin_action"
			d.Detail = []byte(`{"action":5}`)
		}), "missing_detail_key"},
		{"fact invalid utf8", ok(func(d *Draft) {
			d.Type = "instruction_promoted"
			d.Fact = &FactRef{Entity: ptr("instruction:\xff")}
		}), "invalid_field"},
		{"not instruction", ok(func(d *Draft) {
			d.Type = "instruction_quarantined"
			d.Fact = &FactRef{Entity: ptr("doc")}
		}), "not_instruction"},
		{"detail array", ok(func(d *Draft) { d.Detail = []byte(`[1]`) }), "invalid_detail"},
		{"detail string", ok(func(d *Draft) { d.Detail = []byte(`"x"`) }), "invalid_detail"},
		{"detail malformed", ok(func(d *Draft) { d.Detail = []byte(`{"a":}`) }), "invalid_detail"},
		{"detail duplicate key", ok(func(d *Draft) { d.Detail = []byte(`{"a":1,"a":2}`) }), "invalid_detail"},
		{"detail too large", ok(func(d *Draft) { d.Detail = []byte(`{"a":"` + strings.Repeat("x", 16<<10) + `"}`) }), "detail_too_large"},
		{"detail too deep", ok(func(d *Draft) { d.Detail = []byte(strings.Repeat(`{"a":`, 17) + "1" + strings.Repeat("}", 17)) }), "detail_too_deep"},
		{"merged detail too large", ok(func(d *Draft) {
			d.Type = "instruction_promoted"
			d.Fact = &FactRef{Entity: ptr("instruction:x")}
			d.Detail = []byte(`{"a":"` + strings.Repeat("x", 16<<10-10) + `"}`)
		}), "detail_too_large"},
		{"missing detail key", ok(func(d *Draft) { d.Type = "quota_breach" }), "missing_detail_key"},
		{"detail key constraint", ok(func(d *Draft) {
			d.Type = "peer_hlc_anomaly"
			d.Detail = []byte(`{"direction":"up","sender_node_id":"n","skew_ms":1}`)
		}), "missing_detail_key"},
	}
	var b Builder
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, err := b.Build(&tt.d, fixedNow, zeroEntropy())
			if got := auditerr.CodeOf(err); got != tt.code {
				t.Fatalf("Build = %+v, %v; want code %s", e, err, tt.code)
			}
		})
	}
}

func TestBuildLimits(t *testing.T) {
	deep := []byte(strings.Repeat(`{"a":`, 16) + "1" + strings.Repeat("}", 16))
	d := Draft{Type: "fact_write", EntityURI: "urn:a", Detail: deep}
	var def Builder
	if _, err := def.Build(&d, fixedNow, zeroEntropy()); err != nil {
		t.Fatalf("16 levels refused by default limits: %v", err)
	}
	tight := Builder{Limits: Limits{MaxDetailBytes: 10, MaxDetailDepth: 3}}
	if _, err := tight.Build(&d, fixedNow, zeroEntropy()); !errors.Is(err, auditerr.ErrDetailTooDeep) {
		t.Fatalf("depth 16 with limit 3: %v", err)
	}
	d.Detail = []byte(`{"a":"123"}`) // 11 bytes canonical
	if _, err := tight.Build(&d, fixedNow, zeroEntropy()); !errors.Is(err, auditerr.ErrDetailTooLarge) {
		t.Fatalf("11 bytes with limit 10: %v", err)
	}
	d.Detail = []byte(` { "a" : "12" } `) // 10 bytes canonical
	if _, err := tight.Build(&d, fixedNow, zeroEntropy()); err != nil {
		t.Fatalf("10 canonical bytes with limit 10: %v", err)
	}
}

func TestBuildEmptyDetail(t *testing.T) {
	var b Builder
	for _, detail := range []string{`{}`, ` { } `, `null`, ``} {
		d := Draft{Type: "fact_write", EntityURI: "urn:a", Detail: []byte(detail)}
		e, err := b.Build(&d, fixedNow, zeroEntropy())
		if err != nil || e.Detail != nil {
			t.Errorf("detail %q: Detail %q, %v; want nil", detail, e.Detail, err)
		}
		if strings.Contains(string(AppendCanonical(nil, &e)), "detail") {
			t.Errorf("detail %q appears in the canonical form", detail)
		}
	}
}

func TestBuildExtendedCatalogue(t *testing.T) {
	cat, err := catalog.Default().Extend([]byte(`{"event_types":[{"name":"billing.invoice_sent","required_detail":["invoice_id"]}]}`))
	if err != nil {
		t.Fatal(err)
	}
	b := Builder{Catalogue: cat}
	d := Draft{Type: "billing.invoice_sent", EntityURI: "urn:a", Detail: []byte(`{"invoice_id":"i-1"}`)}
	if _, err := b.Build(&d, fixedNow, zeroEntropy()); err != nil {
		t.Fatal(err)
	}
	var def Builder
	if _, err := def.Build(&d, fixedNow, zeroEntropy()); !errors.Is(err, auditerr.ErrUnknownEventType) {
		t.Fatalf("default catalogue accepted an operator type: %v", err)
	}
}

func TestBuildAllocations(t *testing.T) {
	for _, d := range []Draft{factWriteDraft(), typicalDraft()} {
		var b Builder
		ent := &countingEntropy{}
		allocs := testing.AllocsPerRun(200, func() {
			if _, err := b.Build(&d, fixedNow, ent); err != nil {
				t.Fatal(err)
			}
		})
		if allocs > 10 {
			t.Errorf("Build of a %s allocates %.0f times, budget 10", d.Type, allocs)
		}
	}
}

func TestNormalizeTenant(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", "default"},
		{"acme", "acme"},
		{" Acme ", "acme"},
		{"ACME-42", "acme-42"},
		{"0", "0"},
		{"ａｃｍｅ", "acme"},        // fullwidth, NFKC
		{"\u212Acorp", "kcorp"}, // Kelvin sign
		{"\u00a0acme\u3000", "acme"},
		{strings.Repeat("a", 63), strings.Repeat("a", 63)},
	}
	for _, tt := range tests {
		got, err := NormalizeTenant(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("NormalizeTenant(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
	for _, bad := range []string{" ", "-a", "a_b", "a.b", "é", "acme\x00", "a\xff", strings.Repeat("a", 64), strings.Repeat(" ", 300) + "a"} {
		if _, err := NormalizeTenant(bad); !errors.Is(err, auditerr.ErrInvalidTenant) {
			t.Errorf("NormalizeTenant(%q) error %v, want invalid_tenant", bad, err)
		}
	}
}

func TestValidHLC(t *testing.T) {
	for _, ok := range []string{"0.0", "1777809600123.0", "1.42", "9223372036854775807.9223372036854775807"} {
		if !ValidHLC(ok) {
			t.Errorf("ValidHLC(%q) = false", ok)
		}
	}
	for _, bad := range []string{"", ".", "1", "1.", ".1", "01.1", "1.01", "-1.1", "+1.1", "1.1.1", "1e3.1", " 1.1", "1.1 ", "9223372036854775808.1", "12345678901234567890.1", "a.b"} {
		if ValidHLC(bad) {
			t.Errorf("ValidHLC(%q) = true", bad)
		}
	}
}

func TestValidTS(t *testing.T) {
	for _, ok := range []string{"2026-05-03T12:00:00.123456Z", "2024-02-29T23:59:59.999999Z", "0000-01-01T00:00:00.000000Z"} {
		if !ValidTS(ok) {
			t.Errorf("ValidTS(%q) = false", ok)
		}
	}
	for _, bad := range []string{"", "2026-05-03T12:00:00.123Z", "2026-05-03T12:00:00.123456+00:00", "2026-05-03 12:00:00.123456Z",
		"2025-02-29T00:00:00.000000Z", "2026-13-01T00:00:00.000000Z", "2026-04-31T00:00:00.000000Z", "2026-05-03T24:00:00.000000Z",
		"2026-05-03T12:60:00.000000Z", "2026-05-03T12:00:60.000000Z", "2026-05-03t12:00:00.123456Z", "2026-05-00T12:00:00.123456Z"} {
		if ValidTS(bad) {
			t.Errorf("ValidTS(%q) = true", bad)
		}
	}
	if s, err := FormatTS(fixedNow); err != nil || s != "2026-05-03T12:00:00.123456Z" {
		t.Errorf("FormatTS = %q, %v", s, err)
	}
	if s, err := FormatTS(fixedNow); err != nil || s != fixedNow.Format(TSLayout) {
		t.Errorf("FormatTS = %q, time.Format = %q", s, fixedNow.Format(TSLayout))
	}
}

func TestSameContent(t *testing.T) {
	var b Builder
	d := Draft{ID: "019dedb5-ae7b-7000-8000-000000000000", Type: "fact_write", EntityURI: "urn:a", Detail: []byte(`{"k":"v"}`)}
	e1, err := b.Build(&d, fixedNow, zeroEntropy())
	if err != nil {
		t.Fatal(err)
	}
	// A re-send built later differs in TS and leaf hash only.
	e2, err := b.Build(&d, fixedNow.Add(time.Second), zeroEntropy())
	if err != nil {
		t.Fatal(err)
	}
	e2.Seq = 7
	if !e1.SameContent(&e2) {
		t.Error("a re-sent draft is not the same content")
	}
	mods := map[string]func(*Event){
		"id": func(e *Event) { e.ID = "019dedb5-ae7b-7000-8000-000000000001" }, "type": func(e *Event) { e.Type = "fact_read" },
		"hlc": func(e *Event) { e.HLC = "1.1" }, "tenant": func(e *Event) { e.Tenant = "t" },
		"entity": func(e *Event) { e.EntityURI = "urn:b" }, "emitter": func(e *Event) { e.Emitter = "x" },
		"oidc": func(e *Event) { e.OIDCSub = "x" }, "fact_id": func(e *Event) { e.FactID = "x" },
		"source": func(e *Event) { e.Source = "x" }, "attested": func(e *Event) { e.AttestedKeyID = "x" },
		"scope": func(e *Event) { e.Scope = "x" }, "outcome": func(e *Event) { e.Outcome = "denied" },
		"detail": func(e *Event) { e.Detail = []byte(`{"k":"w"}`) }, "no detail": func(e *Event) { e.Detail = nil },
	}
	for name, mod := range mods {
		e3 := e1
		mod(&e3)
		if e1.SameContent(&e3) || e3.SameContent(&e1) {
			t.Errorf("events differing in %s have the same content", name)
		}
	}
}

// TestBuildJSONLimits: BuildJSON answers as ParseDraft+Build also under a
// builder's own limits.
func TestBuildJSONLimits(t *testing.T) {
	drafts := []string{
		`{"event_type":"fact_write","entity_uri":"urn:a","detail":{"b":1,"a":[true,null],"c":{"d":{"e":1}}}}`,
		`{"event_type":"fact_write","entity_uri":"urn:a","detail":{"b":"` + strings.Repeat("x", 60) + `"}}`,
		`{"event_type":"instruction_promoted","entity_uri":"urn:a","fact":{"entity":"instruction:x","relation":null,"interpret_as":"content"},"detail":{"z":1}}`,
		`{"event_type":"fact_write","entity_uri":"urn:a","detail":{}}`,
		`{"event_type":"fact_write","entity_uri":"urn:a","detail":null}`,
		`{"event_type":"fact_write","detail":[1]}`,
	}
	for _, lim := range []Limits{{}, {MaxDetailBytes: 40}, {MaxDetailDepth: 2}, {MaxDetailBytes: 70, MaxDetailDepth: 1}} {
		b := Builder{Limits: lim}
		for _, d := range drafts {
			e1, err1 := parseAndBuild(&b, []byte(d), fixedNow, zeroEntropy())
			e2, err2 := b.BuildJSON([]byte(d), fixedNow, zeroEntropy())
			sameBuild(t, d, e1, err1, e2, err2)
		}
	}
}
