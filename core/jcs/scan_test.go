package jcs

import (
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
)

// TestShortDecimalAgrees: the decimal fast path writes what
// ParseFloat+AppendNumber write, for random literals with and without
// leading and trailing zeros, signs, and digit counts either side of 15.
func TestShortDecimalAgrees(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	digits := func(n int) string {
		var b strings.Builder
		for range n {
			b.WriteByte(byte('0' + r.IntN(10)))
		}
		return b.String()
	}
	fixed := []string{"0.25", "-0.0", "0.000", "1.05", "123456789012345.0", "1234567890123456.5", "0.1234567890123456",
		"0.000001", "0.0000001", "-0.00000012345", "100000000000000000000.5", "999999999999999.9", "0.30000000000000004",
		"5.000000000000000000000000001", "0." + strings.Repeat("0", 299) + "1", "0." + strings.Repeat("0", 310) + "1",
		strings.Repeat("9", 15) + "." + strings.Repeat("0", 40)}
	for i := 0; i < 200000; i++ {
		ip := "0"
		if r.IntN(3) > 0 {
			ip = strconv.Itoa(1+r.IntN(9)) + digits(r.IntN(22))
		}
		frac := strings.Repeat("0", r.IntN(3)*r.IntN(10)) + digits(1+r.IntN(18)) + strings.Repeat("0", r.IntN(3))
		lit := ip + "." + frac
		if r.IntN(2) == 0 {
			lit = "-" + lit
		}
		fixed = append(fixed, lit)
	}
	for _, lit := range fixed {
		intEnd := strings.IndexByte(lit, '.')
		got, ok := appendShortDecimal(nil, []byte(lit[:intEnd]), []byte(lit[intEnd:]))
		f, err := strconv.ParseFloat(lit, 64)
		if err != nil {
			t.Fatal(err)
		}
		if want := AppendNumber(nil, f); ok && string(got) != string(want) {
			t.Fatalf("%s: fast path %s, want %s", lit, got, want)
		}
	}
}

// TestSpecialWord: special has no false negatives on any byte in any lane.
func TestSpecialWord(t *testing.T) {
	for c := 0; c < 256; c++ {
		for lane := 0; lane < 8; lane++ {
			for _, fill := range []byte{'a', 0x7f, ' ', '!', '#', '[', ']'} {
				x := uint64(fill) * ones
				x = x&^(0xff<<(8*lane)) | uint64(c)<<(8*lane)
				if want := !plain[c]; want && !special(x) {
					t.Fatalf("byte %#x in lane %d among %q: not flagged", c, lane, fill)
				}
			}
		}
	}
	if special('a' * ones) {
		t.Fatal("plain word flagged")
	}
}
