package jcs

import (
	"encoding/hex"
	"encoding/json"
	"os"
	"testing"

	"github.com/stigaudit/stigaudit/core/auditerr"
)

// TestVectors replays core/testdata/jcs.json as every other host does.
func TestVectors(t *testing.T) {
	raw, err := os.ReadFile("../testdata/jcs.json")
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		Cases []struct {
			Name     string
			Input    *string
			InputHex *string `json:"input_hex"`
			Limits   *struct {
				MaxInput  int `json:"max_input"`
				MaxOutput int `json:"max_output"`
				MaxDepth  int `json:"max_depth"`
			}
			Canonical *string
			Error     string
		}
	}
	if err := json.Unmarshal(raw, &f); err != nil {
		t.Fatal(err)
	}
	if len(f.Cases) < 50 {
		t.Fatalf("only %d cases", len(f.Cases))
	}
	for _, c := range f.Cases {
		var in []byte
		if c.Input != nil {
			in = []byte(*c.Input)
		} else if in, err = hex.DecodeString(*c.InputHex); err != nil {
			t.Fatal(err)
		}
		var lim Limits
		if c.Limits != nil {
			lim = Limits{MaxInput: c.Limits.MaxInput, MaxOutput: c.Limits.MaxOutput, MaxDepth: c.Limits.MaxDepth}
		}
		got, err := Canonicalize(nil, in, lim)
		switch {
		case c.Canonical != nil && (err != nil || string(got) != *c.Canonical):
			t.Errorf("%s: got %s, %v; want %s", c.Name, got, err, *c.Canonical)
		case c.Canonical == nil && string(auditerr.CodeOf(err)) != c.Error:
			t.Errorf("%s: got %s, %v; want error %s", c.Name, got, err, c.Error)
		}
	}
}
