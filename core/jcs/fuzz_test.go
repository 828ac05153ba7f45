package jcs

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"slices"
	"strconv"
	"strings"
	"testing"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/stigaudit/stigaudit/core/auditerr"
)

// reference is a slow, obviously-correct canonicaliser: encoding/json decodes
// (after the strictness checks it lacks), the sort compares UTF-16 slices,
// and numbers go through strconv's 'f' and 'e' formats.
func reference(src []byte) ([]byte, error) {
	if !utf8.Valid(src) {
		return nil, errors.New("invalid UTF-8")
	}
	if !json.Valid(src) {
		return nil, errors.New("invalid JSON")
	}
	if err := checkSurrogates(src); err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(src))
	dec.UseNumber()
	v, err := refValue(dec)
	if err != nil {
		return nil, err
	}
	var out strings.Builder
	if err := refWrite(&out, v); err != nil {
		return nil, err
	}
	return []byte(out.String()), nil
}

type refMember struct {
	key string
	val any
}

// refValue decodes one value from the token stream, keeping objects as
// member lists so duplicates can be seen.
func refValue(dec *json.Decoder) (any, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	switch t := tok.(type) {
	case json.Delim:
		switch t {
		case '{':
			var ms []refMember
			seen := map[string]bool{}
			for dec.More() {
				kt, err := dec.Token()
				if err != nil {
					return nil, err
				}
				k := kt.(string)
				if seen[k] {
					return nil, errors.New("duplicate key")
				}
				seen[k] = true
				v, err := refValue(dec)
				if err != nil {
					return nil, err
				}
				ms = append(ms, refMember{k, v})
			}
			_, err := dec.Token()
			return ms, err
		case '[':
			var vs []any
			for dec.More() {
				v, err := refValue(dec)
				if err != nil {
					return nil, err
				}
				vs = append(vs, v)
			}
			_, err := dec.Token()
			if vs == nil {
				vs = []any{}
			}
			return vs, err
		}
	case json.Number:
		f, err := strconv.ParseFloat(string(t), 64)
		if err != nil {
			return nil, err
		}
		return f, nil
	}
	return tok, nil
}

func refWrite(out *strings.Builder, v any) error {
	switch v := v.(type) {
	case nil:
		out.WriteString("null")
	case bool:
		out.WriteString(strconv.FormatBool(v))
	case string:
		refString(out, v)
	case float64:
		out.WriteString(refNumber(v))
	case []any:
		out.WriteByte('[')
		for i, e := range v {
			if i > 0 {
				out.WriteByte(',')
			}
			if err := refWrite(out, e); err != nil {
				return err
			}
		}
		out.WriteByte(']')
	case []refMember:
		ms := slices.Clone(v)
		slices.SortFunc(ms, func(a, b refMember) int {
			return slices.Compare(utf16.Encode([]rune(a.key)), utf16.Encode([]rune(b.key)))
		})
		out.WriteByte('{')
		for i, m := range ms {
			if i > 0 {
				out.WriteByte(',')
			}
			refString(out, m.key)
			out.WriteByte(':')
			if err := refWrite(out, m.val); err != nil {
				return err
			}
		}
		out.WriteByte('}')
	default:
		return errors.New("unexpected value")
	}
	return nil
}

func refString(out *strings.Builder, s string) {
	out.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"':
			out.WriteString(`\"`)
		case r == '\\':
			out.WriteString(`\\`)
		case r == '\b':
			out.WriteString(`\b`)
		case r == '\f':
			out.WriteString(`\f`)
		case r == '\n':
			out.WriteString(`\n`)
		case r == '\r':
			out.WriteString(`\r`)
		case r == '\t':
			out.WriteString(`\t`)
		case r < 0x20:
			out.WriteString(`\u00`)
			out.WriteString(strconv.FormatInt(int64(r)>>4, 16))
			out.WriteString(strconv.FormatInt(int64(r)&15, 16))
		default:
			out.WriteRune(r)
		}
	}
	out.WriteByte('"')
}

// refNumber is the well-known formulation of ECMAScript's Number::toString
// with Go's formatter.
func refNumber(f float64) string {
	if f == 0 {
		return "0"
	}
	abs := f
	if abs < 0 {
		abs = -abs
	}
	if abs >= 1e-6 && abs < 1e21 {
		return strconv.FormatFloat(f, 'f', -1, 64)
	}
	s := strconv.FormatFloat(f, 'e', -1, 64)
	// Go writes at least two exponent digits (1e-07); ECMAScript does not.
	i := strings.IndexByte(s, 'e')
	mant, exp := s[:i], s[i+2:]
	exp = strings.TrimLeft(exp, "0")
	return mant + "e" + s[i+1:i+2] + exp
}

// checkSurrogates refuses \u escapes that leave a surrogate unpaired, which
// encoding/json would silently replace with U+FFFD. src is valid JSON.
func checkSurrogates(src []byte) error {
	inStr := false
	for i := 0; i < len(src); i++ {
		c := src[i]
		if !inStr {
			if c == '"' {
				inStr = true
			}
			continue
		}
		switch c {
		case '"':
			inStr = false
		case '\\':
			if src[i+1] != 'u' {
				i++
				continue
			}
			r, _ := strconv.ParseUint(string(src[i+2:i+6]), 16, 32)
			i += 5
			switch {
			case r >= 0xDC00 && r <= 0xDFFF:
				return errors.New("lone low surrogate")
			case r >= 0xD800 && r <= 0xDBFF:
				if i+6 >= len(src) || src[i+1] != '\\' || src[i+2] != 'u' {
					return errors.New("lone high surrogate")
				}
				lo, _ := strconv.ParseUint(string(src[i+3:i+7]), 16, 32)
				if lo < 0xDC00 || lo > 0xDFFF {
					return errors.New("lone high surrogate")
				}
				i += 6
			}
		}
	}
	return nil
}

func TestReferenceAgrees(t *testing.T) {
	// The reference itself must reproduce RFC 8785's worked example.
	in := `{"numbers":[333333333.33333329,1E30,4.50,2e-3,0.000000000000000000000000001],"string":"\u20ac$\u000F\u000aA'\u0042\u0022\u005c\\\"\/","literals":[null,true,false]}`
	want := `{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],"string":"€$\u000f\nA'B\"\\\\\"/"}`
	got, err := reference([]byte(in))
	if err != nil || string(got) != want {
		t.Fatalf("reference = %s, %v", got, err)
	}
}

func FuzzCanonicalize(f *testing.F) {
	for _, s := range []string{
		`{"b":1,"a":[true,false,null,"x"]}`,
		`{"\u20ac":1,"\ud83d\ude00":2,"\ufb33":3,"\r":4}`,
		`[1e21,1e-7,-0,0.1,333333333.33333329,9007199254740993]`,
		`"\u0000\u001f\"\\\/\b\f\n\r\t"`,
		`{"a":{"b":{"c":[{}]}}}`,
		`{"a":1,"a":2}`,
		`"\ud800"`,
		"\"\xff\"",
		`01`,
		` { "k" : "v" } `,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		// The walkers must not panic on text that is not canonical either.
		for _, it := range []Iter{Members(src), Elements(src)} {
			for it.Next() {
				m := it.Member()
				_ = m.Name()
				_ = m.CompareName("x")
			}
		}
		got, err := Canonicalize(nil, src, Limits{MaxDepth: 64})
		want, refErr := reference(src)
		if err != nil {
			if refErr == nil && !strings.Contains(err.Error(), "deeper") {
				t.Fatalf("Canonicalize(%q) refused (%v) what the reference accepts: %s", src, err, want)
			}
			return
		}
		if refErr != nil {
			if refErr == io.EOF {
				return
			}
			t.Fatalf("Canonicalize(%q) = %s, but the reference refuses: %v", src, got, refErr)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("Canonicalize(%q)\n got %s\nwant %s", src, got, want)
		}
		again, err := Canonicalize(nil, got, Limits{})
		if err != nil || !bytes.Equal(again, got) {
			t.Fatalf("canonical %s re-canonicalises to %s, %v", got, again, err)
		}
		// ExactNumbers either refuses with inexact_number or gives the same
		// bytes; canonical text is always exact.
		exact, err := Canonicalize(nil, src, Limits{MaxDepth: 64, ExactNumbers: true})
		if err != nil && auditerr.CodeOf(err) != auditerr.ErrInexactNumber.Code || err == nil && !bytes.Equal(exact, got) {
			t.Fatalf("Canonicalize(%q) exact = %s, %v; want %s or inexact_number", src, exact, err, got)
		}
		if again, err := Canonicalize(nil, got, Limits{ExactNumbers: true}); err != nil || !bytes.Equal(again, got) {
			t.Fatalf("canonical %s is not exact: %s, %v", got, again, err)
		}
		if got[0] == '{' {
			it := Members(got)
			for it.Next() {
			}
			if it.Err() != nil {
				t.Fatalf("Members(%s): %v", got, it.Err())
			}
		}
	})
}
