package main

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/stigaudit/stigaudit/core/auditerr"
	"github.com/stigaudit/stigaudit/core/catalog"
	"github.com/stigaudit/stigaudit/core/event"
	"github.com/stigaudit/stigaudit/core/jcs"
)

const generator = "go run ./internal/genvectors (inputs in internal/genvectors/cases.go; expected values computed by the Go core)"

// generate returns every vector file by name.
func generate() (map[string][]byte, error) {
	out := map[string][]byte{}
	for name, gen := range map[string]func() (any, error){
		"jcs.json":       genJCS,
		"canonical.json": genCanonical,
		"invalid.json":   genInvalid,
		"classify.json":  genClassify,
		"merge.json":     genMerge,
		"catalogue.json": genCatalogue,
		"numbers.json":   genNumbers,
	} {
		v, err := gen()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		enc.SetIndent("", "  ")
		if err := enc.Encode(v); err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		out[name] = buf.Bytes()
	}
	return out, nil
}

// ---- jcs.json

type jcsFile struct {
	Description string    `json:"description"`
	Generator   string    `json:"generator"`
	Cases       []jcsCase `json:"cases"`
}

type jcsLimits struct {
	MaxInput  int `json:"max_input,omitempty"`
	MaxOutput int `json:"max_output,omitempty"`
	MaxDepth  int `json:"max_depth,omitempty"`
}

type jcsCase struct {
	Name      string     `json:"name"`
	Input     *string    `json:"input,omitempty"`
	InputHex  *string    `json:"input_hex,omitempty"`
	Limits    *jcsLimits `json:"limits,omitempty"`
	Canonical *string    `json:"canonical,omitempty"`
	Error     string     `json:"error,omitempty"`
}

func genJCS() (any, error) {
	f := jcsFile{
		Description: "RFC 8785 JSON Canonicalization Scheme. Canonicalize the bytes of `input` (or of `input_hex` when they are not valid UTF-8) " +
			"under `limits` (absent fields: no limit; max_depth counts the outermost array or object as 1; a host without limits " +
			"must still refuse nesting beyond 1000) and expect exactly the bytes of `canonical`, or a failure with the code `error`: " +
			"invalid_json (malformed, invalid UTF-8, lone surrogate, duplicate name, number outside the double range), " +
			"too_large (input beyond max_input), output_too_large (canonical form beyond max_output), too_deep (nesting beyond max_depth).",
		Generator: generator,
	}
	for _, c := range jcsCases() {
		jc := jcsCase{Name: c.name}
		in := c.input
		if utf8.ValidString(in) {
			jc.Input = &in
		} else {
			h := hex.EncodeToString([]byte(in))
			jc.InputHex = &h
		}
		if c.lim != (jcs.Limits{}) {
			jc.Limits = &jcsLimits{MaxInput: c.lim.MaxInput, MaxOutput: c.lim.MaxOutput, MaxDepth: c.lim.MaxDepth}
		}
		out, err := jcs.Canonicalize(nil, []byte(in), c.lim)
		if err != nil {
			jc.Error = string(auditerr.CodeOf(err))
		} else {
			s := string(out)
			jc.Canonical = &s
		}
		if (jc.Error != "") != c.fails {
			return nil, fmt.Errorf("case %q: error %q, expected failure %v", c.name, jc.Error, c.fails)
		}
		f.Cases = append(f.Cases, jc)
	}
	return f, nil
}

// rfc8785Numbers are the IEEE-754 values of RFC 8785 Appendix B.
var rfc8785Numbers = []uint64{
	0x0000000000000000, 0x8000000000000000, 0x0000000000000001, 0x8000000000000001,
	0x7fefffffffffffff, 0xffefffffffffffff, 0x4340000000000000, 0xc340000000000000,
	0x4430000000000000, 0x44b52d02c7e14af5, 0x44b52d02c7e14af6, 0x44b52d02c7e14af7,
	0x444b1ae4d6e2ef4e, 0x444b1ae4d6e2ef4f, 0x444b1ae4d6e2ef50, 0x3eb0c6f7a0b5ed8c,
	0x3eb0c6f7a0b5ed8d, 0x41b3de4355555553, 0x41b3de4355555554, 0x41b3de4355555555,
	0x41b3de4355555556, 0x41b3de4355555557, 0xbecbf647612f3696, 0x43143ff3c1cb0959,
}

// numberInput writes f with 17 significant digits, a form other than the
// canonical one, so that replaying hosts parse and reformat it.
func numberInput(bits uint64) string {
	f := math.Float64frombits(bits)
	if f == 0 && math.Signbit(f) {
		return "-0.0"
	}
	return strconv.FormatFloat(f, 'e', 16, 64)
}

// ---- canonical.json

type canonicalFile struct {
	Description string          `json:"description"`
	Generator   string          `json:"generator"`
	Cases       []canonicalCase `json:"cases"`
}

type canonicalCase struct {
	Name       string `json:"name"`
	Request    string `json:"request"`
	Now        string `json:"now"`
	NowUnixNs  string `json:"now_unix_ns"`
	EntropyHex string `json:"entropy_hex"`
	Canonical  string `json:"canonical"`
	LeafHash   string `json:"leaf_hash"`
	APIJSON    string `json:"api_json"`
}

// build is how every host builds from a vector: parse the request as
// an emit body's event object, then build it with the default catalogue and
// limits at the given instant with the given entropy.
func build(request string, now time.Time, entropy []byte) (event.Event, error) {
	d, err := event.ParseDraft([]byte(request), event.DefaultLimits())
	if err != nil {
		return event.Event{}, err
	}
	var b event.Builder
	return b.Build(&d, now, bytes.NewReader(entropy))
}

func genCanonical() (any, error) {
	f := canonicalFile{
		Description: "Event construction (docs/event-format.md). Parse `request` as one event object of an emit request, build it with the default " +
			"catalogue and limits (16 KiB canonical detail, 16 levels) at the instant `now` (also given as Unix nanoseconds in " +
			"`now_unix_ns`, the WASM clock_now value), with the entropy source yielding the bytes of `entropy_hex` (10 bytes, read " +
			"only when the request has no id), and expect: `canonical`, the RFC 8785 form that is hashed; `leaf_hash`, lower-case hex " +
			"SHA-256 of 0x00 followed by `canonical`; `api_json`, the stored event object as the HTTP API returns it (seq null until stored).",
		Generator: generator,
	}
	for _, c := range canonicalCases() {
		e, err := build(c.request, c.now, c.entropy)
		if err != nil {
			return nil, fmt.Errorf("case %q: %w", c.name, err)
		}
		f.Cases = append(f.Cases, canonicalCase{
			Name: c.name, Request: c.request,
			Now: c.now.Format(time.RFC3339Nano), NowUnixNs: strconv.FormatInt(c.now.UnixNano(), 10),
			EntropyHex: hex.EncodeToString(c.entropy),
			Canonical:  string(event.AppendCanonical(nil, &e)),
			LeafHash:   hex.EncodeToString(e.LeafHash[:]),
			APIJSON:    string(event.AppendJSON(nil, &e)),
		})
	}
	return f, nil
}

// ---- invalid.json

type invalidFile struct {
	Description string        `json:"description"`
	Generator   string        `json:"generator"`
	Now         string        `json:"now"`
	NowUnixNs   string        `json:"now_unix_ns"`
	EntropyHex  string        `json:"entropy_hex"`
	Cases       []invalidCase `json:"cases"`
}

type invalidCase struct {
	Name    string `json:"name"`
	Request string `json:"request"`
	Error   string `json:"error"`
}

func genInvalid() (any, error) {
	now := time.Date(2026, 5, 3, 12, 0, 0, 0, time.UTC)
	entropy := bytes.Repeat([]byte{0x5a}, 10)
	f := invalidFile{
		Description: "Refused events. Parse `request` and build it exactly as for canonical.json, at `now` with the entropy of " +
			"`entropy_hex`, and expect a failure with the stable code `error` (docs/api.md#errors). not_instruction is the instruction event " +
			"for a fact that is not an instruction fact: nothing is recorded and the HTTP API answers {\"skipped\":\"not_instruction\"}.",
		Generator: generator,
		Now:       now.Format(time.RFC3339Nano), NowUnixNs: strconv.FormatInt(now.UnixNano(), 10),
		EntropyHex: hex.EncodeToString(entropy),
	}
	cases := invalidCases()
	cases = append(cases, requiredKeyCases()...)
	seen := map[string]bool{}
	for _, c := range cases {
		if seen[c.name] {
			return nil, fmt.Errorf("duplicate case name %q", c.name)
		}
		seen[c.name] = true
		_, err := build(c.request, now, entropy)
		code := auditerr.CodeOf(err)
		if err == nil || string(code) != c.code {
			return nil, fmt.Errorf("case %q: got %v (code %q), want code %q", c.name, err, code, c.code)
		}
		f.Cases = append(f.Cases, invalidCase{Name: c.name, Request: c.request, Error: string(code)})
	}
	return f, nil
}

// requiredKeyCases makes, for every catalogued type with required detail
// keys, one request per key that carries all the others but not that one,
// and one per constrained key with a value outside its set.
func requiredKeyCases() []invalidInput {
	var out []invalidInput
	for _, t := range catalog.Default().Types() {
		keys := t.Required()
		for skip := range keys {
			out = append(out, invalidInput{
				name:    fmt.Sprintf("%s without detail key %s", t.Name(), keys[skip].Name),
				request: requestWithKeys(t.Name(), keys, skip, ""),
				code:    "missing_detail_key",
			})
		}
		for _, k := range keys {
			if k.Type != catalog.AnyType {
				out = append(out, invalidInput{
					name:    fmt.Sprintf("%s with %s of another JSON type than %s", t.Name(), k.Name, k.Type),
					request: requestWithKeys(t.Name(), keys, -1, "type:"+k.Name),
					code:    "missing_detail_key",
				})
			}
			if len(k.OneOf) > 0 {
				out = append(out, invalidInput{
					name:    fmt.Sprintf("%s with %s outside its values", t.Name(), k.Name),
					request: requestWithKeys(t.Name(), keys, -1, k.Name),
					code:    "missing_detail_key",
				})
			}
		}
	}
	return out
}

// requestWithKeys writes a request of type typ whose detail holds every key
// but keys[skip], each with a permitted value, except that the key named
// bad gets a value outside its set, and the key named by "type:" and bad a
// value of another JSON type.
func requestWithKeys(typ string, keys []catalog.Key, skip int, bad string) string {
	var detail []string
	for i, k := range keys {
		if i == skip {
			continue
		}
		v := sampleValue(k.Type, false)
		if len(k.OneOf) > 0 {
			v = k.OneOf[0]
		}
		switch bad {
		case k.Name:
			v = `"not-one-of-them"`
		case "type:" + k.Name:
			v = sampleValue(k.Type, true)
		}
		detail = append(detail, string(jcs.AppendString(nil, k.Name))+":"+v)
	}
	return `{"event_type":` + string(jcs.AppendString(nil, typ)) + `,"entity_uri":"urn:stigmem:agent:vector","detail":{` + strings.Join(detail, ",") + `}}`
}

// sampleValue returns a JSON value of type t (any type: a string), or with
// other one of another type.
func sampleValue(t catalog.JSONType, other bool) string {
	if other {
		if t == catalog.StringType {
			return "5"
		}
		return `"5"`
	}
	switch t {
	case catalog.NumberType:
		return "1250"
	case catalog.BooleanType:
		return "true"
	case catalog.ObjectType:
		return `{"k":"v"}`
	case catalog.ArrayType:
		return `["v"]`
	}
	return `"x"`
}

// ---- numbers.json

type numbersFile struct {
	Description string       `json:"description"`
	Generator   string       `json:"generator"`
	Now         string       `json:"now"`
	NowUnixNs   string       `json:"now_unix_ns"`
	Cases       []numberCase `json:"cases"`
}

type numberCase struct {
	Literal string  `json:"literal"`
	Request string  `json:"request"`
	Exact   bool    `json:"exact"`
	Detail  *string `json:"detail,omitempty"`
	Error   string  `json:"error,omitempty"`
}

// numberRequestID is the id of every numbers.json request, so that
// building one reads no entropy.
const numberRequestID = "0196a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b"

func genNumbers() (any, error) {
	now := time.Date(2026, 5, 3, 12, 0, 0, 0, time.UTC)
	f := numbersFile{
		Description: "Numbers in detail are evidence (docs/event-format.md#numbers). Build `request` (a fact_write whose detail is {\"n\": literal}) as for " +
			"canonical.json at `now`. When `exact`, the RFC 8785 form of the literal has the literal's decimal value (the same significant " +
			"digits, without leading and trailing zeros, at the same power of ten; -0 is 0), and the built event's detail is `detail`; " +
			"otherwise the build fails with `error` inexact_number: the literal has digits a double cannot hold, is below the smallest " +
			"double but not zero, or beyond the largest.",
		Generator: generator,
		Now:       now.Format(time.RFC3339Nano), NowUnixNs: strconv.FormatInt(now.UnixNano(), 10),
	}
	for _, c := range numberCases() {
		req := `{"id":"` + numberRequestID + `","event_type":"fact_write","entity_uri":"urn:a","detail":{"n":` + c.literal + `}}`
		nc := numberCase{Literal: c.literal, Request: req, Exact: c.exact}
		e, err := build(req, now, nil)
		switch {
		case err == nil:
			d := string(e.Detail)
			nc.Detail = &d
		case auditerr.CodeOf(err) == auditerr.ErrInexactNumber.Code:
			nc.Error = string(auditerr.CodeOf(err))
		default:
			return nil, fmt.Errorf("literal %s: %v", c.literal, err)
		}
		if (err == nil) != c.exact {
			return nil, fmt.Errorf("literal %s: built %v, declared exact %v", c.literal, err == nil, c.exact)
		}
		f.Cases = append(f.Cases, nc)
	}
	return f, nil
}

// ---- classify.json

type classifyFile struct {
	Description string         `json:"description"`
	Generator   string         `json:"generator"`
	Cases       []classifyCase `json:"cases"`
}

type classifyCase struct {
	Name        string  `json:"name"`
	Entity      *string `json:"entity"`
	Relation    *string `json:"relation"`
	InterpretAs *string `json:"interpret_as"`
	Instruction *bool   `json:"instruction,omitempty"`
	Error       string  `json:"error,omitempty"`
}

func genClassify() (any, error) {
	f := classifyFile{
		Description: "Instruction classification (docs/event-format.md#instruction-events, the seed's ADR-003 is_instruction_fact): `instruction` is true iff " +
			"interpret_as is \"instruction\", or entity or relation starts with \"instruction:\" (case-sensitive; null and \"\" never match). " +
			"interpret_as \"code\" (reserved by the seed's ADR) is valid and, like \"content\", never makes a fact an instruction by itself. " +
			"An interpret_as other than null, \"content\", \"instruction\" or \"code\" fails with `error` invalid_interpret_as.",
		Generator: generator,
	}
	for _, c := range classifyCases() {
		got, err := event.IsInstructionFact(c.entity, c.relation, c.interpretAs)
		cc := classifyCase{Name: c.name, Entity: c.entity, Relation: c.relation, InterpretAs: c.interpretAs}
		if err != nil {
			cc.Error = string(auditerr.CodeOf(err))
		} else {
			cc.Instruction = &got
		}
		f.Cases = append(f.Cases, cc)
	}
	return f, nil
}

// ---- merge.json

type mergeFile struct {
	Description string      `json:"description"`
	Generator   string      `json:"generator"`
	Cases       []mergeCase `json:"cases"`
}

type factJSON struct {
	Entity      *string `json:"entity"`
	Relation    *string `json:"relation"`
	InterpretAs *string `json:"interpret_as"`
}

type mergeCase struct {
	Name   string   `json:"name"`
	Fact   factJSON `json:"fact"`
	Detail *string  `json:"detail"`
	Merged *string  `json:"merged,omitempty"`
	Error  string   `json:"error,omitempty"`
}

func genMerge() (any, error) {
	f := mergeFile{
		Description: "Detail merging for instruction events (docs/event-format.md#instruction-events). `detail` is the caller's detail as JSON text (null: none). " +
			"Expect `merged`, the canonical object {fact_entity, fact_relation, fact_interpret_as} (absent fact values as null) " +
			"merged with the caller's detail, the caller's keys winning, or a failure with `error` (default limits apply).",
		Generator: generator,
	}
	for _, c := range mergeCases() {
		var detail []byte
		if c.detail != nil {
			detail = []byte(*c.detail)
		}
		got, err := event.MergeDetail(event.FactRef{Entity: c.entity, Relation: c.relation, InterpretAs: c.interpretAs}, detail)
		mc := mergeCase{Name: c.name, Fact: factJSON{c.entity, c.relation, c.interpretAs}, Detail: c.detail}
		if err != nil {
			mc.Error = string(auditerr.CodeOf(err))
		} else {
			s := string(got)
			mc.Merged = &s
		}
		f.Cases = append(f.Cases, mc)
	}
	return f, nil
}

// ---- catalogue.json

type catalogueFile struct {
	Description string     `json:"description"`
	Generator   string     `json:"generator"`
	Types       []typeJSON `json:"types"`
}

type typeJSON struct {
	Name           string            `json:"name"`
	Family         string            `json:"family"`
	Critical       bool              `json:"critical"`
	RequiredDetail []json.RawMessage `json:"required_detail"`
}

func genCatalogue() (any, error) {
	f := catalogueFile{
		Description: "The built-in event catalogue (docs/catalogue.md#built-in-types), sorted by name. `critical` types fail closed; `required_detail` lists the " +
			"detail keys that must be present and non-null, as in an operator's catalogue configuration: a name (any non-null value), or " +
			"{\"name\",\"one_of\",\"type\"} when the value must have the JSON `type` (string, number, boolean, object, array) " +
			"and, with one_of, be one of the listed JSON values.",
		Generator: generator,
	}
	for _, t := range catalog.Default().Types() {
		tj := typeJSON{Name: t.Name(), Family: string(t.Family()), Critical: t.Critical(), RequiredDetail: []json.RawMessage{}}
		for _, k := range t.Required() {
			tj.RequiredDetail = append(tj.RequiredDetail, json.RawMessage(k.String()))
		}
		f.Types = append(f.Types, tj)
	}
	if len(f.Types) == 0 {
		return nil, errors.New("empty catalogue")
	}
	return f, nil
}
