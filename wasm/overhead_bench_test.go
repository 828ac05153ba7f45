package wasm

import (
	"context"
	"strconv"
	"strings"
	"testing"

	"github.com/tetratelabs/wazero/api"

	"github.com/stigaudit/stigaudit/wasm/abi"
)

// BenchmarkGuestEntry splits the cost of one call through wazero: an
// export that does nothing (abi_version: the wasmexport entry itself),
// alloc+free of an input buffer, and the operations alone on an input
// already in guest memory (one op call + one free of the result).
func BenchmarkGuestEntry(b *testing.B) {
	r := newRuntime(b, Config{PoolSize: 1})
	ctx := context.Background()
	inst, err := r.get(ctx)
	if err != nil {
		b.Fatal(err)
	}
	defer r.put(ctx, inst, false)
	st := inst.stack[:]
	call := func(f api.Function) {
		if err := f.CallWithStack(ctx, st); err != nil {
			b.Fatal(err)
		}
	}
	b.Run("abi_version", func(b *testing.B) {
		f := inst.mod.ExportedFunction("abi_version")
		for b.Loop() {
			call(f)
		}
	})
	b.Run("alloc+free", func(b *testing.B) {
		for b.Loop() {
			st[0] = 300
			call(inst.alloc)
			call(inst.free)
		}
	})
	for _, c := range []struct{ op, in string }{
		{abi.OpBuildEvent, typicalDraft},
		{abi.OpCanonicalize, typicalDraft},
		{abi.OpClassify, `{"entity":"instruction:x","relation":null,"interpret_as":null}`},
	} {
		b.Run(c.op, func(b *testing.B) {
			st[0] = uint64(len(c.in))
			call(inst.alloc)
			p := uint32(st[0])
			inst.mem.Write(p, []byte(c.in))
			fn := inst.ops[c.op]
			for b.Loop() {
				st[0], st[1] = uint64(p), uint64(len(c.in))
				call(fn)
				rp, _ := abi.Unpack(st[0])
				st[0] = uint64(rp)
				call(inst.free)
			}
		})
	}
}

// TestHeldResultIsNotOverwritten: the module reuses one result buffer only
// once the host has freed the result in it; a host that holds a result
// across calls (the ABI allows it) still reads it intact, and a host that
// keeps its input buffer from alloc across calls gets correct answers.
func TestHeldResultIsNotOverwritten(t *testing.T) {
	r := newRuntime(t, Config{PoolSize: 1})
	ctx := context.Background()
	inst, err := r.get(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer r.put(ctx, inst, true)
	st := inst.stack[:]
	call := func(f api.Function, args ...uint64) uint64 {
		t.Helper()
		copy(st, args)
		if err := f.CallWithStack(ctx, st); err != nil {
			t.Fatal(err)
		}
		return st[0]
	}
	in := func(s string) (uint64, uint64) {
		p := call(inst.alloc, uint64(len(s)))
		inst.mem.Write(uint32(p), []byte(s))
		return p, uint64(len(s))
	}
	read := func(res uint64) string {
		p, n := abi.Unpack(res)
		b, ok := inst.mem.Read(p, n)
		if !ok {
			t.Fatal("result outside memory")
		}
		return string(b)
	}
	canon := inst.ops[abi.OpCanonicalize]
	p1, n1 := in(`{"b":1,"a":2}`)
	p2, n2 := in(`[3,  4]`)
	r1 := call(canon, p1, n1)
	r2 := call(canon, p2, n2) // r1 not freed yet
	want1, want2 := `{"ok":true,"value":"{\"a\":2,\"b\":1}"}`, `{"ok":true,"value":"[3,4]"}`
	if read(r1) != want1 || read(r2) != want2 {
		t.Fatalf("held results: %s, %s", read(r1), read(r2))
	}
	call(inst.free, r1>>32)
	call(inst.free, r2>>32)
	// The input buffers are still the host's: reuse them.
	for i := 0; i < 3; i++ {
		r := call(canon, p1, n1)
		if read(r) != want1 {
			t.Fatalf("call %d: %s", i, read(r))
		}
		if i > 0 && r>>32 != r1>>32 {
			t.Errorf("call %d: the result buffer was not reused (%#x, then %#x)", i, r1>>32, r>>32)
		}
		r1 = r
		call(inst.free, r>>32)
	}
}

// TestInputsOfEverySize: the instance's kept input buffer grows as inputs
// do, and an input beyond inKeep passes in a buffer of its own.
func TestInputsOfEverySize(t *testing.T) {
	r := newRuntime(t, Config{PoolSize: 1})
	ctx := context.Background()
	for _, n := range []int{1, 10, 4000, 5000, inKeep - 20, inKeep, 70000, 10, 200000, 3, 60000} {
		s := strings.Repeat("x", n)
		got, err := r.Canonicalize(ctx, []byte(`{"s":"`+s+`","a":`+strconv.Itoa(n)+`}`))
		if want := `{"a":` + strconv.Itoa(n) + `,"s":"` + s + `"}`; err != nil || string(got) != want {
			t.Fatalf("size %d: %.80s, %v", n, got, err)
		}
	}
}
