package uuid7

import (
	"io"
	"time"

	"github.com/stigaudit/stigaudit/core/auditerr"
)

// EntropyBytes is how many bytes New reads from its entropy source; 74 of
// their 80 bits are used.
const EntropyBytes = 10

// maxMillis is the largest Unix millisecond count that fits in 48 bits.
const maxMillis = 1<<48 - 1

const hexDigits = "0123456789abcdef"

// UUID is the 16-byte binary form of a UUID.
type UUID [16]byte

// New returns a version 7 UUID for the instant now, in lower-case 8-4-4-4-12
// form, reading EntropyBytes bytes from entropy. It fails with
// entropy_unavailable when entropy fails, and with invalid_input when now is
// before 1970 or beyond the 48-bit millisecond range (year 10889).
func New(now time.Time, entropy io.Reader) (string, error) {
	ms := now.UnixMilli()
	if ms < 0 || ms > maxMillis {
		return "", auditerr.Errorf(auditerr.ErrInvalidInput, "uuid7: time %s is outside the UUIDv7 range", now.UTC().Format(time.RFC3339))
	}
	var r [EntropyBytes]byte
	if _, err := io.ReadFull(entropy, r[:]); err != nil {
		return "", auditerr.Errorf(auditerr.ErrEntropyUnavailable, "uuid7: reading entropy: %v", err)
	}
	return FromParts(ms, r).String(), nil
}

// FromParts assembles a version 7 UUID from a Unix millisecond time (only its
// low 48 bits are used) and EntropyBytes random bytes: bits 0–47 are the
// time, then version 7, 12 random bits, variant 10 and 62 random bits.
func FromParts(ms int64, r [EntropyBytes]byte) UUID {
	var u UUID
	u[0] = byte(ms >> 40)
	u[1] = byte(ms >> 32)
	u[2] = byte(ms >> 24)
	u[3] = byte(ms >> 16)
	u[4] = byte(ms >> 8)
	u[5] = byte(ms)
	u[6] = 0x70 | r[0]&0x0F
	u[7] = r[1]
	u[8] = 0x80 | r[2]&0x3F
	copy(u[9:], r[3:])
	return u
}

// String returns u in lower-case 8-4-4-4-12 form.
func (u UUID) String() string {
	var b [36]byte
	j := 0
	for i, c := range u {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			b[j] = '-'
			j++
		}
		b[j] = hexDigits[c>>4]
		b[j+1] = hexDigits[c&0x0F]
		j += 2
	}
	return string(b[:])
}

// Version returns the version field (7 for ids made by New).
func (u UUID) Version() int { return int(u[6] >> 4) }

// Millis returns the Unix millisecond timestamp of a version 7 UUID.
func (u UUID) Millis() int64 {
	return int64(u[0])<<40 | int64(u[1])<<32 | int64(u[2])<<24 | int64(u[3])<<16 | int64(u[4])<<8 | int64(u[5])
}

// Parse decodes a UUID written as 8-4-4-4-12 hexadecimal digits in either
// case. Any version and variant is accepted, including the nil and max
// UUIDs. It fails with invalid_id.
func Parse(s string) (UUID, error) {
	var u UUID
	if len(s) != 36 {
		return u, invalid(s)
	}
	j := 0
	for i := 0; i < 36; {
		if i == 8 || i == 13 || i == 18 || i == 23 {
			if s[i] != '-' {
				return u, invalid(s)
			}
			i++
			continue
		}
		hi, ok1 := unhex(s[i])
		lo, ok2 := unhex(s[i+1])
		if !ok1 || !ok2 {
			return u, invalid(s)
		}
		u[j] = hi<<4 | lo
		j++
		i += 2
	}
	return u, nil
}

// Normalize returns s in lower-case 8-4-4-4-12 form if it is a UUID (see
// Parse), without allocating when s already is.
func Normalize(s string) (string, error) {
	if len(s) != 36 {
		return "", invalid(s)
	}
	lower := true
	for i := 0; i < 36; i++ {
		c := s[i]
		switch {
		case i == 8 || i == 13 || i == 18 || i == 23:
			if c != '-' {
				return "", invalid(s)
			}
		case (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'):
		case c >= 'A' && c <= 'F':
			lower = false
		default:
			return "", invalid(s)
		}
	}
	if lower {
		return s, nil
	}
	u, _ := Parse(s)
	return u.String(), nil
}

func unhex(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

func invalid(s string) error {
	if len(s) > 64 {
		s = s[:64] + "..."
	}
	return auditerr.Errorf(auditerr.ErrInvalidID, "id %q is not a UUID in 8-4-4-4-12 hexadecimal form", s)
}
