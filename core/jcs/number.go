package jcs

import (
	"math"
	"strconv"
)

// AppendNumber appends f the way ECMAScript's Number.prototype.toString
// writes it (RFC 8785 §3.2.2.3): the shortest digits that round-trip, in
// plain notation for 1e-7 < |f| < 1e21 and exponent notation otherwise; -0 is
// written as 0. NaN and ±Inf have no JSON form and are written as null, as
// JSON.stringify does.
func AppendNumber(dst []byte, f float64) []byte {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return append(dst, "null"...)
	}
	if f == 0 {
		return append(dst, '0')
	}
	if f < 0 {
		dst = append(dst, '-')
		f = -f
	}
	// Shortest round-trip digits in the form d[.ddd]e±xx.
	var buf [32]byte
	e := strconv.AppendFloat(buf[:0], f, 'e', -1, 64)
	var digits [20]byte
	k := 0
	i := 0
	for ; e[i] != 'e'; i++ {
		if e[i] != '.' {
			digits[k] = e[i]
			k++
		}
	}
	i++ // 'e'
	neg := e[i] == '-'
	exp := 0
	for i++; i < len(e); i++ {
		exp = exp*10 + int(e[i]-'0')
	}
	if neg {
		exp = -exp
	}
	// The value is 0.d1d2...dk × 10^n (ECMA-262 Number::toString).
	return appendDecimal(dst, digits[:k], exp+1)
}

// appendShortDecimal appends the ECMAScript form of the JSON number whose
// integer part (with its sign) is ip and whose remainder is rest, and
// reports true, when that form can be had without binary floating point:
// rest is a fraction without exponent, ".ddd", and the number has at most
// 15 significant digits in the normal range of doubles. Any decimal of at
// most 15 significant digits is recovered from its nearest double (DBL_DIG),
// so no shorter or other string of that length rounds to the same double:
// the shortest round-trip digits ECMAScript writes are exactly the
// literal's significant digits.
func appendShortDecimal(dst, ip, rest []byte) ([]byte, bool) {
	if len(rest) < 2 || rest[0] != '.' {
		return dst, false
	}
	neg := ip[0] == '-'
	if neg {
		ip = ip[1:]
	}
	frac := rest[1:]
	for _, c := range frac {
		if c < '0' || c > '9' {
			return dst, false // an exponent
		}
	}
	// The digits D = ip ‖ frac, less leading and trailing zeros; the value
	// is 0.D × 10^n.
	var buf [15]byte
	k, lead, nz := 0, true, 0 // nz: digits taken, counting zeros not yet known trailing
	n := len(ip)
	for _, part := range [2][]byte{ip, frac} {
		for _, c := range part {
			if lead {
				if c == '0' {
					n--
					continue
				}
				lead = false
			}
			if c != '0' {
				if nz >= len(buf) {
					return dst, false
				}
				for k < nz {
					buf[k] = '0'
					k++
				}
				buf[k] = c
				k++
			}
			nz++
		}
	}
	if k == 0 {
		return append(dst, '0'), true // 0.000, -0.0
	}
	if n < -300 || n > 300 {
		return dst, false
	}
	if neg {
		dst = append(dst, '-')
	}
	return appendDecimal(dst, buf[:k], n), true
}

// appendDecimal appends the value 0.d × 10^n, d being its shortest
// round-trip digits without trailing zeros, as ECMA-262 Number::toString
// writes it.
func appendDecimal(dst, d []byte, n int) []byte {
	k := len(d)
	switch {
	case k <= n && n <= 21:
		dst = append(dst, d...)
		for j := k; j < n; j++ {
			dst = append(dst, '0')
		}
	case 0 < n && n <= 21:
		dst = append(dst, d[:n]...)
		dst = append(dst, '.')
		dst = append(dst, d[n:]...)
	case -6 < n && n <= 0:
		dst = append(dst, '0', '.')
		for j := n; j < 0; j++ {
			dst = append(dst, '0')
		}
		dst = append(dst, d...)
	default:
		dst = append(dst, d[0])
		if k > 1 {
			dst = append(dst, '.')
			dst = append(dst, d[1:]...)
		}
		dst = append(dst, 'e')
		if n-1 >= 0 {
			dst = append(dst, '+')
		} else {
			dst = append(dst, '-')
		}
		x := n - 1
		if x < 0 {
			x = -x
		}
		dst = strconv.AppendInt(dst, int64(x), 10)
	}
	return dst
}

// SameDecimal reports whether the JSON number texts a and b denote the same
// decimal value, exactly: the same significant digits (without leading and
// trailing zeros) at the same power of ten, and the same sign unless the
// value is zero (-0 and 0 are the same value). It is the test of
// Limits.ExactNumbers, applied to a number as written and its canonical
// form: "0.10" and "0.1", "1e2" and "100", "-0" and "0" are the same;
// "9007199254740993" and "9007199254740992", "1e-400" and "0" are not. Text
// that is not a JSON number is the same as nothing.
func SameDecimal(a, b []byte) bool {
	x, okx := parseDecimal(a)
	y, oky := parseDecimal(b)
	if !okx || !oky {
		return false
	}
	if x.n == 0 || y.n == 0 {
		return x.n == y.n
	}
	return x.neg == y.neg && x.exp == y.exp && x.d == y.d
}

// maxDecimalDigits bounds the significant digits parseDecimal keeps. A
// double's shortest form has at most 17, so a number with more cannot equal
// a canonical one.
const maxDecimalDigits = 24

// decimal is the value ±0.d[:n] × 10^exp; n == 0 is zero.
type decimal struct {
	neg bool
	n   int
	exp int
	d   [maxDecimalDigits]byte
}

// parseDecimal reads a JSON number text. It reports false for text that
// is not a number or that has more than maxDecimalDigits significant
// digits. Exponents are clamped far beyond any double's, so that no input
// overflows.
func parseDecimal(b []byte) (decimal, bool) {
	var x decimal
	i := 0
	if i < len(b) && b[i] == '-' {
		x.neg = true
		i++
	}
	lead, zeros, point, seen := true, 0, false, false
	for ; i < len(b); i++ {
		c := b[i]
		if c == '.' && !point {
			point = true
			continue
		}
		if c < '0' || c > '9' {
			break
		}
		seen = true
		if !point {
			x.exp++ // one more integer digit
		}
		switch {
		case lead && c == '0':
			x.exp-- // a leading zero moves the point, adds no digit
		case c == '0':
			zeros++
		default:
			lead = false
			if x.n+zeros+1 > maxDecimalDigits {
				return x, false
			}
			for ; zeros > 0; zeros-- {
				x.d[x.n] = '0'
				x.n++
			}
			x.d[x.n] = c
			x.n++
		}
	}
	if !seen {
		return x, false
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		neg := false
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			neg = b[i] == '-'
			i++
		}
		if i == len(b) {
			return x, false
		}
		e := 0
		for ; i < len(b); i++ {
			c := b[i]
			if c < '0' || c > '9' {
				return x, false
			}
			if e < 1<<30 {
				e = e*10 + int(c-'0')
			}
		}
		if neg {
			e = -e
		}
		x.exp += e
	}
	return x, i == len(b)
}
