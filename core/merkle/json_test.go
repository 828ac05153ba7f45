package merkle

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stigaudit/stigaudit/core/auditerr"
)

const (
	h0 = "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"
	h1 = "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7"
)

func TestInclusionProofJSON(t *testing.T) {
	p := InclusionProof{Seq: 1, TreeSize: 2, LeafHash: mustParse(h1), Hashes: [][]byte{hexBytes(h0)}}
	want := `{"seq":1,"tree_size":2,"leaf_hash":"` + h1 + `","hashes":["` + h0 + `"]}`
	if got := string(p.AppendJSON(nil)); got != want {
		t.Fatalf("AppendJSON = %s, want %s", got, want)
	}
	// encoding/json uses the hand-written methods.
	if got, _ := json.Marshal(p); string(got) != want {
		t.Fatalf("json.Marshal = %s, want %s", got, want)
	}
	if got := string((&InclusionProof{}).AppendJSON(nil)); !strings.HasSuffix(got, `"hashes":[]}`) {
		t.Fatalf("empty proof encodes as %s, want hashes []", got)
	}

	for _, tc := range []struct {
		name string
		in   string
		want auditerr.Code // "" for success
	}{
		{"canonical", want, ""},
		{"whitespace and field order", " {\n\"hashes\" : [ \"" + h0 + "\" ] ,\t\"leaf_hash\":\"" + strings.ToUpper(h1) + "\", \"tree_size\":2,\"seq\":1 } ", ""},
		{"escaped key", `{"\u0073eq":1,"tree_size":2,"leaf_hash":"` + h1 + `","hashes":["` + h0 + `"]}`, ""},
		{"missing hashes", `{"seq":1,"tree_size":2,"leaf_hash":"` + h1 + `"}`, "missing_field"},
		{"unknown field", `{"seq":1,"tree_size":2,"leaf_hash":"` + h1 + `","hashes":[],"root":"x"}`, "unknown_field"},
		{"repeated field", `{"seq":1,"seq":1,"tree_size":2,"leaf_hash":"` + h1 + `","hashes":[]}`, "invalid_json"},
		{"negative seq", `{"seq":-1,"tree_size":2,"leaf_hash":"` + h1 + `","hashes":[]}`, "invalid_field"},
		{"fractional seq", `{"seq":1.0,"tree_size":2,"leaf_hash":"` + h1 + `","hashes":[]}`, "invalid_field"},
		{"exponent", `{"seq":1e2,"tree_size":2,"leaf_hash":"` + h1 + `","hashes":[]}`, "invalid_field"},
		{"leading zero", `{"seq":01,"tree_size":2,"leaf_hash":"` + h1 + `","hashes":[]}`, "invalid_json"},
		{"seq beyond uint64", `{"seq":18446744073709551616,"tree_size":2,"leaf_hash":"` + h1 + `","hashes":[]}`, "invalid_field"},
		{"seq as string", `{"seq":"1","tree_size":2,"leaf_hash":"` + h1 + `","hashes":[]}`, "invalid_field"},
		{"short leaf hash", `{"seq":1,"tree_size":2,"leaf_hash":"abcd","hashes":[]}`, "invalid_field"},
		{"short proof hash", `{"seq":1,"tree_size":2,"leaf_hash":"` + h1 + `","hashes":["abcd"]}`, "invalid_field"},
		{"non-hex proof hash", `{"seq":1,"tree_size":2,"leaf_hash":"` + h1 + `","hashes":["` + strings.Repeat("z", 64) + `"]}`, "invalid_field"},
		{"null hashes", `{"seq":1,"tree_size":2,"leaf_hash":"` + h1 + `","hashes":null}`, "invalid_field"},
		{"trailing comma", `{"seq":1,"tree_size":2,"leaf_hash":"` + h1 + `","hashes":[],}`, "invalid_json"},
		{"trailing data", want + `{}`, "invalid_json"},
		{"not an object", `[1,2]`, "invalid_json"},
		{"empty input", ``, "invalid_json"},
		{"unterminated", `{"seq":1`, "invalid_json"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got InclusionProof
			err := got.UnmarshalJSON([]byte(tc.in))
			if auditerr.CodeOf(err) != tc.want || (tc.want != "" && err == nil) {
				t.Fatalf("err = %v, want code %q", err, tc.want)
			}
			if tc.want == "" && string(got.AppendJSON(nil)) != want {
				t.Fatalf("decoded to %s, want %s", got.AppendJSON(nil), want)
			}
		})
	}
}

func TestConsistencyProofJSON(t *testing.T) {
	p := ConsistencyProof{From: 1, To: 2, Hashes: [][]byte{hexBytes(h1)}}
	want := `{"from":1,"to":2,"hashes":["` + h1 + `"]}`
	if got := string(p.AppendJSON(nil)); got != want {
		t.Fatalf("AppendJSON = %s, want %s", got, want)
	}
	for _, tc := range []struct {
		name string
		in   string
		want auditerr.Code
	}{
		{"canonical", want, ""},
		{"through encoding/json", "", ""},
		{"missing to", `{"from":1,"hashes":[]}`, "missing_field"},
		{"unknown field", `{"from":1,"to":2,"hashes":[],"x":1}`, "unknown_field"},
		{"hashes not an array", `{"from":1,"to":2,"hashes":"` + h1 + `"}`, "invalid_field"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got ConsistencyProof
			var err error
			if tc.in == "" {
				err = json.Unmarshal([]byte(want), &got)
			} else {
				err = got.UnmarshalJSON([]byte(tc.in))
			}
			if auditerr.CodeOf(err) != tc.want {
				t.Fatalf("err = %v, want code %q", err, tc.want)
			}
			if tc.want == "" && string(got.AppendJSON(nil)) != want {
				t.Fatalf("decoded to %s, want %s", got.AppendJSON(nil), want)
			}
		})
	}
}

func mustParse(s string) [HashSize]byte {
	h, err := ParseHash(s)
	if err != nil {
		panic(err)
	}
	return h
}

func hexBytes(s string) []byte {
	h := mustParse(s)
	return h[:]
}

// FuzzInclusionProofJSON checks that whatever the decoder accepts encodes
// back to a form that decodes to the same proof.
func FuzzInclusionProofJSON(f *testing.F) {
	f.Add([]byte(`{"seq":1,"tree_size":2,"leaf_hash":"` + h1 + `","hashes":["` + h0 + `"]}`))
	f.Add([]byte(`{"seq":0,"tree_size":1,"leaf_hash":"` + h1 + `","hashes":[]}`))
	f.Add([]byte(`{"\u0073eq":0,"tree_size":1,"leaf_hash":"` + h1 + `","hashes":[]}`))
	f.Fuzz(func(t *testing.T, in []byte) {
		var p InclusionProof
		if err := p.UnmarshalJSON(in); err != nil {
			if auditerr.CodeOf(err) == "" {
				t.Fatalf("error without a code: %v", err)
			}
			return
		}
		enc := p.AppendJSON(nil)
		var q InclusionProof
		if err := q.UnmarshalJSON(enc); err != nil {
			t.Fatalf("re-decoding %s: %v", enc, err)
		}
		if string(q.AppendJSON(nil)) != string(enc) {
			t.Fatalf("round trip changed %s to %s", enc, q.AppendJSON(nil))
		}
		// Whatever we accept, encoding/json accepts too.
		if !json.Valid(in) {
			t.Fatalf("accepted invalid JSON %q", in)
		}
	})
}
