package api

import (
	"testing"
	"time"

	"github.com/stigaudit/stigaudit/hostfns"
)

// FuzzCursor checks that any text either decodes to a non-negative seq for
// the query it was issued for or is refused, and that encoding round-trips.
func FuzzCursor(f *testing.F) {
	fh := filterHash("/v1/audit", &hostfns.Query{Order: hostfns.Descending, Tenant: "a"})
	f.Add(encodeCursor(hostfns.Descending, 41, fh), int64(41))
	f.Add("", int64(0))
	f.Add("AQEAAAAAAAAAKQ", int64(-1))
	f.Fuzz(func(t *testing.T, s string, seq int64) {
		if got, err := decodeCursor(s, hostfns.Descending, fh); err == nil && got < 0 {
			t.Fatalf("decodeCursor(%q) = %d", s, got)
		}
		if seq < 0 {
			return
		}
		c := encodeCursor(hostfns.Descending, seq, fh)
		if got, err := decodeCursor(c, hostfns.Descending, fh); err != nil || got != seq {
			t.Fatalf("round trip of %d: %d, %v", seq, got, err)
		}
		if _, err := decodeCursor(c, hostfns.Ascending, fh); err == nil {
			t.Fatal("a descending cursor was accepted for an ascending query")
		}
	})
}

// FuzzParseTime checks the rounding rule against the instant itself: the
// bound is on the microsecond grid, not before the instant, and less than
// a microsecond after it — whatever offset the instant is written in.
func FuzzParseTime(f *testing.F) {
	f.Add(int64(1777809600123456789), int32(120))
	f.Add(int64(0), int32(-300))
	f.Add(int64(1777809600000000000), int32(0))
	f.Fuzz(func(t *testing.T, ns int64, offset int32) {
		off := int(offset%(24*60)) * 60 // RFC 3339 offsets are whole minutes
		at := time.Unix(0, ns).In(time.FixedZone("", off))
		got, err := parseTime("since", at.Format(time.RFC3339Nano))
		if err != nil {
			return // outside years 0000-9999 in UTC, or an offset RFC 3339 cannot write
		}
		r, err := time.Parse(tsLayout, got)
		if err != nil {
			t.Fatalf("parseTime gave %q, not in the ts layout", got)
		}
		d := r.Sub(at)
		if d < 0 || d >= time.Microsecond || r.Nanosecond()%1000 != 0 {
			t.Fatalf("%s → %s: off by %v", at.Format(time.RFC3339Nano), got, d)
		}
	})
}
