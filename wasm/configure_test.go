package wasm

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/stigaudit/stigaudit/core/auditerr"
	"github.com/stigaudit/stigaudit/hostfns/wazerohost"
	"github.com/stigaudit/stigaudit/wasm/abi"
	"github.com/stigaudit/stigaudit/wasm/internal/ops"
)

const testConfigure = `{"catalogue":{"event_types":[{"name":"billing.invoice_sent","required_detail":["invoice_id"]}]},"max_detail_bytes":64,"max_detail_depth":2}`

// TestConfiguredRuntimeMatchesNative: a runtime with Config.Configure
// builds the operator's types within the configured limits on every
// instance of its pool, including instances that replace a trapped one,
// byte for byte as the native operations configured alike.
func TestConfiguredRuntimeMatchesNative(t *testing.T) {
	r := newRuntime(t, Config{PoolSize: 2, Configure: []byte(testConfigure)})
	native := ops.Host{Now: fixedClock(testNow).Now}
	if env := ops.Do(nil, &native, abi.OpConfigure, []byte(testConfigure)); !strings.HasPrefix(string(env), `{"ok":true`) {
		t.Fatalf("native configure: %s", env)
	}
	ctx := wazerohost.WithServices(context.Background(), wazerohost.Services{Clock: fixedClock(testNow)})
	const id = `"id":"0196a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b",`
	drafts := []string{
		`{` + id + `"event_type":"billing.invoice_sent","entity_uri":"a","detail":{"invoice_id":"i-1"}}`,
		`{` + id + `"event_type":"billing.invoice_sent","entity_uri":"a","detail":{"x":1}}`,
		`{` + id + `"event_type":"fact_write","entity_uri":"a","detail":{"x":"` + strings.Repeat("y", 60) + `"}}`,
		`{` + id + `"event_type":"fact_write","entity_uri":"a","detail":{"x":{"y":{"z":1}}}}`,
	}
	check := func() {
		t.Helper()
		for _, d := range drafts {
			want := ops.Do(nil, &native, abi.OpBuildEvent, []byte(d))
			got, err := r.Envelope(ctx, abi.OpBuildEvent, []byte(d))
			if err != nil || string(got) != string(want) {
				t.Fatalf("%s:\nwazero %s, %v\nnative %s", d, got, err, want)
			}
		}
		if _, err := r.BuildEvent(ctx, []byte(drafts[0])); err != nil {
			t.Fatalf("operator type refused: %v", err)
		}
	}
	check()
	// A trapped instance is replaced by one configured alike.
	for range 2 {
		if _, err := r.Envelope(ctx, abi.OpTestFault, []byte(`"oom"`)); err == nil {
			t.Fatal("oom did not trap")
		}
	}
	check()
	// configure is not an operation a caller reaches through the pool.
	if _, err := r.Envelope(ctx, abi.OpConfigure, []byte(`{}`)); err == nil {
		t.Fatal("configure through Envelope was accepted")
	}
}

// TestConfigureRefused: New fails with invalid_config when the module
// refuses the configuration.
func TestConfigureRefused(t *testing.T) {
	for _, cfg := range []string{`{"catalogue":{"event_types":[{"name":"fact_write"}]}}`, `{"max_detail_bytes":-1}`, `[]`} {
		r, err := New(context.Background(), Config{CacheDir: testCache, PoolSize: 1, Configure: []byte(cfg)})
		if err == nil {
			_ = r.Close(context.Background())
			t.Fatalf("%s: accepted", cfg)
		}
		if !errors.Is(err, auditerr.ErrInvalidConfig) {
			t.Fatalf("%s: %v, want invalid_config", cfg, err)
		}
	}
}
