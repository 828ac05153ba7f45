package main

import (
	"encoding/json"
	"strconv"
	"strings"
)

// eventSize is the size, in bytes, of the JSON event every peer stores.
const eventSize = 300

// sample is the one event every peer writes: the same fields, the same
// values, padded in detail so that its JSON is eventSize bytes.
type sample struct {
	Type          string          `json:"event_type"`
	Tenant        string          `json:"tenant_id"`
	EntityURI     string          `json:"entity_uri"`
	FactID        string          `json:"fact_id"`
	Source        string          `json:"source"`
	AttestedKeyID string          `json:"attested_key_id"`
	Detail        json.RawMessage `json:"detail"`
}

// newSample returns the event for call i of writer w.
func newSample(w, i int) sample {
	s := sample{
		Type:          "admin_action",
		Tenant:        "bench",
		EntityURI:     "urn:bench:writer-" + strconv.Itoa(w),
		FactID:        "fact-" + strconv.Itoa(w) + "-" + strconv.Itoa(i),
		Source:        "bench/peers",
		AttestedKeyID: "key-bench",
	}
	s.Detail = json.RawMessage(`{"action":"bench","pad":""}`)
	if pad := eventSize - len(s.JSON()); pad > 0 {
		s.Detail = json.RawMessage(`{"action":"bench","pad":"` + strings.Repeat("x", pad) + `"}`)
	}
	return s
}

// JSON is the event as the HTTP API takes it and as tessera stores it.
func (s sample) JSON() []byte {
	b, err := json.Marshal(s)
	if err != nil {
		panic(err) // plain strings and a valid RawMessage always marshal
	}
	return b
}
