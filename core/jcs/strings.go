package jcs

import (
	"bytes"
	"unicode/utf8"
)

const hexDigits = "0123456789abcdef"

// AppendString appends s as a canonical JSON string, quotes included. Only
// '"', '\\' and the C0 controls are escaped (RFC 8785 §3.2.2.2). s should be
// valid UTF-8; each byte of an invalid sequence is written as U+FFFD, as no
// JSON string can carry it.
func AppendString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; ; {
		i = plainRunString(s, i)
		if i >= len(s) {
			break
		}
		c := s[i]
		if c >= utf8.RuneSelf {
			r, size := utf8.DecodeRuneInString(s[i:])
			if r != utf8.RuneError || size > 1 {
				i += size
				continue
			}
			dst = append(dst, s[start:i]...)
			dst = append(dst, "\uFFFD"...)
			i++
			start = i
			continue
		}
		dst = append(dst, s[start:i]...)
		dst = appendRune(dst, rune(c))
		i++
		start = i
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// appendRune appends r in canonical string form (without quotes).
func appendRune(dst []byte, r rune) []byte {
	switch {
	case r == '"':
		return append(dst, '\\', '"')
	case r == '\\':
		return append(dst, '\\', '\\')
	case r >= 0x20:
		return utf8.AppendRune(dst, r)
	case r == '\b':
		return append(dst, '\\', 'b')
	case r == '\t':
		return append(dst, '\\', 't')
	case r == '\n':
		return append(dst, '\\', 'n')
	case r == '\f':
		return append(dst, '\\', 'f')
	case r == '\r':
		return append(dst, '\\', 'r')
	default:
		return append(dst, '\\', 'u', '0', '0', hexDigits[r>>4], hexDigits[r&0xF])
	}
}

// appendUnescaped appends the decoded content of the JSON string body s
// (without quotes). Unknown escapes are copied through; s is expected to be
// valid, e.g. canonical output.
func appendUnescaped(dst, s []byte) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\\' || i+1 >= len(s) {
			dst = append(dst, c)
			continue
		}
		i++
		switch s[i] {
		case 'b':
			dst = append(dst, '\b')
		case 'f':
			dst = append(dst, '\f')
		case 'n':
			dst = append(dst, '\n')
		case 'r':
			dst = append(dst, '\r')
		case 't':
			dst = append(dst, '\t')
		case 'u':
			r, ok := hex4(s, i+1)
			if !ok {
				dst = append(dst, '\\', 'u')
				continue
			}
			i += 4
			if r >= 0xD800 && r <= 0xDBFF && i+6 < len(s) && s[i+1] == '\\' && s[i+2] == 'u' {
				if lo, ok := hex4(s, i+3); ok && lo >= 0xDC00 && lo <= 0xDFFF {
					r = 0x10000 + (r-0xD800)<<10 + (lo - 0xDC00)
					i += 6
				}
			}
			dst = utf8.AppendRune(dst, r)
		default:
			dst = append(dst, s[i])
		}
	}
	return dst
}

// Unquote decodes the JSON string v, quotes included, such as a Member's
// Value. It reports false when v is not a string.
func Unquote(v []byte) (string, bool) {
	if len(v) < 2 || v[0] != '"' || v[len(v)-1] != '"' {
		return "", false
	}
	body := v[1 : len(v)-1]
	if bytes.IndexByte(body, '\\') >= 0 {
		return string(appendUnescaped(make([]byte, 0, len(body)), body)), true
	}
	return string(body), true
}

// Compare orders two strings by their UTF-16 code units, the member order of
// RFC 8785 §3.2.3. It returns -1, 0 or +1.
func Compare(a, b string) int {
	n := min(len(a), len(b))
	i := 0
	for i < n && a[i] == b[i] {
		i++
	}
	if i == n {
		return cmpInt(len(a), len(b))
	}
	for i > 0 && !utf8.RuneStart(a[i]) {
		i--
	}
	ra, _ := utf8.DecodeRuneInString(a[i:])
	rb, _ := utf8.DecodeRuneInString(b[i:])
	return cmpRune(ra, rb)
}

// compareUTF16 is Compare for decoded names held as bytes.
func compareUTF16(a, b []byte) int {
	n := min(len(a), len(b))
	i := 0
	for i+8 <= n && load64(a, i) == load64(b, i) {
		i += 8
	}
	for i < n && a[i] == b[i] {
		i++
	}
	if i == n {
		return cmpInt(len(a), len(b))
	}
	// UTF-8 byte order equals code point order; it differs from UTF-16 order
	// only between a supplementary character (lead byte 0xF0-0xF4) and one
	// in U+E000..U+FFFF (lead byte 0xEE or 0xEF). Below 0xEE the differing
	// bytes order the names; else step back to the start of the differing
	// character and compare code units.
	if a[i] < 0xEE && b[i] < 0xEE {
		if a[i] < b[i] {
			return -1
		}
		return 1
	}
	for i > 0 && !utf8.RuneStart(a[i]) {
		i--
	}
	ra, _ := utf8.DecodeRune(a[i:])
	rb, _ := utf8.DecodeRune(b[i:])
	return cmpRune(ra, rb)
}

// cmpRune compares the first UTF-16 code units of two distinct characters
// (and, for two supplementary characters, their code points, which order
// their surrogate pairs the same way).
func cmpRune(a, b rune) int {
	if (a >= 0x10000) != (b >= 0x10000) {
		if a >= 0x10000 {
			a = 0xD800 + (a-0x10000)>>10
		} else {
			b = 0xD800 + (b-0x10000)>>10
		}
	}
	return cmpInt(int(a), int(b))
}

func cmpInt(a, b int) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
