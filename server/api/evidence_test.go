package api

import (
	"bytes"
	"strings"
	"testing"
)

// TestDetailEvidence: over HTTP, a detail number whose RFC 8785 form would
// change is refused with 400 inexact_number and nothing is stored (docs/event-format.md#numbers,
// issue 13's M9); exact numbers are stored and read back as they were sent
// (in canonical form); a required key of the wrong JSON type is refused;
// interpret_as "code" is skipped as not_instruction (docs/event-format.md#instruction-events).
func TestDetailEvidence(t *testing.T) { eachStore(t, testDetailEvidence) }

func testDetailEvidence(t *testing.T, kind string) {
	h := newHarnessOn(t, kind)
	w := h.key("w", "a", "urn:w", "audit.write,audit.read")
	withNumber := func(lit string) string {
		return `{"event_type":"fact_write","entity_uri":"urn:u","detail":{"n":` + lit + `}}`
	}
	for _, lit := range []string{"9007199254740993", "18446744073709551616", "1e-400", "123456789012345678901234567890", "1e400"} {
		a := h.emit(w, withNumber(lit))
		if a.status != 400 || a.code() != "inexact_number" {
			t.Errorf("%s: %d %q, want 400 inexact_number: %s", lit, a.status, a.code(), a.raw)
		}
		if !bytes.Contains(a.raw, []byte("string")) {
			t.Errorf("%s: the message does not tell to send a string: %s", lit, a.raw)
		}
	}
	// In a batch every bad event is named by index, and nothing is stored.
	a := h.emit(w, `{"events":[`+withNumber("1")+`,`+withNumber("9007199254740993")+`,`+withNumber("2")+`,`+withNumber("1e-400")+`]}`)
	items, _ := a.body["error"].(map[string]any)["items"].([]any)
	if a.status != 400 || a.code() != "invalid_batch" || len(items) != 2 ||
		!bytes.Contains(a.raw, []byte(`"index":1`)) || !bytes.Contains(a.raw, []byte(`"index":3`)) || !bytes.Contains(a.raw, []byte(`"inexact_number"`)) {
		t.Errorf("batch: %d %s", a.status, a.raw)
	}
	// Wrong-typed required keys.
	for _, body := range []string{
		`{"event_type":"admin_action","entity_uri":"urn:u","detail":{"action":5}}`,
		`{"event_type":"peer_hlc_anomaly","entity_uri":"urn:u","detail":{"sender_node_id":"n","direction":"past","skew_ms":"12"}}`,
	} {
		if a := h.emit(w, body); a.status != 400 || a.code() != "missing_detail_key" {
			t.Errorf("%s: %d %q, want 400 missing_detail_key", body, a.status, a.code())
		}
	}
	// interpret_as "code" is valid and not an instruction.
	for _, typ := range []string{"instruction_quarantined", "instruction_promoted"} {
		a := h.emit(w, `{"event_type":"`+typ+`","entity_uri":"urn:u","fact":{"entity":"doc:1","relation":"says","interpret_as":"code"}}`)
		if a.status != 200 || a.body["skipped"] != "not_instruction" {
			t.Errorf("%s with interpret_as code: %d %s", typ, a.status, a.raw)
		}
	}
	if n := h.size(); n != 0 {
		t.Fatalf("refused or skipped requests stored %d events", n)
	}

	// Exact numbers are stored, in their canonical form, with their value.
	a = h.emit(w, `{"event_type":"fact_write","entity_uri":"urn:u","detail":{"a":0.10,"b":1.0,"c":-0,"d":1e2,"e":0.1,"f":9007199254740992,"g":1e21}}`)
	if a.status != 201 {
		t.Fatalf("exact numbers: %d %s", a.status, a.raw)
	}
	got := h.do("GET", "/v1/audit?event_type=fact_write", w, nil)
	const want = `"detail":{"a":0.1,"b":1,"c":0,"d":100,"e":0.1,"f":9007199254740992,"g":1e+21}`
	if got.status != 200 || !strings.Contains(string(got.raw), want) {
		t.Errorf("read back: %d %s; want it to contain %s", got.status, got.raw, want)
	}
	a = h.emit(w, `{"event_type":"admin_action","entity_uri":"urn:u","detail":{"action":"rotate"}}`)
	if a.status != 201 {
		t.Errorf("admin_action with a string action: %d %s", a.status, a.raw)
	}
}
