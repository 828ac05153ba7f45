package wasm

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/stigaudit/stigaudit/core/auditerr"
	"github.com/stigaudit/stigaudit/wasm/abi"
	"github.com/stigaudit/stigaudit/wasm/internal/ops"
)

// newRuntime returns a runtime that uses the test binary's compilation
// cache, closed at the end of the test.
func newRuntime(t testing.TB, cfg Config) *Runtime {
	t.Helper()
	if cfg.CacheDir == "" {
		cfg.CacheDir = testCache
	}
	r, err := New(context.Background(), cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { _ = r.Close(context.Background()) })
	return r
}

func TestCallAnswersLikeNative(t *testing.T) {
	r := newRuntime(t, Config{PoolSize: 1})
	ctx := context.Background()
	cases := []struct {
		name, op, in string
	}{
		{"canonical object", abi.OpCanonicalize, `{"b":1e2,"a":"\u00e9\u20ac","c":[1.50,-0,1e21]}`},
		{"empty input", abi.OpCanonicalize, ``},
		{"bad json", abi.OpCanonicalize, `{"a":`},
		{"unicode", abi.OpCanonicalize, `"\ud83d\ude00 \u2028"`},
		{"merkle root of none", abi.OpMerkleRoot, `{"leaf_hashes":[]}`},
		{"merkle wrong type", abi.OpMerkleRoot, `{"leaf_hashes":"x"}`},
		{"merkle unknown field", abi.OpMerkleRoot, `{"leaf_hashes":[],"x":1}`},
		{"not an object", abi.OpVerifyInclusion, `[1,2]`},
		{"unknown test fault", abi.OpTestFault, `"nothing"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := r.Envelope(ctx, c.op, []byte(c.in))
			if err != nil {
				t.Fatalf("Envelope: %v", err)
			}
			want := ops.Do(nil, &ops.Host{}, c.op, []byte(c.in))
			if !bytes.Equal(got, want) {
				t.Errorf("wazero answered\n%s\nnative answered\n%s", got, want)
			}
		})
	}
}

func TestCallErrorsCarryCodes(t *testing.T) {
	r := newRuntime(t, Config{PoolSize: 1})
	ctx := context.Background()
	_, err := r.Call(ctx, abi.OpCanonicalize, []byte(`{"a":1,"a":2}`))
	if !errors.Is(err, auditerr.ErrInvalidJSON) {
		t.Errorf("duplicate key: got %v, want invalid_json", err)
	}
	_, err = r.Call(ctx, abi.OpCanonicalize, make([]byte, abi.MaxInput+1))
	if !errors.Is(err, auditerr.ErrTooLarge) {
		t.Errorf("oversized input: got %v, want too_large", err)
	}
	_, err = r.Call(ctx, "no_such_op", []byte(`{}`))
	if !errors.Is(err, auditerr.ErrInvalidInput) {
		t.Errorf("unknown op: got %v, want invalid_input", err)
	}
	c, err := r.Canonicalize(ctx, []byte(` { "z" : [ 1.0 , "\u0041" ] , "a" : null } `))
	if err != nil || string(c) != `{"a":null,"z":[1,"A"]}` {
		t.Errorf("Canonicalize = %s, %v", c, err)
	}
}

// TestPoolSurvivesFaults: a panic, an out-of-memory and garbage each leave
// the pool serving correct answers.
func TestPoolSurvivesFaults(t *testing.T) {
	r := newRuntime(t, Config{PoolSize: 2, MaxMemoryBytes: 64 << 20})
	ctx := context.Background()
	healthy := func(when string) {
		t.Helper()
		c, err := r.Canonicalize(ctx, []byte(`{"b":2,"a":1}`))
		if err != nil || string(c) != `{"a":1,"b":2}` {
			t.Fatalf("%s: the pool no longer serves: %s, %v", when, c, err)
		}
	}
	healthy("at start")

	// A panic is recovered inside the guest: an envelope, not a trap.
	env, err := r.Envelope(ctx, abi.OpTestFault, []byte(`"panic"`))
	if err != nil || !bytes.HasPrefix(env, []byte(`{"ok":false,"error":{"code":"panic"`)) {
		t.Errorf("guest panic: got %s, %v; want a panic envelope", env, err)
	}
	healthy("after a guest panic")

	// Running out of memory is fatal to the Go runtime in the guest: the
	// instance traps, the call fails, the instance is discarded.
	env, err = r.Envelope(ctx, abi.OpTestFault, []byte(`"oom"`))
	if err == nil || !errors.Is(err, auditerr.ErrPanic) {
		t.Errorf("guest out of memory: got %s, %v; want a trap error with code panic", env, err)
	}
	healthy("after an out-of-memory trap")

	for _, garbage := range [][]byte{{0xff, 0xfe, 0x00}, []byte(`{"a":"\x80"}`), bytes.Repeat([]byte("["), 10000)} {
		for _, op := range abi.Ops() {
			if _, err := r.Call(ctx, op, garbage); auditerr.CodeOf(err) == "" || errors.Is(err, auditerr.ErrPanic) {
				t.Errorf("%s(%.20q): got %v, want an input error code", op, garbage, err)
			}
		}
	}
	healthy("after garbage")
}

// TestPoolConcurrentCalls: 16 goroutines calling through one pool get their
// own, correct answers.
func TestPoolConcurrentCalls(t *testing.T) {
	r := newRuntime(t, Config{PoolSize: 4})
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for g := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 50 {
				in := fmt.Sprintf(`{"g":%d,"i":%d,"pad":"%0*d"}`, g, i, g*7+i, 0)
				want := fmt.Sprintf(`{"g":%d,"i":%d,"pad":"%0*d"}`, g, i, g*7+i, 0)
				got, err := r.Canonicalize(ctx, []byte(in))
				if err != nil || string(got) != want {
					errs <- fmt.Errorf("goroutine %d call %d: got %s, %v; want %s", g, i, got, err, want)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// TestPoolRecyclesGrownInstances: an instance whose memory grew past
// RecycleBytes during a call is replaced; the pool keeps serving.
func TestPoolRecyclesGrownInstances(t *testing.T) {
	r := newRuntime(t, Config{PoolSize: 1, RecycleBytes: 12 << 20})
	ctx := context.Background()
	big := append(append([]byte(`["`), bytes.Repeat([]byte("x"), 3<<20)...), `"]`...)
	if _, err := r.Canonicalize(ctx, big); err != nil {
		t.Fatal(err)
	}
	st := r.Stats()
	if st.Idle != 0 {
		t.Errorf("after a 3 MiB input the grown instance is still pooled: %+v", st)
	}
	if c, err := r.Canonicalize(ctx, []byte(`[ 1 ]`)); err != nil || string(c) != `[1]` {
		t.Fatalf("after recycling: %s, %v", c, err)
	}
	if st := r.Stats(); st.Idle != 1 || st.IdleMemoryBytes[0] > 12<<20 {
		t.Errorf("the replacement instance: %+v", st)
	}
}

// TestClosedRuntime: calls after Close fail with code closed.
func TestClosedRuntime(t *testing.T) {
	r := newRuntime(t, Config{PoolSize: 1})
	if err := r.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Canonicalize(context.Background(), []byte(`1`)); !errors.Is(err, auditerr.ErrClosed) {
		t.Errorf("after Close: %v", err)
	}
}
