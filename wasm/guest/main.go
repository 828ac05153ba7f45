//go:build wasip1

package main

import (
	"crypto/rand"
	"runtime"
	"time"
	"unsafe"

	"github.com/stigaudit/stigaudit/core/auditerr"
	"github.com/stigaudit/stigaudit/wasm/abi"
	"github.com/stigaudit/stigaudit/wasm/internal/ops"
)

// main is empty: the module is a reactor, driven by its exports.
func main() {}

//go:wasmimport stigaudit clock_now
func clockNow() int64

//go:wasmimport stigaudit store_append
func storeAppend(ptr unsafe.Pointer, n int32) int64

// host connects the operations to the imports. Only the configure export
// changes it (its Builder: the operator's catalogue and detail limits).
var host = ops.Host{
	Now:     func() time.Time { return time.Unix(0, clockNow()).UTC() },
	Entropy: rand.Reader,
	Append: func(canonical []byte) int64 {
		if len(canonical) == 0 {
			return abi.StoreInvalid
		}
		r := storeAppend(unsafe.Pointer(unsafe.SliceData(canonical)), int32(len(canonical)))
		runtime.KeepAlive(canonical)
		return r
	},
}

// live is the allocation table: every buffer handed to the host (by alloc,
// or as an operation's result) keyed by its address, so that the garbage
// collector keeps it until the host calls free. It is necessary: linear
// memory the host writes into must stay owned by a live Go value. It holds
// at most a few entries when the host frees what it is given.
var live = map[uint32][]byte{}

// out is the result buffer the operations write their envelopes into. It
// is reused from call to call as long as the host frees each result before
// the next call (as the ABI's calling sequence does): a host then pays
// neither an allocation nor a map update for a result, and free of it is a
// comparison. A result produced while the previous one is still held goes
// to a fresh buffer kept in live, so nothing a host holds is ever
// overwritten. It is the module's only other mutable global state.
var out struct {
	buf  []byte
	ptr  uint32 // address of buf's array while busy
	busy bool   // buf holds a result the host has not freed yet
}

// outKeep bounds the result buffer kept between calls; a larger result is
// handed out in a buffer of its own, released by free.
const outKeep = 64 << 10

func addr(b []byte) uint32 { return uint32(uintptr(unsafe.Pointer(unsafe.SliceData(b)))) }

func keep(b []byte) uint32 {
	p := addr(b)
	live[p] = b
	return p
}

// abiVersion returns the ABI version, 1.
//
//go:wasmexport abi_version
func abiVersion() int32 { return abi.Version }

// alloc returns a guest buffer of size bytes for the host to write an input
// into, or 0 when size is ≤ 0 or above abi.MaxInput. The buffer stays valid
// until the host frees it: a host may keep one and pass it to many calls.
//
//go:wasmexport alloc
func alloc(size int32) int32 {
	if size <= 0 || size > abi.MaxInput {
		return 0
	}
	return int32(keep(make([]byte, size)))
}

// free releases a buffer returned by alloc or by an operation. Unknown
// pointers are ignored.
//
//go:wasmexport free
func free(ptr int32) {
	if out.busy && uint32(ptr) == out.ptr {
		out.busy = false
		return
	}
	delete(live, uint32(ptr))
}

// input returns the bytes the host passed: [ptr, ptr+n) must lie inside a
// buffer returned by alloc, or be (0, 0).
func input(ptr, n int32) ([]byte, bool) {
	if ptr == 0 && n == 0 {
		return nil, true
	}
	b, ok := live[uint32(ptr)]
	if !ok || n < 0 || int(n) > len(b) {
		return nil, false
	}
	return b[:n], true
}

// call runs op on the input at (ptr, n) and returns the packed result.
func call(op string, ptr, n int32) (r int64) {
	defer func() {
		if p := recover(); p != nil {
			r = result(nil) // the panic envelope
		}
	}()
	var dst []byte
	if !out.busy {
		if out.buf == nil {
			out.buf = make([]byte, 0, 4096)
		}
		dst = out.buf[:0]
	}
	in, ok := input(ptr, n)
	if !ok {
		return result(ops.Error(dst, auditerr.Errorf(auditerr.ErrInvalidInput, "%s: (ptr, len) is not inside a buffer from alloc", op)))
	}
	return result(ops.Do(dst, &host, op, in))
}

// result hands env to the host: in out.buf when it is free and env fits
// there, else in a buffer of its own.
func result(env []byte) int64 {
	if len(env) == 0 {
		env = []byte(`{"ok":false,"error":{"code":"panic","message":"internal error"}}`)
	}
	if !out.busy && cap(env) <= outKeep && (out.buf == nil || addr(env) == addr(out.buf[:1]) || cap(env) > cap(out.buf)) {
		out.buf, out.ptr, out.busy = env[:0], addr(env), true
		return int64(abi.Pack(out.ptr, uint32(len(env))))
	}
	return int64(abi.Pack(keep(env), uint32(len(env))))
}

//go:wasmexport build_event
func buildEvent(ptr, n int32) int64 { return call(abi.OpBuildEvent, ptr, n) }

//go:wasmexport emit
func emit(ptr, n int32) int64 { return call(abi.OpEmit, ptr, n) }

//go:wasmexport classify
func classify(ptr, n int32) int64 { return call(abi.OpClassify, ptr, n) }

//go:wasmexport merge_detail
func mergeDetail(ptr, n int32) int64 { return call(abi.OpMergeDetail, ptr, n) }

//go:wasmexport canonicalize
func canonicalize(ptr, n int32) int64 { return call(abi.OpCanonicalize, ptr, n) }

//go:wasmexport leaf_hash
func leafHash(ptr, n int32) int64 { return call(abi.OpLeafHash, ptr, n) }

//go:wasmexport merkle_root
func merkleRoot(ptr, n int32) int64 { return call(abi.OpMerkleRoot, ptr, n) }

//go:wasmexport verify_inclusion
func verifyInclusion(ptr, n int32) int64 { return call(abi.OpVerifyInclusion, ptr, n) }

//go:wasmexport verify_consistency
func verifyConsistency(ptr, n int32) int64 { return call(abi.OpVerifyConsistency, ptr, n) }

//go:wasmexport verify_checkpoint
func verifyCheckpoint(ptr, n int32) int64 { return call(abi.OpVerifyCheckpoint, ptr, n) }

// configure sets the catalogue and detail limits of this instance (see
// abi.OpConfigure); a host that never calls it gets the defaults.
//
//go:wasmexport configure
func configure(ptr, n int32) int64 { return call(abi.OpConfigure, ptr, n) }

// verifyReceipt checks an event's receipt offline (see
// abi.OpVerifyReceipt): an optional export, ABI v1 unchanged.
//
//go:wasmexport verify_receipt
func verifyReceipt(ptr, n int32) int64 { return call(abi.OpVerifyReceipt, ptr, n) }

//go:wasmexport test_fault
func testFault(ptr, n int32) int64 { return call(abi.OpTestFault, ptr, n) }
