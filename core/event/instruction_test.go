package event

import (
	"strings"
	"testing"

	"github.com/stigaudit/stigaudit/core/auditerr"
)

func TestIsInstructionFact(t *testing.T) {
	tests := []struct {
		entity, relation, interpretAs *string
		want                          bool
		code                          auditerr.Code
	}{
		{nil, nil, nil, false, ""},
		{ptr(""), ptr(""), nil, false, ""},
		{ptr("instruction:run"), nil, nil, true, ""},
		{nil, ptr("instruction:do"), nil, true, ""},
		{ptr("instruction:"), nil, nil, true, ""},
		{ptr("Instruction:run"), nil, nil, false, ""}, // case-sensitive
		{ptr("INSTRUCTION:run"), ptr("x"), nil, false, ""},
		{ptr("instruction"), nil, nil, false, ""}, // the colon is part of the prefix
		{ptr(" instruction:run"), nil, nil, false, ""},
		{ptr("doc:instruction:run"), nil, nil, false, ""},
		{ptr("doc"), ptr("says"), ptr("instruction"), true, ""},
		{nil, nil, ptr("instruction"), true, ""},
		{ptr("instruction:run"), nil, ptr("content"), true, ""}, // content does not override the namespace
		{ptr("doc"), nil, ptr("content"), false, ""},
		{ptr("instruction:run"), nil, ptr("code"), true, ""}, // code, like content, does not override the namespace
		{ptr("doc"), ptr("says"), ptr("code"), false, ""},    // code is reserved: valid, never an instruction by itself
		{nil, nil, ptr("code"), false, ""},
		{ptr("doc"), nil, ptr("Code"), false, "invalid_interpret_as"},
		{ptr("doc"), nil, ptr("script"), false, "invalid_interpret_as"},
		{ptr("doc"), nil, ptr(""), false, "invalid_interpret_as"},
		{ptr("doc"), nil, ptr("Instruction"), false, "invalid_interpret_as"},
	}
	for _, tt := range tests {
		got, err := IsInstructionFact(tt.entity, tt.relation, tt.interpretAs)
		if got != tt.want || auditerr.CodeOf(err) != tt.code {
			t.Errorf("IsInstructionFact(%s, %s, %s) = %v, %v; want %v, code %q",
				show(tt.entity), show(tt.relation), show(tt.interpretAs), got, err, tt.want, tt.code)
		}
	}
}

func show(s *string) string {
	if s == nil {
		return "nil"
	}
	return `"` + *s + `"`
}

func TestMergeDetail(t *testing.T) {
	f := FactRef{Entity: ptr("instruction:x"), Relation: nil, InterpretAs: ptr("instruction")}
	tests := []struct {
		name   string
		f      FactRef
		detail string
		want   string
		code   auditerr.Code
	}{
		{"no detail", f, "", `{"fact_entity":"instruction:x","fact_interpret_as":"instruction","fact_relation":null}`, ""},
		{"null detail", f, "null", `{"fact_entity":"instruction:x","fact_interpret_as":"instruction","fact_relation":null}`, ""},
		{"empty detail", f, "{}", `{"fact_entity":"instruction:x","fact_interpret_as":"instruction","fact_relation":null}`, ""},
		{"interleaved keys", f, `{"z":1,"fact_f":2,"a":3,"fact_s":4}`,
			`{"a":3,"fact_entity":"instruction:x","fact_f":2,"fact_interpret_as":"instruction","fact_relation":null,"fact_s":4,"z":1}`, ""},
		{"caller wins, even with null", f, `{"fact_entity":null,"fact_relation":"r"}`,
			`{"fact_entity":null,"fact_interpret_as":"instruction","fact_relation":"r"}`, ""},
		{"caller keys before and after", FactRef{}, `{"\u0000":1,"😀":2}`,
			"{\"\\u0000\":1,\"fact_entity\":null,\"fact_interpret_as\":null,\"fact_relation\":null,\"😀\":2}", ""},
		{"escaped fact values", FactRef{Entity: ptr("a\"b\n")}, ``,
			`{"fact_entity":"a\"b\n","fact_interpret_as":null,"fact_relation":null}`, ""},
		{"not an object", f, `[1]`, "", "invalid_detail"},
		{"malformed", f, `{`, "", "invalid_detail"},
		{"invalid utf8 in fact", FactRef{Relation: ptr("\xff")}, ``, "", "invalid_field"},
		{"too large", f, `{"a":"` + strings.Repeat("x", 16<<10-20) + `"}`, "", "detail_too_large"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var detail []byte
			if tt.detail != "" {
				detail = []byte(tt.detail)
			}
			got, err := MergeDetail(tt.f, detail)
			if auditerr.CodeOf(err) != tt.code || string(got) != tt.want {
				t.Fatalf("MergeDetail = %s, %v; want %s, code %q", got, err, tt.want, tt.code)
			}
		})
	}
}
