package jcs

// Scanning helpers shared by the parser, AppendString and the iterator.
// Text is mostly runs of plain ASCII between structural characters, so
// runs are skipped eight bytes at a time: one 64-bit load and a few
// word-wide operations per eight bytes instead of a load, four compares and
// a branch per byte. It matters most under WebAssembly, where Go compiles
// every taken branch to a jump through the function's dispatch table, and
// it is at least as fast natively.

import "math/bits"

const (
	ones   = 0x0101010101010101
	highs  = 0x8080808080808080
	quotes = '"' * ones
	bslash = '\\' * ones
)

// specialMask returns, for the eight bytes of x in little-endian order,
// the high bit of each byte that is a control character (< 0x20), '"',
// '\\' or non-ASCII (≥ 0x80), and possibly of bytes after such a byte (a
// subtraction's borrow only moves up): its lowest set bit is exact, so
// bits.TrailingZeros64(m)/8 is the index of the first special byte.
func specialMask(x uint64) uint64 {
	lt20 := (x - 0x20*ones) &^ x
	q := x ^ quotes
	b := x ^ bslash
	return (lt20 | x | (q-ones)&^q | (b-ones)&^b) & highs
}

// special reports whether any of the eight bytes of x is special (see
// specialMask).
func special(x uint64) bool { return specialMask(x) != 0 }

// plain[c] is true for the bytes a canonical string holds as they are:
// ASCII other than controls, '"' and '\\'.
var plain = func() (t [256]bool) {
	for c := 0x20; c < 0x80; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// plainRun returns the index of the first byte of s at or after i that is
// not plain (see plain), or len(s). Within the last eight bytes it goes
// byte by byte; before, the word that holds the byte locates it without a
// loop.
func plainRun(s []byte, i int) int {
	for i+8 <= len(s) {
		if m := specialMask(load64(s, i)); m != 0 {
			return i + bits.TrailingZeros64(m)>>3
		}
		i += 8
	}
	for i < len(s) && plain[s[i]] {
		i++
	}
	return i
}

// plainRunString is plainRun for a string.
func plainRunString(s string, i int) int {
	for i+8 <= len(s) {
		if m := specialMask(load64String(s, i)); m != 0 {
			return i + bits.TrailingZeros64(m)>>3
		}
		i += 8
	}
	for i < len(s) && plain[s[i]] {
		i++
	}
	return i
}
