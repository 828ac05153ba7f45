//go:build !wasm

package jcs

import "encoding/binary"

// load64 returns the eight bytes s[i:i+8] as one little-endian word
// (a single load on amd64 and arm64); the caller guarantees i+8 <= len(s).
func load64(s []byte, i int) uint64 { return binary.LittleEndian.Uint64(s[i:]) }

func load64String(s string, i int) uint64 {
	_ = s[i+7]
	return uint64(s[i]) | uint64(s[i+1])<<8 | uint64(s[i+2])<<16 | uint64(s[i+3])<<24 |
		uint64(s[i+4])<<32 | uint64(s[i+5])<<40 | uint64(s[i+6])<<48 | uint64(s[i+7])<<56
}
