package jcs

import (
	"math"
	"strings"
	"testing"

	"github.com/stigaudit/stigaudit/core/auditerr"
)

func TestCanonicalize(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		// RFC 8785 §3.2.2, the worked example.
		{"rfc8785 example", `{
  "numbers": [333333333.33333329, 1E30, 4.50,
              2e-3, 0.000000000000000000000000001],
  "string": "\u20ac$\u000F\u000aA'\u0042\u0022\u005c\\\"\/",
  "literals": [null, true, false]
}`, `{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],"string":"€$\u000f\nA'B\"\\\\\"/"}`},
		// RFC 8785 §3.2.3, sorting by UTF-16 code units.
		{"rfc8785 sorting", `{
  "\u20ac": "Euro Sign",
  "\r": "Carriage Return",
  "\ufb33": "Hebrew Letter Dalet With Dagesh",
  "1": "One",
  "\ud83d\ude00": "Emoji: Grinning Face",
  "\u0080": "Control",
  "\u00f6": "Latin Small Letter O With Diaeresis"
}`, "{\"\\r\":\"Carriage Return\",\"1\":\"One\",\"\u0080\":\"Control\",\"ö\":\"Latin Small Letter O With Diaeresis\",\"€\":\"Euro Sign\",\"😀\":\"Emoji: Grinning Face\",\"\ufb33\":\"Hebrew Letter Dalet With Dagesh\"}"},
		{"non-BMP sorts before U+FFFF", `{"\uffff":1,"\ud800\udc00":2,"\ue000":3}`, "{\"\U00010000\":2,\"\ue000\":3,\"\uffff\":1}"},
		{"prefix sorts first", `{"ab":1,"a":2,"":3}`, `{"":3,"a":2,"ab":1}`},
		{"nested objects sorted", `{"b":{"d":1,"c":2},"a":[{"z":1,"y":2}]}`, `{"a":[{"y":2,"z":1}],"b":{"c":2,"d":1}}`},
		{"whitespace removed", " \t\r\n[ 1 , { } , [ ] , \"x\" ]\n", `[1,{},[],"x"]`},
		{"scalar top level", `"a"`, `"a"`},
		{"escapes short forms", `"\b\f\n\r\t\u0001\u001f\u007f\u2028"`, "\"\\b\\f\\n\\r\\t\\u0001\\u001f\u007f\u2028\""},
		{"solidus unescaped", `"\/"`, `"/"`},
		{"raw utf8 kept", `"é😀"`, `"é😀"`},
		{"uppercase hex escape", `"\u00E9"`, `"é"`},
		{"escaped names sorted decoded", `{"\u0062":1,"a":2,"\"":3,"\\":4}`, `{"\"":3,"\\":4,"a":2,"b":1}`},
		{"integers", `[0,-0,1,-1,123456789012345,9007199254740993]`, `[0,0,1,-1,123456789012345,9007199254740992]`},
		{"integer 16 digits", `1234567890123456`, `1234567890123456`},
		{"big integer", `295147905179352825856`, `295147905179352830000`},
		{"exponents", `[1e2,1E+2,1e-2,1e21,1e20,1e-7,1e-6,-0.0,0e10,5e-324]`, `[100,100,0.01,1e+21,100000000000000000000,1e-7,0.000001,0,0,5e-324]`},
		{"underflow to zero", `1e-400`, `0`},
		{"fractions", `[0.1,1.5,-2.25,4.50,1.0]`, `[0.1,1.5,-2.25,4.5,1]`},
		{"literals", `[true,false,null]`, `[true,false,null]`},
		{"deep but allowed", strings.Repeat("[", 100) + strings.Repeat("]", 100), strings.Repeat("[", 100) + strings.Repeat("]", 100)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Canonicalize(nil, []byte(tt.in), Limits{})
			if err != nil {
				t.Fatalf("Canonicalize(%q) error: %v", tt.in, err)
			}
			if string(got) != tt.want {
				t.Fatalf("Canonicalize(%q)\n got %s\nwant %s", tt.in, got, tt.want)
			}
			again, err := Canonicalize(nil, got, Limits{})
			if err != nil || string(again) != string(got) {
				t.Fatalf("canonical form does not re-canonicalise to itself: %s, %v", again, err)
			}
		})
	}
}

func TestCanonicalizeAppends(t *testing.T) {
	got, err := Canonicalize([]byte("prefix:"), []byte(`{"b":1,"a":2}`), Limits{MaxOutput: 13})
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != `prefix:{"a":2,"b":1}` {
		t.Fatalf("got %s", got)
	}
}

// RFC 8785 Appendix B: IEEE-754 bit patterns and their ECMAScript form.
func TestAppendNumberRFC8785(t *testing.T) {
	tests := []struct {
		bits uint64
		want string
	}{
		{0x0000000000000000, "0"},
		{0x8000000000000000, "0"},
		{0x0000000000000001, "5e-324"},
		{0x8000000000000001, "-5e-324"},
		{0x7fefffffffffffff, "1.7976931348623157e+308"},
		{0xffefffffffffffff, "-1.7976931348623157e+308"},
		{0x4340000000000000, "9007199254740992"},
		{0xc340000000000000, "-9007199254740992"},
		{0x4430000000000000, "295147905179352830000"},
		{0x7fffffffffffffff, "null"},
		{0x7ff0000000000000, "null"},
		{0x44b52d02c7e14af5, "9.999999999999997e+22"},
		{0x44b52d02c7e14af6, "1e+23"},
		{0x44b52d02c7e14af7, "1.0000000000000001e+23"},
		{0x444b1ae4d6e2ef4e, "999999999999999700000"},
		{0x444b1ae4d6e2ef4f, "999999999999999900000"},
		{0x444b1ae4d6e2ef50, "1e+21"},
		{0x3eb0c6f7a0b5ed8c, "9.999999999999997e-7"},
		{0x3eb0c6f7a0b5ed8d, "0.000001"},
		{0x41b3de4355555553, "333333333.3333332"},
		{0x41b3de4355555554, "333333333.33333325"},
		{0x41b3de4355555555, "333333333.3333333"},
		{0x41b3de4355555556, "333333333.3333334"},
		{0x41b3de4355555557, "333333333.33333343"},
		{0xbecbf647612f3696, "-0.0000033333333333333333"},
		{0x43143ff3c1cb0959, "1424953923781206.2"},
	}
	for _, tt := range tests {
		f := math.Float64frombits(tt.bits)
		if got := string(AppendNumber(nil, f)); got != tt.want {
			t.Errorf("AppendNumber(%#016x) = %s, want %s", tt.bits, got, tt.want)
		}
		if tt.want == "null" {
			continue
		}
		// The same value written by a JSON producer canonicalises alike.
		in := AppendNumber(nil, f) // shortest round-trip form is valid JSON
		got, err := Canonicalize(nil, in, Limits{})
		if err != nil || string(got) != tt.want {
			t.Errorf("Canonicalize(%s) = %s, %v; want %s", in, got, err, tt.want)
		}
	}
}

func TestCanonicalizeErrors(t *testing.T) {
	tests := []struct {
		name string
		in   string
		lim  Limits
		code auditerr.Code
	}{
		{"empty", ``, Limits{}, "invalid_json"},
		{"only whitespace", `  `, Limits{}, "invalid_json"},
		{"trailing garbage", `{} x`, Limits{}, "invalid_json"},
		{"two values", `1 2`, Limits{}, "invalid_json"},
		{"leading zero", `01`, Limits{}, "invalid_json"},
		{"negative leading zero", `-01`, Limits{}, "invalid_json"},
		{"plus sign", `+1`, Limits{}, "invalid_json"},
		{"bare minus", `-`, Limits{}, "invalid_json"},
		{"dot without digits", `1.`, Limits{}, "invalid_json"},
		{"leading dot", `.5`, Limits{}, "invalid_json"},
		{"exponent without digits", `1e`, Limits{}, "invalid_json"},
		{"exponent sign only", `1e+`, Limits{}, "invalid_json"},
		{"hex number", `0x10`, Limits{}, "invalid_json"},
		{"NaN", `NaN`, Limits{}, "invalid_json"},
		{"Infinity", `Infinity`, Limits{}, "invalid_json"},
		{"out of range", `1e400`, Limits{}, "invalid_json"},
		{"negative out of range", `-1.8e308`, Limits{}, "invalid_json"},
		{"duplicate key", `{"a":1,"a":2}`, Limits{}, "invalid_json"},
		{"duplicate key unsorted", `{"b":1,"a":1,"b":2}`, Limits{}, "invalid_json"},
		{"duplicate key via escape", `{"a":1,"\u0061":2}`, Limits{}, "invalid_json"},
		{"lone high surrogate", `"\ud800"`, Limits{}, "invalid_json"},
		{"lone high surrogate then char", `"\ud800x"`, Limits{}, "invalid_json"},
		{"high surrogate then high", `"\ud800\ud800"`, Limits{}, "invalid_json"},
		{"lone low surrogate", `"\udc00"`, Limits{}, "invalid_json"},
		{"invalid utf8", "\"\xff\"", Limits{}, "invalid_json"},
		{"utf8 encoded surrogate", "\"\xed\xa0\x80\"", Limits{}, "invalid_json"},
		{"overlong utf8", "\"\xc0\xaf\"", Limits{}, "invalid_json"},
		{"truncated utf8", "\"\xe2\x82\"", Limits{}, "invalid_json"},
		{"raw control char", "\"a\tb\"", Limits{}, "invalid_json"},
		{"raw newline", "\"a\nb\"", Limits{}, "invalid_json"},
		{"bad escape", `"\x"`, Limits{}, "invalid_json"},
		{"short unicode escape", `"\u12"`, Limits{}, "invalid_json"},
		{"unterminated string", `"abc`, Limits{}, "invalid_json"},
		{"unterminated object", `{"a":1`, Limits{}, "invalid_json"},
		{"unterminated array", `[1,2`, Limits{}, "invalid_json"},
		{"trailing comma array", `[1,]`, Limits{}, "invalid_json"},
		{"trailing comma object", `{"a":1,}`, Limits{}, "invalid_json"},
		{"missing colon", `{"a" 1}`, Limits{}, "invalid_json"},
		{"unquoted key", `{a:1}`, Limits{}, "invalid_json"},
		{"single quotes", `'a'`, Limits{}, "invalid_json"},
		{"bad literal", `tru`, Limits{}, "invalid_json"},
		{"capital literal", `True`, Limits{}, "invalid_json"},
		{"byte order mark", "\xef\xbb\xbf{}", Limits{}, "invalid_json"},
		{"comment", `{} // c`, Limits{}, "invalid_json"},
		{"vertical tab whitespace", "\v{}", Limits{}, "invalid_json"},
		{"input too large", `{"a":1}`, Limits{MaxInput: 6}, "too_large"},
		{"output too large", `1e20`, Limits{MaxOutput: 20}, "output_too_large"},
		{"output too large nested", `{"a":"` + strings.Repeat("x", 100) + `"}`, Limits{MaxOutput: 50}, "output_too_large"},
		{"too deep", `[[[1]]]`, Limits{MaxDepth: 2}, "too_deep"},
		{"too deep object", `{"a":{"b":{}}}`, Limits{MaxDepth: 2}, "too_deep"},
		{"hard depth limit", strings.Repeat("[", HardMaxDepth+1) + strings.Repeat("]", HardMaxDepth+1), Limits{}, "too_deep"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dst := []byte("keep")
			got, err := Canonicalize(dst, []byte(tt.in), tt.lim)
			if err == nil {
				t.Fatalf("Canonicalize(%q) = %s, want error %s", tt.in, got, tt.code)
			}
			if c := auditerr.CodeOf(err); c != tt.code {
				t.Fatalf("Canonicalize(%q) error %v has code %q, want %q", tt.in, err, c, tt.code)
			}
			if string(got) != "keep" {
				t.Fatalf("on error dst = %q, want it unchanged", got)
			}
		})
	}
}

func TestLimitsAtBoundary(t *testing.T) {
	in := []byte(`{"a":[[1]]}`)
	if _, err := Canonicalize(nil, in, Limits{MaxInput: len(in), MaxOutput: len(in), MaxDepth: 3}); err != nil {
		t.Fatalf("input exactly at every limit refused: %v", err)
	}
}

func TestAppendString(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", `""`},
		{"plain", `"plain"`},
		{"q\"b\\s/", `"q\"b\\s/"`},
		{"\x00\x08\x09\x0a\x0b\x0c\x0d\x1f\x7f", `"\u0000\b\t\n\u000b\f\r\u001f` + "\x7f" + `"`},
		{"é€😀\u2028", "\"é€😀\u2028\""},
		{"bad\xffbyte", "\"bad\uFFFDbyte\""},
	}
	for _, tt := range tests {
		if got := string(AppendString(nil, tt.in)); got != tt.want {
			t.Errorf("AppendString(%q) = %s, want %s", tt.in, got, tt.want)
		}
		if !strings.Contains(tt.in, "\xff") {
			// What AppendString writes is already canonical.
			got, err := Canonicalize(nil, AppendString(nil, tt.in), Limits{})
			if err != nil || string(got) != tt.want {
				t.Errorf("Canonicalize(AppendString(%q)) = %s, %v", tt.in, got, err)
			}
		}
	}
}

func TestCompare(t *testing.T) {
	tests := []struct {
		a, b string
		want int
	}{
		{"a", "a", 0},
		{"a", "b", -1},
		{"b", "a", 1},
		{"a", "ab", -1},
		{"", "a", -1},
		{"\uffff", "\U00010000", 1}, // UTF-8 says less, UTF-16 says more
		{"\ue000", "\U0010ffff", 1},
		{"\ud7ff", "\U00010000", -1},
		{"\U00010000", "\U00010001", -1},
		{"x\ufb33", "x\U0001f600", 1},
		{"é", "z", 1},
	}
	for _, tt := range tests {
		if got := Compare(tt.a, tt.b); got != tt.want {
			t.Errorf("Compare(%q, %q) = %d, want %d", tt.a, tt.b, got, tt.want)
		}
		if got := Compare(tt.b, tt.a); got != -tt.want {
			t.Errorf("Compare(%q, %q) = %d, want %d", tt.b, tt.a, got, -tt.want)
		}
	}
}

func TestMembers(t *testing.T) {
	canon, err := Canonicalize(nil, []byte(`{"s":"x\"y","n":-1.5,"o":{"a":[1,{"b":"}]"}]},"e":[],"\u0001":null}`), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	type kv struct{ name, value string }
	want := []kv{{"\x01", "null"}, {"e", "[]"}, {"n", "-1.5"}, {"o", `{"a":[1,{"b":"}]"}]}`}, {"s", `"x\"y"`}}
	var got []kv
	it := Members(canon)
	for it.Next() {
		m := it.Member()
		if !m.NameIs(m.Name()) || m.CompareName(m.Name()) != 0 {
			t.Errorf("member %q does not match its own name", m.Key)
		}
		got = append(got, kv{m.Name(), string(m.Value)})
	}
	if err := it.Err(); err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("member %d = %v, want %v", i, got[i], want[i])
		}
	}
	if s, ok := Unquote([]byte(got[4].value)); !ok || s != `x"y` {
		t.Errorf("Unquote(%s) = %q, %v", got[4].value, s, ok)
	}
}

func TestElements(t *testing.T) {
	var got []string
	it := Elements([]byte(`["a",{"b":[1]},2,null]`))
	for it.Next() {
		got = append(got, string(it.Member().Value))
	}
	if it.Err() != nil || strings.Join(got, " ") != `"a" {"b":[1]} 2 null` {
		t.Fatalf("got %q, %v", got, it.Err())
	}
	for _, empty := range []string{"[]", "{}"} {
		it := Elements([]byte(empty))
		if empty == "{}" {
			it = Members([]byte(empty))
		}
		if it.Next() || it.Err() != nil {
			t.Errorf("%s: Next() true or error %v", empty, it.Err())
		}
	}
}

func TestIterMalformed(t *testing.T) {
	for _, in := range []string{``, `[`, `{`, `{"a"}`, `{"a":}`, `{"a":1,}`, `{a:1}`, `["x]`, `[1 2]`, `{"a":[1}`, `{"a":1"b":2}`} {
		it := Members([]byte(in))
		if in != "" && in[0] == '[' {
			it = Elements([]byte(in))
		}
		for it.Next() {
		}
		if it.Err() == nil {
			t.Errorf("%q: no error", in)
		}
	}
}

func TestUnquote(t *testing.T) {
	tests := []struct {
		in, want string
		ok       bool
	}{
		{`"abc"`, "abc", true},
		{`"a\nb\u00e9\ud83d\ude00\\"`, "a\nbé😀\\", true},
		{`12`, "", false},
		{`"`, "", false},
	}
	for _, tt := range tests {
		got, ok := Unquote([]byte(tt.in))
		if got != tt.want || ok != tt.ok {
			t.Errorf("Unquote(%s) = %q, %v; want %q, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

func TestCanonicalizeAllocations(t *testing.T) {
	in := []byte(`{"peer_id":"node-7","skew_ms":1250,"direction":"future","nested":{"z":[1,2.5,"x"],"a":true},"note":"caf\u00e9"}`)
	dst := make([]byte, 0, 256)
	allocs := testing.AllocsPerRun(100, func() {
		if _, err := Canonicalize(dst[:0], in, Limits{}); err != nil {
			t.Fatal(err)
		}
	})
	if allocs > 0 {
		t.Errorf("Canonicalize into a large enough buffer allocates %.0f times, want 0", allocs)
	}
}

func BenchmarkCanonicalize(b *testing.B) {
	in := []byte(`{
  "peer_id": "node-7.example",
  "sender_node_id": "urn:node:7",
  "direction": "future",
  "skew_ms": 1250,
  "reason": "clock ahead of local wall time by more than the allowed skew",
  "tags": ["federation", "hlc", "anomaly"],
  "context": {"attempt": 3, "ratio": 0.125, "accepted": false, "note": "caf\u00e9 \ud83d\ude00"}
}`)
	dst := make([]byte, 0, 512)
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Canonicalize(dst[:0], in, Limits{MaxOutput: 16 << 10, MaxDepth: 16}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCanonicalizeNumbers measures the cost of ExactNumbers on the
// numbers that take the general path (17 significant digits, exponents),
// the only ones it checks: the fast paths are exact by construction.
func BenchmarkCanonicalizeNumbers(b *testing.B) {
	in := []byte(`[0.30000000000000004,1.7976931348623157e308,5e-324,9007199254740992,1e21,` +
		`123456.78901234567,2.2250738585072014e-308,0.1,1234567890123456,-4.5e-7]`)
	dst := make([]byte, 0, 512)
	for _, exact := range []bool{false, true} {
		b.Run(map[bool]string{false: "rounding", true: "exact"}[exact], func(b *testing.B) {
			b.SetBytes(int64(len(in)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Canonicalize(dst[:0], in, Limits{ExactNumbers: exact}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func TestSameDecimal(t *testing.T) {
	tests := []struct {
		a, b string
		same bool
	}{
		{"0.10", "0.1", true},
		{"1.0", "1", true},
		{"-0", "0", true},
		{"-0.0e-3", "0", true},
		{"1e2", "100", true},
		{"1E+2", "100", true},
		{"0.001", "1e-3", true},
		{"100000000000000000000000000000", "1e+29", true},
		{"9007199254740993", "9007199254740992", false},
		{"18446744073709551616", "18446744073709552000", false},
		{"1e-400", "0", false},
		{"-1", "1", false},
		{"1e999999999999999999999", "1e+308", false},
		{"1", "10", false},
		{"0.1000000000000000055511151231257827", "0.1", false},
		{"1234567890123456789012345", "1234567890123456789012345", false}, // more digits than any double's form
		{"", "0", false},
		{"abc", "abc", false},
		{"1e", "1", false},
	}
	for _, tt := range tests {
		if got := SameDecimal([]byte(tt.a), []byte(tt.b)); got != tt.same {
			t.Errorf("SameDecimal(%s, %s) = %v, want %v", tt.a, tt.b, got, tt.same)
		}
		if got := SameDecimal([]byte(tt.b), []byte(tt.a)); got != tt.same {
			t.Errorf("SameDecimal(%s, %s) = %v, want %v", tt.b, tt.a, got, tt.same)
		}
	}
}

// TestExactNumbers: with ExactNumbers a number the canonical form would
// change is inexact_number wherever it is nested; without, it is rounded
// as RFC 8785 says.
func TestExactNumbers(t *testing.T) {
	exact := Limits{ExactNumbers: true}
	for in, want := range map[string]string{
		`{"a":[0.10,1.0,-0,1e2,0.1]}`:            `{"a":[0.1,1,0,100,0.1]}`,
		`[9007199254740992,1e21,5e-324]`:         `[9007199254740992,1e+21,5e-324]`,
		`{"b":{"c":123456789012345.5}}`:          `{"b":{"c":123456789012345.5}}`,
		`[0.000001,1e-7,1.7976931348623157e308]`: `[0.000001,1e-7,1.7976931348623157e+308]`,
	} {
		got, err := Canonicalize(nil, []byte(in), exact)
		if err != nil || string(got) != want {
			t.Errorf("Canonicalize(%s) = %s, %v; want %s", in, got, err, want)
		}
	}
	for _, in := range []string{`9007199254740993`, `[1,{"x":[18446744073709551616]}]`, `{"n":1e-400}`, `{"n":1e400}`,
		`123456789012345678901234567890`, `333333333.33333329`, `-1.8e308`} {
		_, err := Canonicalize(nil, []byte(in), exact)
		if got := auditerr.CodeOf(err); got != auditerr.ErrInexactNumber.Code {
			t.Errorf("Canonicalize(%s) exact: %v, want inexact_number", in, err)
		}
		if _, err := Canonicalize(nil, []byte(in), Limits{}); err != nil && !strings.Contains(in, "e400") && !strings.Contains(in, "e308") {
			t.Errorf("Canonicalize(%s) without ExactNumbers: %v", in, err)
		}
	}
	// Fields.Canonical honours it too.
	f := ScanObject(`{"d":{"n":9007199254740993}}`)
	if !f.Next() {
		t.Fatal(f.Err())
	}
	if _, err := f.Canonical(nil, exact); auditerr.CodeOf(err) != auditerr.ErrInexactNumber.Code {
		t.Errorf("Fields.Canonical: %v, want inexact_number", err)
	}
}
