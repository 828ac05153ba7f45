//go:build wasip1

// Command guest is the stigaudit WebAssembly module, stigaudit.wasm: a WASI
// preview1 reactor (GOOS=wasip1, -buildmode=c-shared) that exposes the pure
// core to any host through the ABI v1 of docs/wasm-abi.md.
//
// Every export is a thin shim: it turns (ptr, len) into a byte slice, runs
// the operation in wasm/internal/ops — the same Go code that runs natively —
// and returns ptr<<32 | len of the envelope it wrote. main is empty; the
// host calls _initialize once, checks abi_version() == 1, then calls
// operations, one at a time per instance.
//
// The module imports clock_now and store_append from the host module
// "stigaudit" (see package wasm/abi for their contracts and result codes) and
// the WASI preview1 functions the Go runtime needs; randomness comes from
// WASI random_get through crypto/rand.
//
// Build it with `make wasm` (see wasm/wasm.mk), which writes
// wasm/stigaudit.wasm reproducibly.
package main
