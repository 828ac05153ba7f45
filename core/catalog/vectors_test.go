package catalog

import (
	"bytes"
	"encoding/json"
	"os"
	"testing"
)

// TestVectors replays core/testdata/catalogue.json: every listed type exists
// with its family, critical flag and required keys, and nothing else does.
func TestVectors(t *testing.T) {
	raw, err := os.ReadFile("../testdata/catalogue.json")
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		Types []struct {
			Name           string
			Family         string
			Critical       bool
			RequiredDetail []json.RawMessage `json:"required_detail"`
		}
	}
	if err := json.Unmarshal(raw, &f); err != nil {
		t.Fatal(err)
	}
	c := Default()
	if len(f.Types) != c.Len() {
		t.Fatalf("%d types in the vectors, %d in the catalogue", len(f.Types), c.Len())
	}
	for _, vt := range f.Types {
		typ, ok := c.Lookup(vt.Name)
		if !ok {
			t.Errorf("%s: not in the catalogue", vt.Name)
			continue
		}
		if string(typ.Family()) != vt.Family || typ.Critical() != vt.Critical {
			t.Errorf("%s: family %s critical %v; vectors say %s %v", vt.Name, typ.Family(), typ.Critical(), vt.Family, vt.Critical)
		}
		req := typ.Required()
		if len(req) != len(vt.RequiredDetail) {
			t.Errorf("%s: %d required keys, vectors list %d", vt.Name, len(req), len(vt.RequiredDetail))
			continue
		}
		for i, k := range req {
			var compact bytes.Buffer
			if err := json.Compact(&compact, vt.RequiredDetail[i]); err != nil {
				t.Fatal(err)
			}
			if k.String() != compact.String() {
				t.Errorf("%s: key %s, vectors say %s", vt.Name, k, vt.RequiredDetail[i])
			}
		}
	}
}
