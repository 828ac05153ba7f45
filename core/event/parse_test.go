package event

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/stigaudit/stigaudit/core/auditerr"
	"github.com/stigaudit/stigaudit/core/jcs"
)

func TestParseDraft(t *testing.T) {
	in := `{
		"id": "019dedb5-ae7b-7123-8567-89abcdef0123", "event_type": "instruction_promoted", "hlc": "1.2",
		"tenant_id": "Acme", "entity_uri": "urn:a", "emitter": null, "oidc_sub": "sub\u00e9",
		"fact_id": "f1", "source": "", "attested_key_id": "k", "scope": "s", "outcome": "denied",
		"detail": {"b": [1, 2.50], "a": "\u0041"},
		"fact": {"entity": "instruction:x", "relation": null, "interpret_as": "content"}
	}`
	d, err := ParseDraft([]byte(in), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	want := Draft{ID: "019dedb5-ae7b-7123-8567-89abcdef0123", Type: "instruction_promoted", HLC: "1.2", Tenant: "Acme",
		EntityURI: "urn:a", OIDCSub: "subé", FactID: "f1", AttestedKeyID: "k", Scope: "s", Outcome: "denied"}
	got := d
	got.Detail, got.Fact = nil, nil
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("ParseDraft =\n %+v\nwant\n %+v", got, want)
	}
	if string(d.Detail) != `{"a":"A","b":[1,2.5]}` {
		t.Errorf("Detail = %s, want it canonical", d.Detail)
	}
	if d.Fact == nil || show(d.Fact.Entity) != `"instruction:x"` || d.Fact.Relation != nil || show(d.Fact.InterpretAs) != `"content"` {
		t.Errorf("Fact = %+v", d.Fact)
	}
	// Appending to Detail must not overwrite anything else.
	_ = append(d.Detail, "garbage"...)
	if d.Fact == nil || *d.Fact.Entity != "instruction:x" {
		t.Error("Detail shares capacity with other fields")
	}

	d, err = ParseDraft([]byte(`{"event_type":"fact_read","entity_uri":"urn:a","detail":null,"fact":null,"id":null}`), Limits{})
	if err != nil || d.Detail != nil || d.Fact != nil || d.ID != "" {
		t.Errorf("nulls: %+v, %v", d, err)
	}
}

func TestParseDraftErrors(t *testing.T) {
	tests := []struct {
		in   string
		lim  Limits
		code auditerr.Code
		msg  string // part of the message, naming the field
	}{
		{`{"event_type":"x"`, Limits{}, "invalid_json", ""},
		{`{"event_type":"x"} x`, Limits{}, "invalid_json", ""},
		{`{"event_type":"x","event_type":"y"}`, Limits{}, "invalid_json", "duplicate"},
		{"{\"entity_uri\":\"\xff\"}", Limits{}, "invalid_json", ""},
		{`[]`, Limits{}, "invalid_input", ""},
		{`{"event_type":1}`, Limits{}, "invalid_field", "event_type"},
		{`{"entity_uri":true}`, Limits{}, "invalid_field", "entity_uri"},
		{`{"tenant_id":{}}`, Limits{}, "invalid_field", "tenant_id"},
		{`{"scope":["s"]}`, Limits{}, "invalid_field", "scope"},
		{`{"seq":1}`, Limits{}, "invalid_field", "seq"},
		{`{"ts":"2026-05-03T12:00:00.000000Z"}`, Limits{}, "invalid_field", "ts"},
		{`{"leaf_hash":null}`, Limits{}, "invalid_field", "leaf_hash"},
		{`{"actor":"x"}`, Limits{}, "unknown_field", "actor"},
		{`{"Event_Type":"x"}`, Limits{}, "unknown_field", "Event_Type"},
		{`{"detail":[]}`, Limits{}, "invalid_detail", ""},
		{`{"detail":"{}"}`, Limits{}, "invalid_detail", ""},
		{`{"detail":{"a":"12345"}}`, Limits{MaxDetailBytes: 12}, "detail_too_large", ""},
		{`{"detail":{"a":{"b":{}}}}`, Limits{MaxDetailDepth: 2}, "detail_too_deep", ""},
		{`{"detail":` + strings.Repeat("[", 2000) + strings.Repeat("]", 2000) + `}`, Limits{}, "detail_too_deep", ""},
		{`{"fact":"instruction:x"}`, Limits{}, "invalid_field", "fact"},
		{`{"fact":{"entity":1}}`, Limits{}, "invalid_field", "fact.entity"},
		{`{"fact":{"interpret_as":false}}`, Limits{}, "invalid_field", "fact.interpret_as"},
		{`{"fact":{"kind":"x"}}`, Limits{}, "unknown_field", "fact.kind"},
	}
	for _, tt := range tests {
		_, err := ParseDraft([]byte(tt.in), tt.lim)
		if auditerr.CodeOf(err) != tt.code || !strings.Contains(fmt.Sprint(err), tt.msg) {
			t.Errorf("ParseDraft(%.60s) error %v; want code %s mentioning %q", tt.in, err, tt.code, tt.msg)
		}
	}
	// Limits at the boundary are accepted.
	if _, err := ParseDraft([]byte(`{"detail":{"a":"1234"}}`), Limits{MaxDetailBytes: 12, MaxDetailDepth: 1}); err != nil {
		t.Errorf("detail exactly at the limits: %v", err)
	}
}

func TestParseEmitRequest(t *testing.T) {
	ds, batch, err := ParseEmitRequest([]byte(`{"event_type":"fact_read","entity_uri":"urn:a"}`), Limits{})
	if err != nil || batch || len(ds) != 1 || ds[0].Type != "fact_read" {
		t.Fatalf("single: %+v, %v, %v", ds, batch, err)
	}
	ds, batch, err = ParseEmitRequest([]byte(`{"events":[{"event_type":"fact_read","entity_uri":"urn:a"},{"event_type":"fact_write","entity_uri":"urn:b","detail":{"k":1}}]}`), Limits{})
	if err != nil || !batch || len(ds) != 2 || ds[0].EntityURI != "urn:a" || ds[1].Type != "fact_write" || string(ds[1].Detail) != `{"k":1}` {
		t.Fatalf("batch: %+v, %v, %v", ds, batch, err)
	}
	ds, batch, err = ParseEmitRequest([]byte(`{"events":[]}`), Limits{})
	if err != nil || !batch || len(ds) != 0 {
		t.Fatalf("empty batch: %+v, %v, %v", ds, batch, err)
	}

	// Every bad item is named, with its own code, in order.
	_, batch, err = ParseEmitRequest([]byte(`{"events":[{"event_type":"fact_read"},{"seq":1},7,{"detail":[]},{"x":1}]}`), Limits{})
	var be *auditerr.BatchError
	if !batch || !errors.As(err, &be) || !errors.Is(err, auditerr.ErrInvalidBatch) || auditerr.CodeOf(err) != "invalid_batch" {
		t.Fatalf("bad batch: %v, %v", batch, err)
	}
	type item struct {
		index int
		code  auditerr.Code
	}
	var got []item
	for _, it := range be.Items {
		got = append(got, item{it.Index, it.Code})
	}
	want := []item{{1, "invalid_field"}, {2, "invalid_field"}, {3, "invalid_detail"}, {4, "unknown_field"}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("items %v, want %v", got, want)
	}

	tests := []struct {
		in   string
		code auditerr.Code
	}{
		{`{"events":[` + strings.TrimSuffix(strings.Repeat(`{},`, DefaultMaxBatchEvents+1), ",") + `]}`, "batch_too_large"},
		{`{"events":{}}`, "invalid_field"},
		{`{"events":[],"event_type":"x"}`, "unknown_field"},
		{`{"events":[}`, "invalid_json"},
		{`"events"`, "invalid_input"},
		{`{"events":[{"detail":"` + strings.Repeat("x", DefaultMaxRequestBytes) + `"}]}`, "too_large"},
	}
	for _, tt := range tests {
		if _, _, err := ParseEmitRequest([]byte(tt.in), Limits{}); auditerr.CodeOf(err) != tt.code {
			t.Errorf("ParseEmitRequest(%.40s...) error %v, want %s", tt.in, err, tt.code)
		}
	}
	full := `{"events":[` + strings.TrimSuffix(strings.Repeat(`{},`, DefaultMaxBatchEvents), ",") + `]}`
	if ds, _, err := ParseEmitRequest([]byte(full), Limits{}); err != nil || len(ds) != DefaultMaxBatchEvents {
		t.Errorf("batch of exactly %d: %d drafts, %v", DefaultMaxBatchEvents, len(ds), err)
	}
}

func TestParseEvent(t *testing.T) {
	d := typicalDraft()
	var b Builder
	e, err := b.Build(&d, fixedNow, zeroEntropy())
	if err != nil {
		t.Fatal(err)
	}
	e.Seq = 41
	api := AppendJSON(nil, &e)
	back, err := ParseEvent(api)
	if err != nil {
		t.Fatal(err)
	}
	if !back.SameContent(&e) || back.Seq != 41 || back.TS != e.TS || back.LeafHash != e.LeafHash {
		t.Fatalf("ParseEvent(AppendJSON) = %+v, want %+v", back, e)
	}
	if !bytes.Equal(AppendJSON(nil, &back), api) {
		t.Fatal("AppendJSON(ParseEvent(x)) != x")
	}
	// A claimed leaf hash is kept as given, for the verifier to compare.
	forged := bytes.Replace(api, []byte(`"outcome":"success"`), []byte(`"outcome":"denied"`), 1)
	f, err := ParseEvent(forged)
	if err != nil || f.LeafHash != e.LeafHash || LeafHash(AppendCanonical(nil, &f)) == f.LeafHash {
		t.Fatalf("forged event: %v; the recomputed hash must differ from the claimed one", err)
	}

	base := string(AppendCanonical(nil, &e))
	var drop func(field string) string
	set := func(field, value string) string { // replaces or adds a member
		return `{"` + field + `":` + value + `,` + strings.TrimPrefix(drop(field), "{")
	}
	drop = func(field string) string {
		var out []string
		it := jcs.Members([]byte(base))
		for it.Next() {
			if m := it.Member(); !m.NameIs(field) {
				out = append(out, `"`+string(m.Key)+`":`+string(m.Value))
			}
		}
		return "{" + strings.Join(out, ",") + "}"
	}
	if _, err := ParseEvent([]byte(drop("nothing"))); err != nil {
		t.Fatalf("drop helper broke the event: %v", err)
	}
	tests := []struct {
		in   string
		code auditerr.Code
	}{
		{drop("id"), "missing_field"},
		{drop("event_type"), "missing_field"},
		{drop("ts"), "missing_field"},
		{drop("tenant_id"), "missing_field"},
		{drop("entity_uri"), "missing_field"},
		{drop("outcome"), "missing_field"},
		{strings.Replace(base, e.ID, strings.ToUpper(e.ID), 1), "invalid_id"},
		{strings.Replace(base, `"tenant_id":"acme"`, `"tenant_id":"ACME"`, 1), "invalid_tenant"},
		{strings.Replace(base, `"event_type":"peer_hlc_anomaly"`, `"event_type":"Bad Name"`, 1), "invalid_event_type"},
		{strings.Replace(base, `.123456Z`, `.123Z`, 1), "invalid_field"},
		{strings.Replace(base, `"outcome":"success"`, `"outcome":"ok"`, 1), "invalid_outcome"},
		{strings.Replace(base, `"hlc":"1777809600123.7"`, `"hlc":"x"`, 1), "invalid_hlc"},
		{strings.Replace(base, `"entity_uri":"urn:stigmem:node:alpha"`, `"entity_uri":""`, 1), "missing_field"},
		{set("seq", "-1"), "invalid_field"},
		{set("seq", "1.5"), "invalid_field"},
		{set("seq", `"1"`), "invalid_field"},
		{set("leaf_hash", `"00"`), "invalid_field"},
		{set("leaf_hash", `"`+strings.Repeat("A", 64)+`"`), "invalid_field"},
		{set("detail", `[]`), "invalid_detail"},
		{set("zzz", `1`), "unknown_field"},
		{set("source", `1`), "invalid_field"},
		{`[]`, "invalid_input"},
		{`{`, "invalid_json"},
	}
	for _, tt := range tests {
		if _, err := ParseEvent([]byte(tt.in)); auditerr.CodeOf(err) != tt.code {
			t.Errorf("ParseEvent(%s) error %v, want %s", tt.in, err, tt.code)
		}
	}
	// seq at 2^53 is accepted; an empty detail object reads as nil.
	if ev, err := ParseEvent([]byte(set("seq", "9007199254740992"))); err != nil || ev.Seq != 1<<53 {
		t.Errorf("seq 2^53: %d, %v", ev.Seq, err)
	}
	if ev, err := ParseEvent([]byte(set("detail", "{}"))); err != nil || ev.Detail != nil {
		t.Errorf("empty detail: %q, %v", ev.Detail, err)
	}
}

func FuzzParseDraft(f *testing.F) {
	f.Add([]byte(`{"event_type":"fact_write","entity_uri":"urn:a","detail":{"b":1,"a":[true,null]}}`))
	f.Add([]byte(`{"event_type":"instruction_promoted","entity_uri":"urn:a","fact":{"entity":"instruction:x","relation":null,"interpret_as":"content"}}`))
	f.Add([]byte(`{"events":[{"event_type":"fact_read","entity_uri":"urn:a"},{"seq":1}]}`))
	f.Add([]byte(`{"id":"019DEDB5-AE7B-7123-8567-89ABCDEF0123","tenant_id":" Ａcme ","hlc":"1.2","outcome":"denied"}`))
	f.Add([]byte(`{"detail":{"\ud83d\ude00":"\u0000"},"source":"\u202e"}`))
	f.Add([]byte(`{"event_type":"fact_write","entity_uri":"urn:a","detail":{"n":9007199254740993,"m":0.10,"z":-0}}`))
	f.Add([]byte(`{"events":[{"event_type":"fact_read","entity_uri":"urn:a","detail":{"t":1e-400}},{"x":1e400},[18446744073709551616]]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var b Builder
		e1, err1 := parseAndBuild(&b, data, fixedNow, zeroEntropy())
		e2, err2 := b.BuildJSON(data, fixedNow, zeroEntropy())
		sameBuild(t, string(data), e1, err1, e2, err2)
		checkFastPath(t, data, Limits{})
		checkFastPath(t, data, Limits{MaxDetailBytes: 40, MaxDetailDepth: 2})
		d, err := ParseDraft(data, Limits{})
		if err != nil {
			if auditerr.CodeOf(err) == "" {
				t.Fatalf("error without a code: %v", err)
			}
		} else {
			e, err := b.Build(&d, fixedNow, zeroEntropy())
			if err != nil {
				if auditerr.CodeOf(err) == "" {
					t.Fatalf("Build error without a code: %v", err)
				}
			} else {
				// What Build accepts round-trips through the API form.
				back, err := ParseEvent(AppendJSON(nil, &e))
				if err != nil || !back.SameContent(&e) || back.LeafHash != e.LeafHash {
					t.Fatalf("round trip of %+v: %+v, %v", e, back, err)
				}
			}
		}
		ds, _, err := ParseEmitRequest(data, Limits{})
		if err == nil {
			for i := range ds {
				_, _ = b.Build(&ds[i], fixedNow, zeroEntropy())
			}
		} else if auditerr.CodeOf(err) == "" {
			t.Fatalf("ParseEmitRequest error without a code: %v", err)
		}
	})
}

func FuzzParseEvent(f *testing.F) {
	var b Builder
	for _, d := range []Draft{typicalDraft(), {Type: "fact_read", EntityURI: "e"}} {
		e, err := b.Build(&d, fixedNow, zeroEntropy())
		if err != nil {
			f.Fatal(err)
		}
		f.Add(AppendJSON(nil, &e))
		f.Add(AppendCanonical(nil, &e))
		e.Seq = 3
		f.Add(AppendJSON(nil, &e))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		e, err := ParseEvent(data)
		if err != nil {
			if auditerr.CodeOf(err) == "" {
				t.Fatalf("error without a code: %v", err)
			}
			return
		}
		api := AppendJSON(nil, &e)
		back, err := ParseEvent(api)
		if err != nil {
			t.Fatalf("ParseEvent(AppendJSON(%+v)) = %v", e, err)
		}
		if again := AppendJSON(nil, &back); !bytes.Equal(again, api) {
			t.Fatalf("AppendJSON not stable:\n%s\n%s", api, again)
		}
		canon := AppendCanonical(nil, &e)
		fromCanon, err := ParseEvent(canon)
		if err != nil || !bytes.Equal(AppendCanonical(nil, &fromCanon), canon) {
			t.Fatalf("canonical form not stable: %s, %v", canon, err)
		}
	})
}

// TestBatchNamesInexactEvents: in a batch, each event holding a number its
// canonical form would change is named by index, beside the other bad
// events; a single event, or a number outside the events, fails the
// request as a whole.
func TestBatchNamesInexactEvents(t *testing.T) {
	ev := func(extra string) string { return `{"event_type":"fact_write","entity_uri":"urn:a"` + extra + `}` }
	body := `{"events":[` + ev(`,"detail":{"n":1.0}`) + `,` + ev(`,"detail":{"n":9007199254740993}`) + `,` +
		ev(`,"actor":"x"`) + `,` + ev(`,"detail":{"a":[1e-400]}`) + `]}`
	_, batch, err := ParseEmitRequest([]byte(body), Limits{})
	var be *auditerr.BatchError
	if !batch || !errors.As(err, &be) {
		t.Fatalf("ParseEmitRequest = %v (batch %v), want a BatchError", err, batch)
	}
	var got []string
	for _, it := range be.Items {
		got = append(got, fmt.Sprintf("%d:%s", it.Index, it.Code))
	}
	if want := "1:inexact_number 2:unknown_field 3:inexact_number"; strings.Join(got, " ") != want {
		t.Errorf("items %v, want %s", got, want)
	}
	for _, req := range []string{ev(`,"detail":{"n":9007199254740993}`), `{"events":[],"x":9007199254740993}`} {
		if _, _, err := ParseEmitRequest([]byte(req), Limits{}); auditerr.CodeOf(err) != auditerr.ErrInexactNumber.Code {
			t.Errorf("%s: %v, want inexact_number", req, err)
		}
	}
	// Exact numbers in a batch are read as before.
	ds, _, err := ParseEmitRequest([]byte(`{"events":[`+ev(`,"detail":{"n":0.10}`)+`]}`), Limits{})
	if err != nil || string(ds[0].Detail) != `{"n":0.1}` {
		t.Errorf("exact batch: %v, %v", ds, err)
	}
}
