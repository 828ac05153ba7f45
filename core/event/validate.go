package event

import (
	"strings"
	"time"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"

	"github.com/stigaudit/stigaudit/core/auditerr"
)

// Bounds on string fields. They keep one record small and printable; detail
// is where bulky or free-form data belongs.
const (
	// MaxFieldBytes bounds entity_uri, emitter, oidc_sub, fact_id,
	// attested_key_id and scope.
	MaxFieldBytes = 1024
	// MaxSourceBytes bounds source, which is free text.
	MaxSourceBytes = 4096
	// MaxTenantInputBytes bounds tenant_id before normalisation (after it,
	// the pattern allows at most 63 bytes).
	MaxTenantInputBytes = 256
	// MaxHLCPartDigits bounds each of the two numbers of an hlc; both must
	// also fit in a signed 64-bit integer.
	MaxHLCPartDigits = 19
)

// checkText validates a string field: valid UTF-8, at most max bytes, and
// none of the characters that let a log line lie about itself when printed:
// C0 and C1 controls and DEL, the line and paragraph separators U+2028 and
// U+2029, and the bidirectional controls U+200E, U+200F, U+202A–U+202E and
// U+2066–U+2069.
func checkText(field, s string, max int) error {
	if len(s) > max {
		return auditerr.Errorf(auditerr.ErrInvalidField, "%s: longer than %d bytes", field, max)
	}
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c < 0x20 || c == 0x7F {
				return auditerr.Errorf(auditerr.ErrInvalidField, "%s: control character at byte %d", field, i)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			return auditerr.Errorf(auditerr.ErrInvalidField, "%s: invalid UTF-8 at byte %d", field, i)
		case r >= 0x80 && r <= 0x9F, r == 0x2028, r == 0x2029, r == 0x200E, r == 0x200F,
			r >= 0x202A && r <= 0x202E, r >= 0x2066 && r <= 0x2069:
			return auditerr.Errorf(auditerr.ErrInvalidField, "%s: control character U+%04X at byte %d", field, r, i)
		}
		i += size
	}
	return nil
}

// NormalizeTenant returns the normalised tenant id of docs/event-format.md#tenant: NFKC, then
// surrounding white space trimmed, then lower-cased; the result must match
// ^[a-z0-9][a-z0-9-]{0,62}$. An empty input is DefaultTenant. It fails with
// invalid_tenant. ASCII input (the usual case) skips NFKC and does not
// allocate when it is already normal.
func NormalizeTenant(s string) (string, error) {
	if s == "" {
		return DefaultTenant, nil
	}
	if len(s) > MaxTenantInputBytes {
		return "", auditerr.Errorf(auditerr.ErrInvalidTenant, "tenant_id: longer than %d bytes", MaxTenantInputBytes)
	}
	t := s
	if !isASCII(t) {
		if !utf8.ValidString(t) {
			return "", auditerr.Errorf(auditerr.ErrInvalidTenant, "tenant_id: invalid UTF-8")
		}
		t = norm.NFKC.String(t)
	}
	t = strings.TrimSpace(t)
	if hasUpper(t) || !isASCII(t) {
		t = strings.ToLower(t)
	}
	if !validTenant(t) {
		return "", auditerr.Errorf(auditerr.ErrInvalidTenant, "tenant_id %q does not match ^[a-z0-9][a-z0-9-]{0,62}$ after normalisation", clip(t))
	}
	return t, nil
}

// validTenant checks ^[a-z0-9][a-z0-9-]{0,62}$.
func validTenant(t string) bool {
	if len(t) == 0 || len(t) > 63 || t[0] == '-' {
		return false
	}
	for i := 0; i < len(t); i++ {
		c := t[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

func hasUpper(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 'A' && s[i] <= 'Z' {
			return true
		}
	}
	return false
}

// ValidHLC reports whether s is a hybrid logical clock tick
// "<wall_ms>.<counter>": two non-negative decimal integers without sign or
// leading zeros, each of at most MaxHLCPartDigits digits and at most
// 2^63-1.
func ValidHLC(s string) bool {
	dot := strings.IndexByte(s, '.')
	return dot >= 0 && validUint63(s[:dot]) && validUint63(s[dot+1:])
}

func validUint63(s string) bool {
	if len(s) == 0 || len(s) > MaxHLCPartDigits || (s[0] == '0' && len(s) > 1) {
		return false
	}
	var n uint64
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return false
		}
		n = n*10 + uint64(c-'0') // 19 digits cannot overflow uint64
	}
	return n <= 1<<63-1
}

// TSLayout is the time.Format layout of Event.TS.
const TSLayout = "2006-01-02T15:04:05.000000Z"

// FormatTS returns t in the fixed-width UTC form of Event.TS,
// "2026-05-03T12:00:00.123456Z" (sub-microsecond digits are truncated). It
// fails with invalid_input for years outside 0000–9999, which the fixed width
// cannot hold.
func FormatTS(t time.Time) (string, error) {
	var b [len(TSLayout)]byte
	if _, ok := appendTS(b[:0], t); !ok {
		// The year, not %v of t: formatting a time.Time would link the
		// time package's formatter into the WebAssembly module.
		return "", auditerr.Errorf(auditerr.ErrInvalidInput, "time in year %d is outside years 0000-9999", t.UTC().Year())
	}
	return string(b[:]), nil
}

func appendTS(dst []byte, t time.Time) ([]byte, bool) {
	var b [len(TSLayout)]byte
	if !formatTS(&b, t) {
		return dst, false
	}
	return append(dst, b[:]...), true
}

// formatTS writes t in the form of TSLayout into b, digit by digit at
// fixed offsets (no append: under WebAssembly each is a memmove call),
// and reports false for years outside 0000–9999.
func formatTS(b *[len(TSLayout)]byte, t time.Time) bool {
	t = t.UTC()
	year, month, day := t.Date()
	if year < 0 || year > 9999 {
		return false
	}
	hour, minute, sec := t.Clock()
	putDigits(b[0:4], year)
	b[4] = '-'
	putDigits(b[5:7], int(month))
	b[7] = '-'
	putDigits(b[8:10], day)
	b[10] = 'T'
	putDigits(b[11:13], hour)
	b[13] = ':'
	putDigits(b[14:16], minute)
	b[16] = ':'
	putDigits(b[17:19], sec)
	b[19] = '.'
	putDigits(b[20:26], t.Nanosecond()/1000)
	b[26] = 'Z'
	return true
}

// putDigits writes v in decimal into all of b, with leading zeros.
func putDigits(b []byte, v int) {
	for i := len(b) - 1; i >= 0; i-- {
		b[i] = byte('0' + v%10)
		v /= 10
	}
}

// ValidTS reports whether s is a timestamp in the exact form FormatTS
// writes, naming a real instant (month 1–12, a day that exists in that
// month, hour < 24, minute < 60, second < 60).
func ValidTS(s string) bool {
	if len(s) != len(TSLayout) {
		return false
	}
	for i := 0; i < len(s); i++ {
		l := TSLayout[i]
		if l >= '0' && l <= '9' {
			if s[i] < '0' || s[i] > '9' {
				return false
			}
		} else if s[i] != l {
			return false
		}
	}
	num := func(i, n int) int {
		v := 0
		for _, c := range []byte(s[i : i+n]) {
			v = v*10 + int(c-'0')
		}
		return v
	}
	year, month, day := num(0, 4), num(5, 2), num(8, 2)
	if month < 1 || month > 12 || day < 1 || num(11, 2) > 23 || num(14, 2) > 59 || num(17, 2) > 59 {
		return false
	}
	return day <= time.Date(year, time.Month(month)+1, 0, 0, 0, 0, 0, time.UTC).Day()
}

func clip(s string) string {
	if len(s) > 64 {
		return s[:64] + "..."
	}
	return s
}
