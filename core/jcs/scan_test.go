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

// TestPlainRunFindsTheFirstSpecialByte: plainRun and plainRunString stop
// at exactly the first byte that is not plain, from every start, in
// random texts mixing plain, structural, control and multi-byte bytes
// (so that several special bytes share a word, and borrows cross lanes).
func TestPlainRunFindsTheFirstSpecialByte(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	alphabet := []byte("abcXYZ09 !#~\x7f\"\\\x00\x01\x1f\x20\xc3\xa9\xe2\x98\x95\xff\x80")
	for round := 0; round < 3000; round++ {
		s := make([]byte, r.IntN(40))
		for i := range s {
			if r.IntN(3) == 0 {
				s[i] = alphabet[r.IntN(len(alphabet))]
			} else {
				s[i] = byte('a' + r.IntN(26))
			}
		}
		for start := 0; start <= len(s); start++ {
			want := start
			for want < len(s) && plain[s[want]] {
				want++
			}
			if got := plainRun(s, start); got != want {
				t.Fatalf("plainRun(%q, %d) = %d, want %d", s, start, got, want)
			}
			if got := plainRunString(string(s), start); got != want {
				t.Fatalf("plainRunString(%q, %d) = %d, want %d", s, start, got, want)
			}
		}
	}
	// Every byte value in every lane, after plain bytes and after special ones.
	for c := 0; c < 256; c++ {
		for lane := 0; lane < 8; lane++ {
			for _, before := range []byte{'a', 0x00, '"', 0xff} {
				s := []byte("aaaaaaaaaaaaaaaa")
				for i := 0; i < lane; i++ {
					s[i] = 'b'
				}
				s[lane] = byte(c)
				if lane > 0 && before != 'a' {
					s[lane-1] = before
				}
				want := 0
				for want < len(s) && plain[s[want]] {
					want++
				}
				if got := plainRun(s, 0); got != want {
					t.Fatalf("byte %#x in lane %d after %#x: %d, want %d", c, lane, before, got, want)
				}
			}
		}
	}
}
