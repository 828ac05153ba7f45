package ops

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/stigaudit/stigaudit/wasm/abi"
)

const operatorConfig = `{"catalogue":{"event_types":[{"name":"billing.invoice_sent","critical":true,"required_detail":["invoice_id"]}]},"max_detail_bytes":64,"max_detail_depth":2}`

// TestConfigure: after configure, build_event accepts the operator's type,
// enforces its required keys and the configured limits; a refused
// configuration leaves the previous one; a new one replaces it whole.
func TestConfigure(t *testing.T) {
	now := time.Date(2026, 5, 3, 12, 0, 0, 0, time.UTC)
	h := &Host{Now: func() time.Time { return now }}
	const id = `"id":"0196a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b",`
	invoice := `{` + id + `"event_type":"billing.invoice_sent","entity_uri":"a","detail":{"invoice_id":"i-1"}}`
	noKey := `{` + id + `"event_type":"billing.invoice_sent","entity_uri":"a","detail":{"x":1}}`
	big := `{` + id + `"event_type":"fact_write","entity_uri":"a","detail":{"x":"` + strings.Repeat("y", 60) + `"}}`
	deep := `{` + id + `"event_type":"fact_write","entity_uri":"a","detail":{"x":{"y":{"z":1}}}}`
	steps := []struct {
		name, op, in, want string
	}{
		{"default: operator type unknown", abi.OpBuildEvent, invoice, `{"ok":false,"error":{"code":"unknown_event_type"`},
		{"default: 60 bytes of detail are fine", abi.OpBuildEvent, big, `{"ok":true`},
		{"configure", abi.OpConfigure, operatorConfig, `{"ok":true,"value":{"event_types":`},
		{"operator type", abi.OpBuildEvent, invoice, `{"ok":true,"value":{"seq":null,"id":"0196a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b","event_type":"billing.invoice_sent"`},
		{"its required key", abi.OpBuildEvent, noKey, `{"ok":false,"error":{"code":"missing_detail_key"`},
		{"detail limit", abi.OpBuildEvent, big, `{"ok":false,"error":{"code":"detail_too_large"`},
		{"depth limit", abi.OpBuildEvent, deep, `{"ok":false,"error":{"code":"detail_too_deep"`},
		{"emit too", abi.OpEmit, big, `{"ok":false,"error":{"code":"detail_too_large"`},
		{"refused: a duplicate type", abi.OpConfigure, `{"catalogue":{"event_types":[{"name":"fact_write"}]}}`, `{"ok":false,"error":{"code":"invalid_config"`},
		{"refused: a zero limit", abi.OpConfigure, `{"max_detail_bytes":0}`, `{"ok":false,"error":{"code":"invalid_config"`},
		{"refused: a fractional limit", abi.OpConfigure, `{"max_detail_depth":2.5}`, `{"ok":false,"error":{"code":"invalid_config"`},
		{"refused: an unknown member", abi.OpConfigure, `{"limits":{}}`, `{"ok":false,"error":{"code":"invalid_config"`},
		{"refused: not JSON", abi.OpConfigure, `{`, `{"ok":false,"error":{"code":"invalid_config"`},
		{"the earlier configuration holds", abi.OpBuildEvent, invoice, `{"ok":true`},
		{"reconfigure with defaults", abi.OpConfigure, `{}`, `{"ok":true,"value":{"event_types":`},
		{"operator type gone", abi.OpBuildEvent, invoice, `{"ok":false,"error":{"code":"unknown_event_type"`},
		{"default limits back", abi.OpBuildEvent, big, `{"ok":true`},
	}
	for _, s := range steps {
		got := Do(nil, h, s.op, []byte(s.in))
		if !bytes.HasPrefix(got, []byte(s.want)) {
			t.Fatalf("%s: got %s, want %s...", s.name, got, s.want)
		}
	}
	got := Do(nil, &Host{}, abi.OpConfigure, []byte(`{"catalogue":null,"max_detail_bytes":null,"max_detail_depth":7}`))
	if want := `,"max_detail_bytes":16384,"max_detail_depth":7}}`; !bytes.HasSuffix(got, []byte(want)) {
		t.Errorf("configure value %s, want ...%s", got, want)
	}
}

// FuzzConfigure: any input to configure is an envelope — accepted, or
// invalid_config with the previous configuration kept — and build_event
// answers an envelope afterwards.
func FuzzConfigure(f *testing.F) {
	f.Add([]byte(operatorConfig))
	f.Add([]byte(`{"catalogue":{"event_types":[{"name":"a.b","required_detail":[{"name":"k","one_of":[1,"x",null]}]}]}}`))
	f.Add([]byte(`{"max_detail_depth":1073741824}`))
	f.Add([]byte(`{"catalogue":[]}`))
	now := time.Date(2026, 5, 3, 12, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, in []byte) {
		h := &Host{Now: func() time.Time { return now }}
		Do(nil, h, abi.OpConfigure, []byte(operatorConfig))
		before := h.Builder
		env := Do(nil, h, abi.OpConfigure, in)
		switch {
		case bytes.HasPrefix(env, []byte(`{"ok":true,"value":{"event_types":`)):
			if h.Builder == before {
				t.Fatalf("%q accepted, configuration unchanged", in)
			}
		case bytes.HasPrefix(env, []byte(`{"ok":false,"error":{"code":"invalid_config"`)):
			if h.Builder != before {
				t.Fatalf("%q refused, configuration changed", in)
			}
		default:
			t.Fatalf("%q: %s", in, env)
		}
		env = Do(nil, h, abi.OpBuildEvent, []byte(`{"id":"0196a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b","event_type":"fact_read","entity_uri":"a","detail":{"k":[1,{"x":2}]}}`))
		if !bytes.HasPrefix(env, []byte(`{"ok":`)) || bytes.Contains(env, []byte(`"code":"panic"`)) {
			t.Fatalf("build_event after configure(%q): %s", in, env)
		}
	})
}
