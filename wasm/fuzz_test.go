package wasm

import (
	"bytes"
	"context"
	"testing"

	"github.com/stigaudit/stigaudit/hostfns/memstore"
	"github.com/stigaudit/stigaudit/hostfns/wazerohost"
	"github.com/stigaudit/stigaudit/wasm/abi"
)

// FuzzOps feeds arbitrary bytes to every export through wazero: no input
// may trap or hang the guest, every answer is an envelope, and the
// instance keeps answering correctly afterwards.
func FuzzOps(f *testing.F) {
	seeds := []string{
		typicalDraft,
		`{"event_type":"instruction_promoted","entity_uri":"a","fact":{"entity":"instruction:x"},"detail":{"k":[1,2,{"z":null}]}}`,
		`{"fact":{"entity":"instruction:x","relation":null},"detail":{"fact_entity":"mine"}}`,
		`{"entity":"x","relation":"instruction:y","interpret_as":"content"}`,
		`{"leaf_hashes":["6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"]}`,
		`{"proof":{"seq":0,"tree_size":1,"leaf_hash":"6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d","hashes":[]},"root":"6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"}`,
		`{"proof":{"from":1,"to":2,"hashes":["00"]},"root1":"","root2":""}`,
		`{"checkpoint":"o\n1\nAAAA\n\n— o AAAA\n","key":"o+00000000+AA"}`,
		`"\ud800"`, `[1e400]`, `{"a":"\u0000"}`, ``, `[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[`,
	}
	ops := abi.Ops()
	for i, s := range seeds {
		f.Add(uint8(i), []byte(s))
	}
	r := newRuntime(f, Config{PoolSize: 1, MaxMemoryBytes: 128 << 20})
	ctx := wazerohost.WithServices(context.Background(), wazerohost.Services{Store: memstore.New()})
	f.Fuzz(func(t *testing.T, which uint8, in []byte) {
		op := ops[int(which)%len(ops)]
		env, err := r.Envelope(ctx, op, in)
		if err != nil {
			t.Fatalf("%s(%q) failed without an envelope: %v", op, in, err)
		}
		if !bytes.HasPrefix(env, []byte(`{"ok":true,"value":`)) && !bytes.HasPrefix(env, []byte(`{"ok":false,"error":{"code":"`)) {
			t.Fatalf("%s(%q) answered a non-envelope %q", op, in, env)
		}
		if bytes.Contains(env, []byte(`"code":"panic"`)) {
			t.Fatalf("%s(%q) panicked in the guest: %s", op, in, env)
		}
		if c, err := r.Canonicalize(ctx, []byte(`{"b":1,"a":2}`)); err != nil || string(c) != `{"a":2,"b":1}` {
			t.Fatalf("after %s(%q) the instance answers %s, %v", op, in, c, err)
		}
	})
}
