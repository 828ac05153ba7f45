package uuid7

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/stigaudit/stigaudit/core/auditerr"
)

func TestNewLayout(t *testing.T) {
	// 2026-05-03T12:00:00.123Z is 1777809600123 ms = 0x019dedb5 ae7b.
	now := time.Date(2026, 5, 3, 12, 0, 0, 123456789, time.UTC)
	tests := []struct {
		entropy []byte
		want    string
	}{
		{bytes.Repeat([]byte{0x00}, 10), "019dedb5-ae7b-7000-8000-000000000000"},
		{bytes.Repeat([]byte{0xff}, 10), "019dedb5-ae7b-7fff-bfff-ffffffffffff"},
		{[]byte{0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef, 0x01, 0x23}, "019dedb5-ae7b-7123-8567-89abcdef0123"},
	}
	for _, tt := range tests {
		got, err := New(now, bytes.NewReader(tt.entropy))
		if err != nil {
			t.Fatal(err)
		}
		if got != tt.want {
			t.Errorf("New(%x) = %s, want %s", tt.entropy, got, tt.want)
		}
		u, err := Parse(got)
		if err != nil {
			t.Fatal(err)
		}
		if u.Version() != 7 || u[8]>>6 != 0b10 || u.Millis() != now.UnixMilli() {
			t.Errorf("%s: version %d, variant %b, ms %d", got, u.Version(), u[8]>>6, u.Millis())
		}
	}
}

func TestNewSortsByTime(t *testing.T) {
	base := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	prev := ""
	for i := range 50 {
		// Later instants sort later whatever the random bits are.
		e := bytes.Repeat([]byte{byte(255 - i*5)}, 10)
		id, err := New(base.Add(time.Duration(i)*time.Millisecond), bytes.NewReader(e))
		if err != nil {
			t.Fatal(err)
		}
		if id <= prev {
			t.Fatalf("%s does not sort after %s", id, prev)
		}
		prev = id
	}
}

func TestNewErrors(t *testing.T) {
	ok := bytes.NewReader(make([]byte, 10))
	if _, err := New(time.Date(1969, 12, 31, 0, 0, 0, 0, time.UTC), ok); !errors.Is(err, auditerr.ErrInvalidInput) {
		t.Errorf("time before 1970: %v", err)
	}
	if _, err := New(time.UnixMilli(maxMillis+1), ok); !errors.Is(err, auditerr.ErrInvalidInput) {
		t.Errorf("time beyond 48 bits: %v", err)
	}
	if _, err := New(time.UnixMilli(maxMillis), bytes.NewReader(make([]byte, 10))); err != nil {
		t.Errorf("largest time refused: %v", err)
	}
	if _, err := New(time.Now(), bytes.NewReader(make([]byte, 9))); !errors.Is(err, auditerr.ErrEntropyUnavailable) {
		t.Errorf("short entropy: %v", err)
	}
	if _, err := New(time.Now(), iotest.ErrReader(errors.New("boom"))); !errors.Is(err, auditerr.ErrEntropyUnavailable) {
		t.Errorf("failing entropy: %v", err)
	}
}

func TestNormalize(t *testing.T) {
	tests := []struct {
		in, want string
	}{
		{"019dedb5-ae7b-7123-8567-89abcdef0123", "019dedb5-ae7b-7123-8567-89abcdef0123"},
		{"019DEDB5-AE7B-7123-8567-89ABCDEF0123", "019dedb5-ae7b-7123-8567-89abcdef0123"},
		{"f47ac10b-58cc-4372-A567-0e02b2c3d479", "f47ac10b-58cc-4372-a567-0e02b2c3d479"}, // v4
		{"00000000-0000-0000-0000-000000000000", "00000000-0000-0000-0000-000000000000"}, // nil
		{"FFFFFFFF-FFFF-FFFF-FFFF-FFFFFFFFFFFF", "ffffffff-ffff-ffff-ffff-ffffffffffff"}, // max
	}
	for _, tt := range tests {
		got, err := Normalize(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("Normalize(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
	for _, bad := range []string{
		"",
		"019dedc8a37b71238567-89abcdef0123",
		"019dedb5-ae7b-7123-8567-89abcdef012",
		"019dedb5-ae7b-7123-8567-89abcdef01234",
		"{019dedb5-ae7b-7123-8567-89abcdef0123}",
		"urn:uuid:019dedb5-ae7b-7123-8567-89abcdef0123",
		"019dedb5-ae7b-7123-8567_89abcdef0123",
		"019dedb5-ae7b-7123-8567-89abcdef012g",
		"019dedb5-ae7b-7123-8567-89abcdef012\u00e9",
		strings.Repeat("x", 1000),
	} {
		if _, err := Normalize(bad); !errors.Is(err, auditerr.ErrInvalidID) {
			t.Errorf("Normalize(%q) error = %v, want invalid_id", bad, err)
		}
		if _, err := Parse(bad); !errors.Is(err, auditerr.ErrInvalidID) {
			t.Errorf("Parse(%q) error = %v, want invalid_id", bad, err)
		}
	}
}

func BenchmarkNew(b *testing.B) {
	now := time.Date(2026, 5, 3, 12, 0, 0, 0, time.UTC)
	src := bytes.NewReader(make([]byte, 10))
	b.ReportAllocs()
	for b.Loop() {
		src.Seek(0, 0)
		if _, err := New(now, src); err != nil {
			b.Fatal(err)
		}
	}
}
