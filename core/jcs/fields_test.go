package jcs

import (
	"slices"
	"strings"
	"testing"

	"github.com/stigaudit/stigaudit/core/auditerr"
)

type fieldRead struct{ name, value string }

// readFields reads every member of src with f: strings with String, null
// with Null, anything else with Canonical. Values are recorded in
// canonical form, so that they compare with what Members yields.
func readFields(src string) ([]fieldRead, error) {
	var got []fieldRead
	f := ScanObject(src)
	for f.Next() {
		name := f.Name()
		var v string
		switch f.Kind() {
		case '"':
			s, ok := f.String()
			if !ok {
				break
			}
			v = string(AppendString(nil, s))
		case 'n':
			if !f.Null() {
				break
			}
			v = "null"
		default:
			c, err := f.Canonical(nil, Limits{MaxDepth: HardMaxDepth - 1})
			if err != nil {
				break
			}
			v = string(c)
		}
		got = append(got, fieldRead{name, v})
	}
	return got, f.Err()
}

// canonicalMembers is what Canonicalize and Members make of src: its
// members in canonical order, or the canonicaliser's error.
func canonicalMembers(src string) ([]fieldRead, error) {
	c, err := Canonicalize(nil, []byte(src), Limits{})
	if err != nil {
		return nil, err
	}
	var out []fieldRead
	it := Members(c)
	for it.Next() {
		m := it.Member()
		out = append(out, fieldRead{m.Name(), string(m.Value)})
	}
	return out, it.Err()
}

func sortedByName(fs []fieldRead) []fieldRead {
	fs = slices.Clone(fs)
	slices.SortFunc(fs, func(a, b fieldRead) int { return Compare(a.name, b.name) })
	return fs
}

func TestFieldsReadsWhatCanonicalizeReads(t *testing.T) {
	for _, src := range []string{
		`{}`,
		` { } `,
		`{"a":"x"}`,
		"{\n\t\"b\" : null ,\r\n \"a\":\"\\u00e9\\/\\n\\ud83d\\ude00\"}",
		`{"id":"0196a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b","event_type":"fact_write","detail":{"z":1e2,"a":[true,false,null,-0.0],"é":{"y":"\u0041"}}}`,
		`{"n":-12.50e-1,"t":true,"f":false,"arr":[],"o":{}}`,
		`{"\u0069d":"k","naïve":"café ☕"}`,
	} {
		got, err := readFields(src)
		if err != nil {
			t.Errorf("%s: %v", src, err)
			continue
		}
		want, err := canonicalMembers(src)
		if err != nil {
			t.Fatalf("%s: canonicalize: %v", src, err)
		}
		if g := sortedByName(got); !slices.Equal(g, want) {
			t.Errorf("%s:\n got %q\nwant %q", src, g, want)
		}
	}
}

func TestFieldsRefusesWhatCanonicalizeRefuses(t *testing.T) {
	for _, src := range []string{
		``, ` `, `{`, `{"a"`, `{"a":`, `{"a":1`, `{"a":1,}`, `{,"a":1}`,
		`{"a" 1}`, `{a:1}`, `{"a":1}x`, `{"a":1}{}`, `{"a":"\ud800"}`, `{"a":"\udc00"}`,
		"{\"a\":\"\x01\"}", "{\"a\":\"\xff\"}", `{"a":"\x"}`, `{"a":01}`, `{"a":1e999}`,
		`{"a":[1,]}`, `{"a":tru}`, `{"a":nul}`, `{"\ud800":1}`, "\ufeff{}",
	} {
		if got, err := readFields(src); err == nil {
			t.Errorf("%q: read %q, want an error", src, got)
		}
		if _, err := Canonicalize(nil, []byte(src), Limits{}); err == nil {
			t.Errorf("%q: Canonicalize accepts it; the table is wrong", src)
		}
	}
	for _, src := range []string{`[]`, `"a"`, `null`, `1`} {
		if got, err := readFields(src); err == nil {
			t.Errorf("%q: read %q, want an error (not an object)", src, got)
		}
	}
}

// TestFieldsValueMustBeRead: skipping a value is an error, not a silent
// misreading of the next member.
func TestFieldsValueMustBeRead(t *testing.T) {
	f := ScanObject(`{"a":"x","b":"y"}`)
	if !f.Next() || f.Name() != "a" {
		t.Fatal("first member not read")
	}
	if f.Next() {
		t.Fatalf("Next without reading the value went on to %q", f.Name())
	}
	if f.Err() == nil {
		t.Fatal("no error")
	}
	f = ScanObject(`{"a":1}`)
	f.Next()
	if _, ok := f.String(); ok || f.Next() || f.Err() == nil {
		t.Fatal("a number read as a string")
	}
}

// TestFieldsSharesTheText: strings without escapes are substrings of the
// text (no copy), and reading an object allocates nothing.
func TestFieldsSharesTheText(t *testing.T) {
	src := strings.Repeat(" ", 3) + `{"entity_uri":"agent:planner-7","x":null,"scope":"facts:write"}`
	allocs := testing.AllocsPerRun(100, func() {
		f := ScanObject(src)
		for f.Next() {
			if f.Kind() == 'n' {
				f.Null()
			} else if _, ok := f.String(); !ok {
				t.Fatal("not a string")
			}
		}
		if f.Err() != nil {
			t.Fatal(f.Err())
		}
	})
	if allocs != 0 {
		t.Errorf("%v allocations per read, want 0", allocs)
	}
}

// FuzzFields: Fields accepts exactly the objects Canonicalize accepts (but
// for duplicate names, which it leaves to its caller), and reads the same
// members with the same canonical values.
func FuzzFields(f *testing.F) {
	f.Add(`{"a":"x","b":[1,2.50,{"c":null}]}`)
	f.Add(`{"\u0061":"\ud83d\ude00","a":1}`)
	f.Add(` {"k" : "v" } `)
	f.Add(`{"a":"x"`)
	f.Fuzz(func(t *testing.T, src string) {
		got, err := readFields(src)
		want, werr := canonicalMembers(src)
		if err != nil {
			if werr == nil {
				t.Fatalf("%q: Fields refuses (%v), Canonicalize accepts", src, err)
			}
			return
		}
		names := map[string]bool{}
		dup := false
		for _, m := range got {
			dup = dup || names[m.name]
			names[m.name] = true
		}
		if dup {
			if werr == nil {
				t.Fatalf("%q: duplicate names, Canonicalize accepts", src)
			}
			return
		}
		if werr != nil {
			t.Fatalf("%q: Fields reads %q, Canonicalize refuses: %v", src, got, werr)
		}
		if g := sortedByName(got); !slices.Equal(g, want) {
			t.Fatalf("%q:\n got %q\nwant %q", src, g, want)
		}
	})
}

// TestLargeObjectsSortLikeReference: objects beyond the insertion-sort
// size, with names that order differently in UTF-8 and UTF-16, come out
// as the reference canonicaliser writes them, and duplicates among many
// members are found.
func TestLargeObjectsSortLikeReference(t *testing.T) {
	alphabet := []string{"a", "b", "z", "é", "\uffff", "\ue000", "\U00010000", "\U0001f600", "0", "_"}
	seed := uint32(1)
	next := func(n int) int {
		seed = seed*1664525 + 1013904223
		return int(seed>>8) % n
	}
	for _, n := range []int{13, 14, 31, 100, 257} {
		for round := 0; round < 20; round++ {
			seen := map[string]bool{}
			var b strings.Builder
			b.WriteByte('{')
			for len(seen) < n {
				var name strings.Builder
				for l := 1 + next(4); l > 0; l-- {
					name.WriteString(alphabet[next(len(alphabet))])
				}
				if seen[name.String()] {
					continue
				}
				seen[name.String()] = true
				if len(seen) > 1 {
					b.WriteByte(',')
				}
				b.WriteString(strconvQuote(name.String()))
				b.WriteString(":1")
			}
			b.WriteByte('}')
			src := []byte(b.String())
			want, err := reference(src)
			if err != nil {
				t.Fatal(err)
			}
			got, err := Canonicalize(nil, src, Limits{})
			if err != nil || string(got) != string(want) {
				t.Fatalf("%d members: %s\n got %s, %v\nwant %s", n, src, got, err, want)
			}
			dup := append(src[:len(src)-1:len(src)-1], []byte(`,"`+alphabet[0]+alphabet[1]+`":2,"`+alphabet[0]+alphabet[1]+`":3}`)...)
			if _, err := Canonicalize(nil, dup, Limits{}); err == nil {
				t.Fatalf("%d members with a duplicate: accepted", n)
			}
		}
	}
}

func strconvQuote(s string) string { return string(AppendString(nil, s)) }

// TestSmallObjectDuplicates: duplicates that are not adjacent in the input
// of an unsorted object up to 12 members are found, and the error names
// the first duplicate in canonical order.
func TestSmallObjectDuplicates(t *testing.T) {
	for _, tc := range []struct{ src, name string }{
		{`{"b":1,"a":1,"b":2}`, `"b"`},
		{`{"c":1,"b":1,"a":1,"c":2}`, `"c"`},
		{`{"b":1,"a":1,"b":2,"a":2}`, `"a"`},
		{`{"z":1,"\u00e9":1,"y":1,"é":2}`, `"é"`},
		{`{"l":0,"k":0,"j":0,"i":0,"h":0,"g":0,"f":0,"e":0,"d":0,"c":0,"b":0,"l":1}`, `"l"`},
	} {
		_, err := Canonicalize(nil, []byte(tc.src), Limits{})
		if err == nil || !strings.Contains(err.Error(), "duplicate member name "+tc.name) {
			t.Errorf("%s: %v, want a duplicate %s", tc.src, err, tc.name)
		}
	}
}

// TestScanArrayAndRaw: ScanArray walks an array's elements as ScanObject
// walks members, and Raw returns a value's own text.
func TestScanArrayAndRaw(t *testing.T) {
	f := ScanArray(` [ {"b":1, "a":[2.50]} , "x" ,9007199254740993,null ] `)
	var raws []string
	for f.Next() {
		if f.Name() != "" {
			t.Fatalf("element with a name %q", f.Name())
		}
		raw, err := f.Raw(Limits{})
		if err != nil {
			t.Fatal(err)
		}
		raws = append(raws, raw)
	}
	if err := f.Err(); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(raws, "|"); got != `{"b":1, "a":[2.50]}|"x"|9007199254740993|null` {
		t.Errorf("raw elements %s", got)
	}
	empty := ScanArray(`[]`)
	if empty.Next() || empty.Err() != nil {
		t.Errorf("empty array: %v", empty.Err())
	}
	for _, bad := range []string{`{}`, `[1,]`, `[1 2]`, `[1`, `[1] x`} {
		g := ScanArray(bad)
		for g.Next() {
			if _, err := g.Raw(Limits{}); err != nil {
				break
			}
		}
		if g.Err() == nil {
			t.Errorf("ScanArray(%s) read without error", bad)
		}
	}
	// Raw in an object, and with ExactNumbers.
	o := ScanObject(`{"a": 1e2 , "b":9007199254740993}`)
	o.Next()
	if raw, err := o.Raw(Limits{}); raw != "1e2" || err != nil {
		t.Errorf("Raw = %q, %v", raw, err)
	}
	o.Next()
	if _, err := o.Raw(Limits{ExactNumbers: true}); auditerr.CodeOf(err) != auditerr.ErrInexactNumber.Code {
		t.Errorf("Raw exact: %v", err)
	}
}
