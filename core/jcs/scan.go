package jcs

// Scanning helpers shared by the parser, AppendString and the iterator.
// Text is mostly runs of plain ASCII between structural characters, so
// runs are skipped eight bytes at a time: one 64-bit load and a few
// word-wide operations per eight bytes instead of a load, four compares and
// a branch per byte. It matters most under WebAssembly, where Go compiles
// every taken branch to a jump through the function's dispatch table, and
// it is at least as fast natively.

const (
	ones   = 0x0101010101010101
	highs  = 0x8080808080808080
	quotes = '"' * ones
	bslash = '\\' * ones
)

// special reports, for the eight bytes of x, whether any is a control
// character (< 0x20), '"', '\\' or non-ASCII (≥ 0x80). It has no false
// negatives; it may have false positives, which callers resolve byte by
// byte.
func special(x uint64) bool {
	lt20 := (x - 0x20*ones) &^ x
	q := x ^ quotes
	b := x ^ bslash
	return (lt20|x|(q-ones)&^q|(b-ones)&^b)&highs != 0
}

// plain[c] is true for the bytes a canonical string holds as they are:
// ASCII other than controls, '"' and '\\'.
var plain = func() (t [256]bool) {
	for c := 0x20; c < 0x80; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// plainRun returns the index of the first byte of s at or after i that is
// not plain (see plain), or len(s).
func plainRun(s []byte, i int) int {
	for i+8 <= len(s) && !special(load64(s, i)) {
		i += 8
	}
	for i < len(s) && plain[s[i]] {
		i++
	}
	return i
}

// plainRunString is plainRun for a string.
func plainRunString(s string, i int) int {
	for i+8 <= len(s) && !special(load64String(s, i)) {
		i += 8
	}
	for i < len(s) && plain[s[i]] {
		i++
	}
	return i
}
