package event

import (
	"testing"
)

// countingEntropy is a deterministic entropy source: a counter in every
// byte, so successive ids differ.
type countingEntropy struct{ n byte }

func (c *countingEntropy) Read(p []byte) (int, error) {
	for i := range p {
		c.n++
		p[i] = c.n
	}
	return len(p), nil
}

// factWriteDraft is a typical event: a fact write by an agent, 300 bytes
// of canonical JSON (the size the build goal names).
func factWriteDraft() Draft {
	return Draft{
		Type:      "fact_write",
		Tenant:    "acme",
		EntityURI: "urn:stigmem:agent:7",
		OIDCSub:   "auth0|5f9d1c",
		FactID:    "fact-7d1c",
		Source:    "api",
		Detail:    []byte(`{"namespace":"ops","key":"deploy","version":12}`),
	}
}

// typicalDraft is a larger event with every optional field set and a
// detail whose keys its type requires: 453 bytes of canonical JSON.
func typicalDraft() Draft {
	return Draft{
		Type:          "peer_hlc_anomaly",
		HLC:           "1777809600123.7",
		Tenant:        "acme",
		EntityURI:     "urn:stigmem:node:alpha",
		OIDCSub:       "auth0|5f9d1c2b",
		FactID:        "fact-7d1c",
		Source:        "federation.sync",
		AttestedKeyID: "key-2026-05",
		Scope:         "federation:read",
		Detail:        []byte(`{"sender_node_id":"urn:stigmem:node:beta","direction":"future","skew_ms":1250,"peer_id":"beta"}`),
	}
}

// BenchmarkBuild measures build + canonicalize + leaf hash of one draft,
// natively (goal: ≤ 3 µs and ≤ 10 allocations for a typical 300-byte
// event).
func BenchmarkBuild(b *testing.B) {
	for _, c := range []struct {
		name  string
		draft Draft
	}{{"300B", factWriteDraft()}, {"453B", typicalDraft()}} {
		b.Run(c.name, func(b *testing.B) { benchBuild(b, c.draft) })
	}
}

func benchBuild(b *testing.B, d Draft) {
	var bld Builder
	ent := &countingEntropy{}
	e, err := bld.Build(&d, fixedNow, ent)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := bld.Build(&d, fixedNow, ent); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(AppendCanonical(nil, &e))), "canonical-bytes")
}

func BenchmarkAppendJSON(b *testing.B) {
	d := typicalDraft()
	var bld Builder
	e, err := bld.Build(&d, fixedNow, &countingEntropy{})
	if err != nil {
		b.Fatal(err)
	}
	buf := make([]byte, 0, 1024)
	b.ReportAllocs()
	for b.Loop() {
		buf = AppendJSON(buf[:0], &e)
	}
	b.SetBytes(int64(len(buf)))
}

func BenchmarkParseDraft(b *testing.B) {
	req := []byte(`{"event_type":"peer_hlc_anomaly","hlc":"1777809600123.7","tenant_id":"acme","entity_uri":"urn:stigmem:node:alpha","oidc_sub":"auth0|5f9d1c2b","fact_id":"fact-7d1c","source":"federation.sync","attested_key_id":"key-2026-05","scope":"federation:read","detail":{"sender_node_id":"urn:stigmem:node:beta","direction":"future","skew_ms":1250,"peer_id":"beta"}}`)
	b.SetBytes(int64(len(req)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseDraft(req, Limits{}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseEvent(b *testing.B) {
	d := typicalDraft()
	var bld Builder
	e, err := bld.Build(&d, fixedNow, &countingEntropy{})
	if err != nil {
		b.Fatal(err)
	}
	e.Seq = 12345
	line := AppendJSON(nil, &e)
	b.SetBytes(int64(len(line)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseEvent(line); err != nil {
			b.Fatal(err)
		}
	}
}
