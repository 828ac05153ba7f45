//go:build wasm

package jcs

import "unsafe"

// load64 returns the eight bytes s[i:i+8] as one little-endian word; the
// caller guarantees i+8 <= len(s). Go's WebAssembly back end does not merge
// byte loads, so this is one unaligned i64.load instead of eight loads.
func load64(s []byte, i int) uint64 {
	return *(*uint64)(unsafe.Pointer(unsafe.SliceData(s[i : i+8])))
}

func load64String(s string, i int) uint64 {
	return *(*uint64)(unsafe.Pointer(unsafe.StringData(s[i : i+8])))
}
