package auditerr

import (
	"errors"
	"fmt"
	"math"
	"testing"
	"time"
)

type stringer struct{ s string }

func (s stringer) String() string { return s.s }

type nilErr struct{ msg string }

func (e *nilErr) Error() string { return e.msg }

var formatArgs = []any{
	0, 7, -7, 1234567, math.MaxInt64, math.MinInt64, int8(-8), int16(300), int32(-5), int32(0x2028), int32(0x10FFFF),
	int32(-1), int32(0xD800), int64(1 << 53), uint(9), uint8(255), uint16(65535), uint32(0xDEADBEEF), uint64(math.MaxUint64),
	uintptr(42), true, false, nil,
	"", "a", "héllo \"world\"\n\t\x00\x7f", "\xff\xfe", "☕ café", "\u202e\u2028", string(make([]byte, 100)),
	[]byte(nil), []byte{}, []byte("raw\x01\xff"), [32]byte{1, 2, 0xab},
	Code("invalid_json"), errors.New("boom \"x\""), ErrInvalidJSON, Errorf(ErrTooDeep, "deep %d", 3),
	stringer{"str"}, time.Date(2026, 5, 3, 12, 0, 0, 123456789, time.UTC), time.Second,
	(*nilErr)(nil), 1.5, []int{1}, struct{}{},
}

var formatVerbs = []string{"%d", "%x", "%X", "%s", "%v", "%q", "%08x", "%04X", "%.64q", "%.3q", "%.0q", "%5d", "%05d",
	"%#o", "%+d", "%t", "%%", "%-5s", "%c", "%!", "%", "%[1]d", "%.2s", "%8x"}

// TestAppendfIsSprintf: whatever appendf formats, it formats exactly as
// fmt.Sprintf does; the rest goes to fmt.
func TestAppendfIsSprintf(t *testing.T) {
	for _, verb := range formatVerbs {
		for _, a := range formatArgs {
			format := "x " + verb + " y"
			want := fmt.Sprintf(format, a)
			if got, ok := appendf(nil, format, []any{a}); ok && string(got) != want {
				t.Errorf("%s of %#v: %q, fmt gives %q", verb, a, got, want)
			}
			if got := sprintf(format, []any{a}); got != want {
				t.Errorf("sprintf %s of %#v: %q, fmt gives %q", verb, a, got, want)
			}
		}
	}
	for _, c := range []struct {
		format string
		args   []any
	}{{"%d %d", []any{1}}, {"%d", []any{1, 2}}, {"no verbs", nil}, {"100%%", nil}, {"%s", nil}} {
		if got, want := sprintf(c.format, c.args), fmt.Sprintf(c.format, c.args...); got != want {
			t.Errorf("%q %v: %q, fmt gives %q", c.format, c.args, got, want)
		}
	}
}

// TestAppendfHandlesTheCoresForms: the forms of the core's messages (the
// verbs and argument types that code under core/ and wasm/ passes) are
// handled without fmt, so the WebAssembly module words them as natively.
func TestAppendfHandlesTheCoresForms(t *testing.T) {
	for _, c := range []struct {
		format string
		args   []any
	}{
		{"jcs: %s at offset %d", []any{"unexpected end of input", 5}},
		{"jcs: input is %d bytes, more than the limit of %d", []any{5000000, 4 << 20}},
		{"unknown field %q", []any{"ünknown\x01"}},
		{"%s is assigned by the log and may not be sent", []any{[]byte("seq")}},
		{"%s: control character U+%04X at byte %d", []any{"source", int32(0x202e), 3}},
		{"detail: %v", []any{Errorf(ErrInvalidJSON, "x")}},
		{"%v", []any{errors.New("plain")}},
		{"event_type %q is not in the catalogue", []any{Code("x")}},
		{"checkpoint signature by %s+%08x does not verify", []any{"log.example", uint32(0xabc)}},
		{"root %x of size %d", []any{[32]byte{1}, uint64(7)}},
		{"hash %x", []any{[]byte{0xde, 0xad}}},
		{"wasm: malformed envelope %.64q", []any{[]byte("{\"ok\":")}},
		{"contains %q; an origin", []any{'+'}},
		{"clock reading %v is outside years 0000-9999", []any{time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)}},
		{"seq %d, size %d, index %d", []any{int64(-1), uint64(3), 4}},
	} {
		got, ok := appendf(nil, c.format, c.args)
		if want := fmt.Sprintf(c.format, c.args...); !ok || string(got) != want {
			t.Errorf("%q: %q (handled %v), fmt gives %q", c.format, got, ok, want)
		}
	}
}

func FuzzAppendf(f *testing.F) {
	f.Add("a %d b %s", int64(-3), "x\x00", []byte("\xff"))
	f.Add("%08x %.5q %X", int64(1<<40), "héllo wörld", []byte{1})
	f.Fuzz(func(t *testing.T, format string, i int64, s string, b []byte) {
		for _, args := range [][]any{{i, s, b}, {s, b, i}, {b, i, s}, {int32(i), uint32(i), Code(s)}} {
			if got, ok := appendf(nil, format, args); ok {
				if want := fmt.Sprintf(format, args...); string(got) != want {
					t.Fatalf("%q %#v: %q, fmt gives %q", format, args, got, want)
				}
			}
		}
	})
}
