package main

import (
	"bytes"
	"strings"
	"time"

	"github.com/stigaudit/stigaudit/core/jcs"
)

// The inputs of every vector file. Expected outputs are computed in
// generate.go; a case whose outcome differs from its declared kind (fails
// or not, error code) stops the generator.

type jcsInput struct {
	name  string
	input string
	lim   jcs.Limits
	fails bool
}

func jcsCases() []jcsInput {
	ok := func(name, in string) jcsInput { return jcsInput{name: name, input: in} }
	bad := func(name, in string) jcsInput { return jcsInput{name: name, input: in, fails: true} }
	cs := []jcsInput{
		ok("rfc8785 3.2.2 example", `{
  "numbers": [333333333.33333329, 1E30, 4.50,
              2e-3, 0.000000000000000000000000001],
  "string": "\u20ac$\u000F\u000aA'\u0042\u0022\u005c\\\"\/",
  "literals": [null, true, false]
}`),
		ok("rfc8785 3.2.3 sorting", `{
  "\u20ac": "Euro Sign",
  "\r": "Carriage Return",
  "\ufb33": "Hebrew Letter Dalet With Dagesh",
  "1": "One",
  "\ud83d\ude00": "Emoji: Grinning Face",
  "\u0080": "Control",
  "\u00f6": "Latin Small Letter O With Diaeresis"
}`),
		ok("utf-16 order: supplementary before U+E000..U+FFFF", `{"\uffff":1,"\ud800\udc00":2,"\ue000":3,"\ud7ff":4}`),
		ok("utf-16 order: raw supplementary keys", "{\"\U0001F600\":1,\"\uFB33\":2,\"\U00010000\":3}"),
		ok("prefix sorts first", `{"ab":1,"a":2,"":3,"b":4}`),
		ok("escaped names sort by their characters", `{"\u0062":1,"a":2,"\"":3,"\\":4,"\u001f":5}`),
		ok("nested objects and arrays", `{"b":{"d":[{"z":1,"y":{"k":[]}}],"c":{}},"a":[[],{}]}`),
		ok("whitespace everywhere", " \t\r\n{ \"a\" : [ 1 , 2 ] , \"b\" : { } }\r\n "),
		ok("top-level string", `"text"`),
		ok("top-level number", `1E2`),
		ok("top-level literal", `null`),
		ok("string escapes: short forms and \\u00xx", `"\b\f\n\r\t\u0000\u0001\u000b\u001f\u007f\u0080\u2028\u2029"`),
		ok("solidus is not escaped", `"a\/b/c"`),
		ok("upper-case hex escape", `"\u00E9\u00e9"`),
		ok("raw UTF-8 kept", "\"caf\u00e9 \U0001F600 \u4e2d\""),
		ok("surrogate pair escape", `"\ud83d\ude00"`),
		ok("quote and backslash", `"\"\\"`),
		ok("integers", `[0,-0,1,-1,42,123456789012345,-123456789012345]`),
		ok("integers beyond 2^53 round like JavaScript", `[9007199254740993,9007199254740995,18446744073709551615,295147905179352825856]`),
		ok("exponents", `[1e2,1E+2,1e-2,1e21,1e20,1e-7,1e-6,0e10,-0.0e-3]`),
		ok("fractions", `[0.1,1.5,-2.25,4.50,1.0,100.0,0.30000000000000004]`),
		ok("smallest subnormal and largest double", `[5e-324,4.9e-324,1.7976931348623157e308]`),
		ok("underflow to zero", `[1e-400,-1e-400]`),
		ok("literals", `[true,false,null]`),
		ok("deep nesting within limit", strings.Repeat("[", 16)+strings.Repeat("]", 16)),
		{name: "limits exactly met", input: `{"a":[[1]]}`, lim: jcs.Limits{MaxInput: 11, MaxOutput: 11, MaxDepth: 3}},
		bad("empty input", ``),
		bad("only whitespace", " \n"),
		bad("trailing garbage", `{} x`),
		bad("two values", `1 2`),
		bad("leading zero", `01`),
		bad("negative leading zero", `-01`),
		bad("plus sign", `+1`),
		bad("bare minus", `-`),
		bad("dot without fraction", `1.`),
		bad("leading dot", `.5`),
		bad("exponent without digits", `1e`),
		bad("hex number", `0x1F`),
		bad("NaN", `NaN`),
		bad("Infinity", `-Infinity`),
		bad("number above the double range", `1e309`),
		bad("number below the double range", `-1.8e308`),
		bad("duplicate name", `{"a":1,"a":2}`),
		bad("duplicate name after decoding", `{"a":1,"\u0061":2}`),
		bad("duplicate name in nested object", `{"x":{"b":1,"a":0,"b":2}}`),
		bad("lone high surrogate", `"\ud800"`),
		bad("high surrogate followed by a character", `"\ud800x"`),
		bad("two high surrogates", `"\ud800\ud800"`),
		bad("lone low surrogate", `"\udc00"`),
		bad("invalid UTF-8 byte", "\"\xff\""),
		bad("UTF-8 encoded surrogate", "\"\xed\xa0\x80\""),
		bad("overlong UTF-8", "\"\xc0\xaf\""),
		bad("truncated UTF-8", "\"\xe2\x82\""),
		bad("raw tab in string", "\"a\tb\""),
		bad("raw newline in string", "\"a\nb\""),
		bad("unknown escape", `"\x41"`),
		bad("short unicode escape", `"\u12"`),
		bad("unterminated string", `"abc`),
		bad("unterminated object", `{"a":1`),
		bad("unterminated array", `[1,2`),
		bad("trailing comma in array", `[1,]`),
		bad("trailing comma in object", `{"a":1,}`),
		bad("missing colon", `{"a" 1}`),
		bad("unquoted name", `{a:1}`),
		bad("single quotes", `'a'`),
		bad("truncated literal", `tru`),
		bad("capitalised literal", `True`),
		bad("byte order mark", "\xef\xbb\xbf{}"),
		bad("comment", `{} // note`),
		bad("vertical tab as white space", "\v{}"),
		{name: "input too large", input: `{"a":1}`, lim: jcs.Limits{MaxInput: 6}, fails: true},
		{name: "output too large (1e20 grows)", input: `1e20`, lim: jcs.Limits{MaxOutput: 20}, fails: true},
		{name: "output too large in an object", input: `{"a":"` + strings.Repeat("x", 40) + `"}`, lim: jcs.Limits{MaxOutput: 40}, fails: true},
		{name: "too deep", input: `[[[1]]]`, lim: jcs.Limits{MaxDepth: 2}, fails: true},
		{name: "too deep in an object", input: `{"a":{"b":{}}}`, lim: jcs.Limits{MaxDepth: 2}, fails: true},
		bad("nesting beyond the hard limit of 1000", strings.Repeat("[", 1001)+strings.Repeat("]", 1001)),
	}
	for _, bits := range rfc8785Numbers {
		cs = append(cs, ok("rfc8785 appendix B "+numberInput(bits), numberInput(bits)))
	}
	return cs
}

type canonicalInput struct {
	name    string
	request string
	now     time.Time
	entropy []byte
}

func canonicalCases() []canonicalInput {
	t0 := time.Date(2026, 5, 3, 12, 0, 0, 123456789, time.UTC)
	e := func(b byte) []byte { return bytes.Repeat([]byte{b}, 10) }
	seq := []byte{0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef, 0x01, 0x23}
	return []canonicalInput{
		{"minimal event: defaults for tenant, outcome, source; generated id", `{"event_type":"fact_read","entity_uri":"urn:stigmem:agent:a"}`, t0, e(0)},
		{"generated id uses every entropy bit position", `{"event_type":"fact_read","entity_uri":"urn:stigmem:agent:a"}`, t0, seq},
		{"all-ones entropy", `{"event_type":"fact_read","entity_uri":"urn:stigmem:agent:a"}`, t0.Add(time.Hour), e(0xff)},
		{"every field set", `{"id":"019dedb5-ae7b-7123-8567-89abcdef0123","event_type":"peer_hlc_anomaly","hlc":"1777809600123.7",` +
			`"tenant_id":"acme","entity_uri":"urn:stigmem:node:alpha","emitter":"urn:stigmem:svc:ingest","oidc_sub":"auth0|5f9d1c2b",` +
			`"fact_id":"fact-7d1c","source":"federation.sync","attested_key_id":"key-2026-05","scope":"federation:read","outcome":"failure",` +
			`"detail":{"sender_node_id":"urn:stigmem:node:beta","direction":"future","skew_ms":1250}}`, t0, e(0x11)},
		{"nulls for optional fields", `{"event_type":"fact_write","entity_uri":"urn:a","hlc":null,"tenant_id":null,"emitter":null,"oidc_sub":null,` +
			`"fact_id":null,"source":null,"attested_key_id":null,"scope":null,"outcome":null,"detail":null,"fact":null,"id":null}`, t0, e(0x22)},
		{"client id is normalised to lower case", `{"id":"F47AC10B-58CC-4372-A567-0E02B2C3D479","event_type":"fact_write","entity_uri":"urn:a"}`, t0, e(0x33)},
		{"tenant: NFKC, trim, lower-case", `{"event_type":"fact_write","entity_uri":"urn:a","tenant_id":"\u3000ＡＣＭＥ-Corp\u00a0"}`, t0, e(0x44)},
		{"empty detail object is stored as null", `{"event_type":"fact_write","entity_uri":"urn:a","detail":{ }}`, t0, e(0x55)},
		{"detail canonicalised: order, numbers, escapes, Unicode names", `{"event_type":"config_change","entity_uri":"urn:admin:1","outcome":"denied",` +
			`"detail":{"z":[1E2,0.50,-0,1e21,1e-7],"a":{"y":"\u0041\/\u00e9","x":true},"\ud83d\ude00":"\u0007","\uffff":null,"":""}}`, t0, e(0x66)},
		{"strings that need JSON escapes", `{"event_type":"fact_write","entity_uri":"urn:\"quoted\"\\path","source":"caf\u00e9 \ud83d\ude00",` +
			`"fact_id":"\u4e2d\u6587"}`, t0, e(0x77)},
		{"instruction_quarantined: entity prefix, nulls kept, source defaults to the actor",
			`{"event_type":"instruction_quarantined","entity_uri":"urn:stigmem:agent:a","fact_id":"f-9","fact":{"entity":"instruction:run-shell","relation":null}}`, t0, e(0x88)},
		{"instruction_promoted: interpret_as, caller keys win, source kept",
			`{"event_type":"instruction_promoted","entity_uri":"urn:stigmem:agent:a","source":"review-queue",` +
				`"fact":{"entity":"doc:1","relation":"says","interpret_as":"instruction"},"detail":{"fact_relation":"overridden","reviewer":"r-1","a":0}}`, t0, e(0x99)},
		{"instruction_quarantined: interpret_as code with an instruction: entity is recorded (the seed's rule)",
			`{"event_type":"instruction_quarantined","entity_uri":"urn:a","fact":{"entity":"instruction:eval","relation":"runs","interpret_as":"code"}}`, t0, e(0xab)},
		{"detail numbers whose canonical form keeps their value",
			`{"event_type":"fact_write","entity_uri":"urn:a","detail":{"a":0.10,"b":1.0,"c":-0,"d":1e2,"e":0.1,"f":9007199254740992,"g":1E21,"h":5e-324,"i":0.30000000000000004}}`, t0, e(0xac)},
		{"instruction_promoted: relation prefix with interpret_as content",
			`{"event_type":"instruction_promoted","entity_uri":"urn:a","fact":{"entity":"","relation":"instruction:exec","interpret_as":"content"}}`, t0, e(0xaa)},
		{"operator-visible plugin type with a dot", `{"event_type":"plugin.handler_error","entity_uri":"urn:plugin:host","outcome":"failure",` +
			`"detail":{"plugin_name":"sanitizer","error":"timeout after 5s"}}`, t0, e(0xbb)},
		{"microseconds are truncated, not rounded", `{"event_type":"auth_failed","entity_uri":"urn:anonymous"}`, time.Date(2026, 12, 31, 23, 59, 59, 999999999, time.UTC), e(0xcc)},
		{"epoch start", `{"event_type":"auth_failed","entity_uri":"urn:anonymous"}`, time.Unix(0, 0).UTC(), e(0xdd)},
	}
}

type invalidInput struct {
	name, request, code string
}

func invalidCases() []invalidInput {
	ok := `"event_type":"fact_write","entity_uri":"urn:a"`
	long := strings.Repeat("x", 1025)
	deep := strings.Repeat(`{"a":`, 17) + "1" + strings.Repeat("}", 17)
	return []invalidInput{
		{"malformed JSON", `{"event_type":"fact_write"`, "invalid_json"},
		{"trailing data", `{` + ok + `} {}`, "invalid_json"},
		{"duplicate member", `{` + ok + `,"entity_uri":"urn:b"}`, "invalid_json"},
		{"invalid UTF-8 escape in a field", `{` + ok + `,"source":"\udc00"}`, "invalid_json"},
		{"request is not an object", `[{` + ok + `}]`, "invalid_input"},
		{"unknown field", `{` + ok + `,"actor":"urn:b"}`, "unknown_field"},
		{"unknown field in fact", `{"event_type":"instruction_promoted","entity_uri":"urn:a","fact":{"entity":"instruction:x","kind":"y"}}`, "unknown_field"},
		{"seq is assigned by the log", `{` + ok + `,"seq":0}`, "invalid_field"},
		{"ts is assigned by the log", `{` + ok + `,"ts":"2026-05-03T12:00:00.000000Z"}`, "invalid_field"},
		{"leaf_hash is assigned by the log", `{` + ok + `,"leaf_hash":"00"}`, "invalid_field"},
		{"field of the wrong JSON type", `{` + ok + `,"scope":42}`, "invalid_field"},
		{"fact of the wrong JSON type", `{"event_type":"instruction_promoted","entity_uri":"urn:a","fact":"instruction:x"}`, "invalid_field"},
		{"fact on a non-instruction type", `{` + ok + `,"fact":{"entity":"instruction:x"}}`, "invalid_field"},
		{"control character in entity_uri", `{"event_type":"fact_write","entity_uri":"urn:a\nforged: yes"}`, "invalid_field"},
		{"DEL in source", `{` + ok + `,"source":"a\u007fb"}`, "invalid_field"},
		{"C1 control in oidc_sub", `{` + ok + `,"oidc_sub":"a\u0085b"}`, "invalid_field"},
		{"bidi override in emitter", `{` + ok + `,"emitter":"urn:\u202egpj.exe"}`, "invalid_field"},
		{"line separator in scope", `{` + ok + `,"scope":"a\u2028b"}`, "invalid_field"},
		{"fact_id longer than 1024 bytes", `{` + ok + `,"fact_id":"` + long + `"}`, "invalid_field"},
		{"missing event_type", `{"entity_uri":"urn:a"}`, "missing_field"},
		{"null event_type", `{"event_type":null,"entity_uri":"urn:a"}`, "missing_field"},
		{"missing entity_uri", `{"event_type":"fact_write"}`, "missing_field"},
		{"empty entity_uri", `{"event_type":"fact_write","entity_uri":""}`, "missing_field"},
		{"instruction event without fact", `{"event_type":"instruction_quarantined","entity_uri":"urn:a"}`, "missing_field"},
		{"unknown event_type", `{"event_type":"fact_writ","entity_uri":"urn:a"}`, "unknown_event_type"},
		{"event_type is case-sensitive", `{"event_type":"FACT_WRITE","entity_uri":"urn:a"}`, "unknown_event_type"},
		{"seed synonym is not catalogued", `{"event_type":"audit.export","entity_uri":"urn:a"}`, "unknown_event_type"},
		{"id not a UUID", `{` + ok + `,"id":"1234"}`, "invalid_id"},
		{"id with braces", `{` + ok + `,"id":"{f47ac10b-58cc-4372-a567-0e02b2c3d479}"}`, "invalid_id"},
		{"tenant with underscore", `{` + ok + `,"tenant_id":"acme_corp"}`, "invalid_tenant"},
		{"tenant starting with a hyphen", `{` + ok + `,"tenant_id":"-acme"}`, "invalid_tenant"},
		{"tenant of 64 characters", `{` + ok + `,"tenant_id":"` + strings.Repeat("a", 64) + `"}`, "invalid_tenant"},
		{"tenant of white space only", `{` + ok + `,"tenant_id":"  "}`, "invalid_tenant"},
		{"tenant with non-ASCII letter", `{` + ok + `,"tenant_id":"caf\u00e9"}`, "invalid_tenant"},
		{"hlc without counter", `{` + ok + `,"hlc":"1777809600123"}`, "invalid_hlc"},
		{"hlc with leading zero", `{` + ok + `,"hlc":"01.2"}`, "invalid_hlc"},
		{"hlc with sign", `{` + ok + `,"hlc":"-1.2"}`, "invalid_hlc"},
		{"hlc beyond int64", `{` + ok + `,"hlc":"9223372036854775808.0"}`, "invalid_hlc"},
		{"outcome not in the set", `{` + ok + `,"outcome":"ok"}`, "invalid_outcome"},
		{"outcome is case-sensitive", `{` + ok + `,"outcome":"Success"}`, "invalid_outcome"},
		{"detail is an array", `{` + ok + `,"detail":[1,2]}`, "invalid_detail"},
		{"detail is a string of JSON", `{` + ok + `,"detail":"{}"}`, "invalid_detail"},
		{"detail beyond 16 KiB canonical", `{` + ok + `,"detail":{"blob":"` + strings.Repeat("x", 16<<10) + `"}}`, "detail_too_large"},
		{"detail 17 levels deep", `{` + ok + `,"detail":` + deep + `}`, "detail_too_deep"},
		{"interpret_as outside the set", `{"event_type":"instruction_promoted","entity_uri":"urn:a","fact":{"entity":"instruction:x","interpret_as":"script"}}`, "invalid_interpret_as"},
		{"interpret_as code is not an instruction (quarantined)", `{"event_type":"instruction_quarantined","entity_uri":"urn:a","fact":{"entity":"doc:1","relation":"says","interpret_as":"code"}}`, "not_instruction"},
		{"interpret_as code is not an instruction (promoted)", `{"event_type":"instruction_promoted","entity_uri":"urn:a","fact":{"interpret_as":"code"}}`, "not_instruction"},
		{"interpret_as empty", `{"event_type":"instruction_promoted","entity_uri":"urn:a","fact":{"entity":"doc","interpret_as":""}}`, "invalid_interpret_as"},
		{"not an instruction fact", `{"event_type":"instruction_quarantined","entity_uri":"urn:a","fact":{"entity":"doc:1","relation":"says","interpret_as":"content"}}`, "not_instruction"},
		{"wrong-case prefix is not an instruction", `{"event_type":"instruction_promoted","entity_uri":"urn:a","fact":{"entity":"Instruction:x"}}`, "not_instruction"},
		{"all-null fact is not an instruction", `{"event_type":"instruction_promoted","entity_uri":"urn:a","fact":{}}`, "not_instruction"},
		{"required detail key with null value", `{"event_type":"quota_breach","entity_uri":"urn:a","detail":{"dimension":null}}`, "missing_detail_key"},
		{"required detail key nested, not top-level", `{"event_type":"quota_breach","entity_uri":"urn:a","detail":{"x":{"dimension":"rps"}}}`, "missing_detail_key"},
		{"required detail keys with no detail", `{"event_type":"admin_action","entity_uri":"urn:a"}`, "missing_detail_key"},
		{"required string key given a number", `{"event_type":"admin_action","entity_uri":"urn:a","detail":{"action":5}}`, "missing_detail_key"},
		{"required number key given a numeric string", `{"event_type":"peer_hlc_anomaly","entity_uri":"urn:a","detail":{"sender_node_id":"n","direction":"past","skew_ms":"1250"}}`, "missing_detail_key"},
		{"inexact number in detail: 2^53+1", `{` + ok + `,"detail":{"n":9007199254740993}}`, "inexact_number"},
		{"inexact number nested in detail", `{` + ok + `,"detail":{"a":[{"b":18446744073709551616}]}}`, "inexact_number"},
		{"inexact number beside a valid required key", `{"event_type":"quota_breach","entity_uri":"urn:a","detail":{"dimension":"rps","limit":1e-400}}`, "inexact_number"},
		{"number beyond the double range in detail", `{` + ok + `,"detail":{"n":1e400}}`, "inexact_number"},
		{"inexact number in an instruction event's detail", `{"event_type":"instruction_promoted","entity_uri":"urn:a","fact":{"entity":"instruction:x"},"detail":{"n":123456789012345678901234567890}}`, "inexact_number"},
	}
}

type classifyInput struct {
	name                          string
	entity, relation, interpretAs *string
}

func s(v string) *string { return &v }

func classifyCases() []classifyInput {
	return []classifyInput{
		{"all null", nil, nil, nil},
		{"all empty", s(""), s(""), nil},
		{"entity prefix", s("instruction:run"), nil, nil},
		{"relation prefix", nil, s("instruction:do"), nil},
		{"prefix alone", s("instruction:"), nil, nil},
		{"prefix needs the colon", s("instruction"), s("instructions"), nil},
		{"wrong case Instruction:", s("Instruction:run"), nil, nil},
		{"upper case INSTRUCTION:", nil, s("INSTRUCTION:run"), nil},
		{"leading space", s(" instruction:run"), nil, nil},
		{"prefix in the middle", s("doc:instruction:run"), nil, nil},
		{"interpret_as instruction", s("doc"), s("says"), s("instruction")},
		{"interpret_as instruction alone", nil, nil, s("instruction")},
		{"interpret_as content with instruction entity", s("instruction:run"), nil, s("content")},
		{"interpret_as content", s("doc"), s("says"), s("content")},
		{"interpret_as code is valid and not an instruction", s("doc"), nil, s("code")},
		{"interpret_as code alone is not an instruction", nil, nil, s("code")},
		{"interpret_as code with instruction entity: the prefix still counts (the seed's rule)", s("instruction:run"), nil, s("code")},
		{"interpret_as wrong case Code is refused", nil, nil, s("Code")},
		{"interpret_as empty is refused", nil, nil, s("")},
		{"interpret_as wrong case is refused", nil, nil, s("Instruction")},
	}
}

type mergeInput struct {
	name                          string
	entity, relation, interpretAs *string
	detail                        *string
}

func mergeCases() []mergeInput {
	return []mergeInput{
		{"no detail", s("instruction:x"), nil, s("instruction"), nil},
		{"null detail", s("instruction:x"), s("r"), nil, s("null")},
		{"empty detail", nil, nil, nil, s("{}")},
		{"caller keys interleave in canonical order", s("instruction:x"), s("r"), s("content"), s(`{"z":1,"fact_f":2,"a":3,"fact_s":4}`)},
		{"caller keys win", s("instruction:x"), s("r"), s("instruction"), s(`{"fact_entity":"mine","fact_interpret_as":"content"}`)},
		{"caller null wins too", s("instruction:x"), s("r"), nil, s(`{"fact_relation":null}`)},
		{"caller detail canonicalised", nil, s("instruction:y"), nil, s(` { "b" : 1.0 , "a" : "\u00e9" } `)},
		{"keys before and after the fact keys", nil, nil, nil, s(`{"\u0000":0,"\ud83d\ude00":1,"FACT":2}`)},
		{"fact values escaped", s("a\"b\\c\n"), s("\u0007"), nil, nil},
		{"detail not an object", s("instruction:x"), nil, nil, s(`[1]`)},
		{"detail malformed", s("instruction:x"), nil, nil, s(`{"a":`)},
		{"detail duplicate names", s("instruction:x"), nil, nil, s(`{"a":1,"a":1}`)},
		{"merged detail beyond 16 KiB", s("instruction:x"), nil, nil, s(`{"a":"` + strings.Repeat("x", 16<<10-30) + `"}`)},
	}
}

type numberLiteral struct {
	literal string
	exact   bool
}

// numberCases are detail numbers and whether their RFC 8785 form keeps
// their decimal value (docs/event-format.md#numbers: exact ones are stored, the others refused).
func numberCases() []numberLiteral {
	ok := func(lit string) numberLiteral { return numberLiteral{lit, true} }
	bad := func(lit string) numberLiteral { return numberLiteral{lit, false} }
	return []numberLiteral{
		ok("0"), ok("-0"), ok("0.0"), ok("-0.0e-3"), ok("0e400"),
		ok("0.10"), ok("1.0"), ok("1e2"), ok("1E+2"), ok("0.1"), ok("100"), ok("-1.5"), ok("4.50"), ok("2e-3"),
		ok("123456789012345"), ok("1234567890123456"), ok("9007199254740992"), ok("-9007199254740992"), ok("9007199254740994"),
		ok("1e21"), ok("1e-7"), ok("0.000001"), ok("5e-324"), ok("1.7976931348623157e308"), ok("0.30000000000000004"),
		ok("100000000000000000000000000000"), ok("1.5e300"),
		bad("9007199254740993"), bad("-9007199254740993"), bad("18446744073709551616"), bad("18446744073709551615"),
		bad("123456789012345678901234567890"), bad("999999999999999999999999999999"), bad("-123456789012345678901234567890"),
		bad("1e-400"), bad("-1e-400"), bad("2.5e-324"), bad("4.9e-324"), bad("1e400"), bad("-1.8e308"),
		bad("0.1000000000000000055511151231257827"), bad("333333333.33333329"), bad("1.00000000000000001"),
		bad("0.300000000000000001"),
	}
}
