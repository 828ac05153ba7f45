package ops

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/stigaudit/stigaudit/wasm/abi"
)

func TestDoEnvelopes(t *testing.T) {
	now := time.Date(2026, 5, 3, 12, 0, 0, 0, time.UTC)
	withClock := &Host{Now: func() time.Time { return now }}
	cases := []struct {
		name string
		h    *Host
		op   string
		in   string
		want string // prefix of the envelope
	}{
		{"canonical value is a JSON string", nil, abi.OpCanonicalize, `{"b":1,"a":[1.0]}`, `{"ok":true,"value":"{\"a\":[1],\"b\":1}"}`},
		{"unknown operation", nil, "nope", `{}`, `{"ok":false,"error":{"code":"invalid_input"`},
		{"panic is an envelope", nil, abi.OpTestFault, `"panic"`, `{"ok":false,"error":{"code":"panic"`},
		{"bad fault kind", nil, abi.OpTestFault, `"x"`, `{"ok":false,"error":{"code":"invalid_input"`},
		{"build without a clock", nil, abi.OpBuildEvent, `{"event_type":"fact_read","entity_uri":"a"}`, `{"ok":false,"error":{"code":"invalid_config"`},
		{"emit without a store", withClock, abi.OpEmit, `{"id":"0196a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b","event_type":"fact_read","entity_uri":"a"}`, `{"ok":false,"error":{"code":"store_unavailable"`},
		{"generated id without entropy", withClock, abi.OpBuildEvent, `{"event_type":"fact_read","entity_uri":"a"}`, `{"ok":false,"error":{"code":"entropy_unavailable"`},
		{"classify", nil, abi.OpClassify, `{"entity":"instruction:x"}`, `{"ok":true,"value":true}`},
		{"unknown field", nil, abi.OpClassify, `{"entity":"x","kind":1}`, `{"ok":false,"error":{"code":"unknown_field"`},
		{"wrong type", nil, abi.OpClassify, `{"entity":1}`, `{"ok":false,"error":{"code":"invalid_field"`},
		{"too deep for every op", nil, abi.OpCanonicalize, strings.Repeat("[", 1001) + strings.Repeat("]", 1001), `{"ok":false,"error":{"code":"too_deep"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := c.h
			if h == nil {
				h = &Host{}
			}
			got := Do(nil, h, c.op, []byte(c.in))
			if !bytes.HasPrefix(got, []byte(c.want)) {
				t.Errorf("got %s, want %s...", got, c.want)
			}
		})
	}
	big := make([]byte, abi.MaxInput+1)
	if got := Do(nil, &Host{}, abi.OpCanonicalize, big); !bytes.HasPrefix(got, []byte(`{"ok":false,"error":{"code":"too_large"`)) {
		t.Errorf("oversized input: %s", got)
	}
	// Do appends to dst and, on error, leaves what dst held.
	got := Do([]byte("prefix:"), &Host{}, abi.OpTestFault, []byte(`"panic"`))
	if !bytes.HasPrefix(got, []byte(`prefix:{"ok":false`)) {
		t.Errorf("dst not kept: %s", got)
	}
}
