package event

import (
	"bytes"
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// checkFastPath fails unless draftFast, when it accepts data, returns
// exactly what parseDraftFull returns; it reports whether it accepted.
func checkFastPath(t *testing.T, data []byte, lim Limits) bool {
	t.Helper()
	lim = lim.orDefault()
	fast, _, ok := draftFast(data, lim, nil)
	if !ok {
		return false
	}
	full, err := parseDraftFull(data, lim)
	if err != nil {
		t.Fatalf("%s: the fast path accepts, the full path refuses: %v", data, err)
	}
	if !bytes.Equal(fast.Detail, full.Detail) || cap(fast.Detail) != len(fast.Detail) {
		t.Fatalf("%s: detail %q (cap %d), full path %q", data, fast.Detail, cap(fast.Detail), full.Detail)
	}
	fast.Detail, full.Detail = nil, nil
	if !reflect.DeepEqual(fast, full) {
		t.Fatalf("%s:\nfast %+v\nfull %+v", data, fast, full)
	}
	return true
}

// TestDraftFastMatchesFull: the drafts of the vectors, and variants of
// every shape the fast path takes, read alike on both paths; common
// drafts do take the fast path, and what it leaves to the full path is
// refused or read there.
func TestDraftFastMatchesFull(t *testing.T) {
	var canonical struct {
		Cases []struct{ Request string }
	}
	readVectors(t, "canonical.json", &canonical)
	var invalid struct {
		Cases []struct{ Request string }
	}
	readVectors(t, "invalid.json", &invalid)
	for _, c := range append(canonical.Cases, invalid.Cases...) {
		checkFastPath(t, []byte(c.Request), Limits{})
	}
	for _, tc := range []struct {
		draft string
		fast  bool
	}{
		{`{"event_type":"fact_read","entity_uri":"urn:a"}`, true},
		{` {"detail":{"z":1e2,"a":[1.50,"\u00e9"]},"event_type":"fact_write","entity_uri":"urn:a"} `, true},
		{`{"id":"0196a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b","event_type":"fact_write","tenant_id":"acme","entity_uri":"agent:planner-7","fact_id":"fact-2291","source":"api","scope":"facts:write","detail":{"bytes":1834,"relation":"knows","résumé":"naïve café ☕","ratio":0.25}}`, true},
		{`{"event_type":"fact_read","entity_uri":"urn:\u0061\/b\ud83d\ude00","hlc":null,"emitter":null,"oidc_sub":"s","attested_key_id":"k","outcome":"denied","detail":null}`, true},
		{`{"event_type":"fact_read","entity_uri":"urn:a","detail":{}}`, true},
		{`{"\u0065vent_type":"fact_read","entity_uri":"urn:a"}`, true},
		// Left to the full path.
		{`{"event_type":"fact_read","entity_uri":"urn:a","event_type":"fact_read"}`, false},
		{`{"event_type":"fact_read","entity_uri":"urn:a","\u0065vent_type":"x"}`, false},
		{`{"event_type":"instruction_promoted","entity_uri":"urn:a","fact":{"entity":"instruction:x"}}`, false},
		{`{"event_type":"fact_read","entity_uri":"urn:a","seq":1}`, false},
		{`{"event_type":"fact_read","entity_uri":"urn:a","extra":"x"}`, false},
		{`{"event_type":1,"entity_uri":"urn:a"}`, false},
		{`{"event_type":"fact_read","entity_uri":"urn:a","detail":[1]}`, false},
		{`{"event_type":"fact_read","entity_uri":"urn:a","detail":"x"}`, false},
		{`{"event_type":"fact_read","entity_uri":"urn:a"} x`, false},
		{`{"event_type":"fact_read","entity_uri":"urn:a","detail":{"a":{"b":{"c":1}}}}`, false}, // deeper than the limit below
		{`{"event_type":"fact_read","entity_uri":"urn:a","detail":{"a":"0123456789"}}`, false},  // larger than the limit below
	} {
		lim := Limits{}
		if bytes.Contains([]byte(tc.draft), []byte(`"a":{"b"`)) {
			lim.MaxDetailDepth = 2
		}
		if bytes.Contains([]byte(tc.draft), []byte(`0123456789`)) {
			lim.MaxDetailBytes = 16
		}
		if got := checkFastPath(t, []byte(tc.draft), lim); got != tc.fast {
			t.Errorf("%s: fast path %v, want %v", tc.draft, got, tc.fast)
		}
		// Whatever path reads it, ParseDraft answers as the full path.
		d1, err1 := ParseDraft([]byte(tc.draft), lim)
		d2, err2 := parseDraftFull([]byte(tc.draft), lim.orDefault())
		if (err1 == nil) != (err2 == nil) || err1 != nil && err1.Error() != err2.Error() || !reflect.DeepEqual(d1, d2) {
			t.Errorf("%s: ParseDraft %+v, %v; full path %+v, %v", tc.draft, d1, err1, d2, err2)
		}
	}
}

// TestDraftFastSharesOneAllocation: a common draft costs one allocation
// (BuildJSON's time stamp included), and writing into the returned detail
// — which callers may do — leaves every string field and the time stamp
// as they were.
func TestDraftFastSharesOneAllocation(t *testing.T) {
	data := []byte(`{"event_type":"fact_write","entity_uri":"agent:planner-7","source":"api","scope":"facts:write","detail":{"b":1,"a":"x"}}`)
	if n := testing.AllocsPerRun(100, func() {
		if _, err := ParseDraft(data, Limits{}); err != nil {
			t.Fatal(err)
		}
	}); n != 1 {
		t.Errorf("ParseDraft: %v allocations, want 1", n)
	}
	var b Builder
	e, err := b.BuildJSON(append([]byte(`{"id":"0196a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b",`), data[1:]...), fixedNow, zeroEntropy())
	if err != nil {
		t.Fatal(err)
	}
	if e.TS != "2026-05-03T12:00:00.123456Z" {
		t.Fatalf("ts %q", e.TS)
	}
	snapshot := string(AppendJSON(nil, &e)) // a copy of every field
	saved := bytes.Clone(e.Detail)
	for i := range e.Detail {
		e.Detail[i] = 'X'
	}
	e.Detail = saved
	if got := string(AppendJSON(nil, &e)); got != snapshot {
		t.Fatalf("writing the detail changed the event:\n%s\n%s", got, snapshot)
	}
	if got := string(saved); got != `{"a":"x","b":1}` {
		t.Fatalf("detail %s", got)
	}
}

// TestFormatTSMatchesTimeFormat: the digit-by-digit time stamp is
// time.Format's TSLayout for times across the whole range it accepts, in
// any zone, and years outside 0000–9999 are refused.
func TestFormatTSMatchesTimeFormat(t *testing.T) {
	zone := time.FixedZone("x", -(9*3600 + 30*60))
	for _, tm := range []time.Time{
		time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC),
		time.Date(1970, 1, 1, 0, 0, 0, 1000, time.UTC),
		time.Date(2026, 2, 28, 23, 59, 59, 999, zone), // next day in UTC
		time.Date(2024, 2, 29, 9, 5, 7, 40500, time.UTC),
		time.Unix(1777809600, 123456789),
	} {
		got, err := FormatTS(tm)
		if want := tm.UTC().Format(TSLayout); err != nil || got != want {
			t.Errorf("%v: %q, %v, want %q", tm, got, err, want)
		}
	}
	for _, tm := range []time.Time{time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(-1, 12, 31, 0, 0, 0, 0, time.UTC)} {
		if s, err := FormatTS(tm); err == nil {
			t.Errorf("%v: %q, want an error", tm, s)
		}
	}
}

// refCheckText is checkText without the plain-prefix skip: every
// character looked at in turn.
func refCheckText(s string) bool {
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1, r < 0x20, r >= 0x7F && r <= 0x9F, r == 0x2028, r == 0x2029,
			r == 0x200E, r == 0x200F, r >= 0x202A && r <= 0x202E, r >= 0x2066 && r <= 0x2069:
			return false
		}
		i += size
	}
	return true
}

// TestCheckTextMatchesReference: checkText refuses exactly the strings
// holding a refused character, wherever it is (in or after the plain
// prefix, in any lane of a word), and names the byte where it is.
func TestCheckTextMatchesReference(t *testing.T) {
	pieces := []string{"a", "Z", "0", " ", "-", ":", "\"", "\\", "\x7f", "\x00", "\x1f", "\t", "é", "☕", "\u0085", "\u2028", "\u202e", "\u2066", "\xff", "\xc3"}
	seed := uint32(7)
	next := func(n int) int {
		seed = seed*1664525 + 1013904223
		return int(seed>>8) % n
	}
	for round := 0; round < 20000; round++ {
		var b strings.Builder
		for n := next(30); n > 0; n-- {
			if next(4) == 0 {
				b.WriteString(pieces[next(len(pieces))])
			} else {
				b.WriteByte(byte('a' + next(26)))
			}
		}
		s := b.String()
		err := checkText("f", s, MaxFieldBytes)
		if (err == nil) != refCheckText(s) {
			t.Fatalf("%q: checkText %v, reference %v", s, err, refCheckText(s))
		}
	}
	if err := checkText("f", "abcdefghijklmnop\x7fq", MaxFieldBytes); err == nil || !strings.Contains(err.Error(), "byte 16") {
		t.Fatalf("DEL in the plain prefix: %v", err)
	}
}
