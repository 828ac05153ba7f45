package event

import (
	"bytes"
	"encoding/hex"
	"testing"
	"time"
)

// fixedNow and zeroEntropy make Build deterministic in tests.
var fixedNow = time.Date(2026, 5, 3, 12, 0, 0, 123456789, time.UTC)

func zeroEntropy() *bytes.Reader { return bytes.NewReader(make([]byte, 10)) }

// TestKnownEvent pins one event end to end against values computed outside
// this code: the canonical bytes were written by hand from docs/event-format.md,
// and the leaf hash with
//
//	printf '\x00%s' "$canonical" | sha256sum
func TestKnownEvent(t *testing.T) {
	const (
		request   = `{"event_type":"instruction_quarantined","entity_uri":"urn:agent:a","tenant_id":" Acme ","fact":{"entity":"instruction:x","relation":null},"detail":{"z":1,"fact_entity":"mine"}}`
		canonical = `{"detail":{"fact_entity":"mine","fact_interpret_as":null,"fact_relation":null,"z":1},"entity_uri":"urn:agent:a","event_type":"instruction_quarantined","id":"019dedb5-ae7b-7000-8000-000000000000","outcome":"success","source":"urn:agent:a","tenant_id":"acme","ts":"2026-05-03T12:00:00.123456Z"}`
		leafHash  = "89997f700486222462d7efe4aa86ab289056c2315b40fd1445d3652140f77c7c"
		apiJSON   = `{"seq":null,"id":"019dedb5-ae7b-7000-8000-000000000000","event_type":"instruction_quarantined","ts":"2026-05-03T12:00:00.123456Z","hlc":null,"tenant_id":"acme","entity_uri":"urn:agent:a","emitter":null,"oidc_sub":null,"fact_id":null,"source":"urn:agent:a","attested_key_id":null,"scope":null,"outcome":"success","detail":{"fact_entity":"mine","fact_interpret_as":null,"fact_relation":null,"z":1},"leaf_hash":"` + leafHash + `"}`
	)
	d, err := ParseDraft([]byte(request), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	var b Builder
	e, err := b.Build(&d, fixedNow, zeroEntropy())
	if err != nil {
		t.Fatal(err)
	}
	if got := string(AppendCanonical(nil, &e)); got != canonical {
		t.Errorf("canonical\n got %s\nwant %s", got, canonical)
	}
	if got := hex.EncodeToString(e.LeafHash[:]); got != leafHash {
		t.Errorf("leaf hash %s, want %s", got, leafHash)
	}
	if got := LeafHash([]byte(canonical)); hex.EncodeToString(got[:]) != leafHash {
		t.Errorf("LeafHash(canonical) = %x, want %s", got, leafHash)
	}
	if got := string(AppendJSON(nil, &e)); got != apiJSON {
		t.Errorf("API JSON\n got %s\nwant %s", got, apiJSON)
	}
	for _, form := range []string{apiJSON, canonical} {
		back, err := ParseEvent([]byte(form))
		if err != nil {
			t.Fatalf("ParseEvent(%s): %v", form, err)
		}
		if !back.SameContent(&e) || back.TS != e.TS || back.LeafHash != e.LeafHash || back.Seq != -1 {
			t.Errorf("ParseEvent(%s) = %+v, want %+v", form, back, e)
		}
	}
}
