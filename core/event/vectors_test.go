package event

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"io"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/stigaudit/stigaudit/core/auditerr"
)

// The tests below replay core/testdata as every other host does: from the
// file's inputs alone.

func readVectors(t *testing.T, name string, v any) {
	t.Helper()
	raw, err := os.ReadFile("../testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, v); err != nil {
		t.Fatal(err)
	}
}

func vectorNow(t *testing.T, ns string) time.Time {
	n, err := strconv.ParseInt(ns, 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	return time.Unix(0, n)
}

func buildVector(t *testing.T, request, nowNs, entropyHex string) (Event, error) {
	ent, err := hex.DecodeString(entropyHex)
	if err != nil {
		t.Fatal(err)
	}
	var b Builder
	e, err := parseAndBuild(&b, []byte(request), vectorNow(t, nowNs), bytes.NewReader(ent))
	// BuildJSON is ParseDraft then Build, in one pass over the detail.
	e2, err2 := b.BuildJSON([]byte(request), vectorNow(t, nowNs), bytes.NewReader(ent))
	sameBuild(t, request, e, err, e2, err2)
	return e, err
}

func parseAndBuild(b *Builder, request []byte, now time.Time, entropy io.Reader) (Event, error) {
	d, err := ParseDraft(request, b.Limits)
	if err != nil {
		return Event{}, err
	}
	return b.Build(&d, now, entropy)
}

// sameBuild fails unless two builds of request gave the same event or the
// same error (code and message).
func sameBuild(t testing.TB, request string, e Event, err error, e2 Event, err2 error) {
	t.Helper()
	if (err == nil) != (err2 == nil) || err != nil && (auditerr.CodeOf(err) != auditerr.CodeOf(err2) || err.Error() != err2.Error()) {
		t.Fatalf("%.200q: ParseDraft+Build: %v; BuildJSON: %v", request, err, err2)
	}
	if err == nil && (!e.SameContent(&e2) || e.TS != e2.TS || e.LeafHash != e2.LeafHash || e.Seq != e2.Seq) {
		t.Fatalf("%.200q: ParseDraft+Build and BuildJSON differ:\n%s\n%s", request, AppendJSON(nil, &e), AppendJSON(nil, &e2))
	}
}

func TestCanonicalVectors(t *testing.T) {
	var f struct {
		Cases []struct {
			Name, Request, Canonical string
			NowUnixNs                string `json:"now_unix_ns"`
			EntropyHex               string `json:"entropy_hex"`
			LeafHash                 string `json:"leaf_hash"`
			APIJSON                  string `json:"api_json"`
		}
	}
	readVectors(t, "canonical.json", &f)
	if len(f.Cases) == 0 {
		t.Fatal("no cases")
	}
	for _, c := range f.Cases {
		e, err := buildVector(t, c.Request, c.NowUnixNs, c.EntropyHex)
		if err != nil {
			t.Errorf("%s: %v", c.Name, err)
			continue
		}
		if got := string(AppendCanonical(nil, &e)); got != c.Canonical {
			t.Errorf("%s: canonical\n got %s\nwant %s", c.Name, got, c.Canonical)
		}
		if got := hex.EncodeToString(e.LeafHash[:]); got != c.LeafHash {
			t.Errorf("%s: leaf hash %s, want %s", c.Name, got, c.LeafHash)
		}
		if got := string(AppendJSON(nil, &e)); got != c.APIJSON {
			t.Errorf("%s: API JSON\n got %s\nwant %s", c.Name, got, c.APIJSON)
		}
	}
}

func TestInvalidVectors(t *testing.T) {
	var f struct {
		NowUnixNs  string `json:"now_unix_ns"`
		EntropyHex string `json:"entropy_hex"`
		Cases      []struct{ Name, Request, Error string }
	}
	readVectors(t, "invalid.json", &f)
	codes := map[string]bool{}
	for _, c := range f.Cases {
		_, err := buildVector(t, c.Request, f.NowUnixNs, f.EntropyHex)
		if got := string(auditerr.CodeOf(err)); got != c.Error {
			t.Errorf("%s: error %v, want code %s", c.Name, err, c.Error)
		}
		codes[c.Error] = true
	}
	// One case at least per code a draft can fail with.
	for _, code := range []string{"invalid_json", "invalid_input", "unknown_field", "invalid_field", "missing_field",
		"unknown_event_type", "invalid_id", "invalid_tenant", "invalid_hlc", "invalid_outcome", "invalid_detail",
		"detail_too_large", "detail_too_deep", "missing_detail_key", "invalid_interpret_as", "not_instruction"} {
		if !codes[code] {
			t.Errorf("no vector for code %s", code)
		}
	}
}

func TestClassifyVectors(t *testing.T) {
	var f struct {
		Cases []struct {
			Name             string
			Entity, Relation *string
			InterpretAs      *string `json:"interpret_as"`
			Instruction      *bool
			Error            string
		}
	}
	readVectors(t, "classify.json", &f)
	for _, c := range f.Cases {
		got, err := IsInstructionFact(c.Entity, c.Relation, c.InterpretAs)
		if string(auditerr.CodeOf(err)) != c.Error || (c.Instruction != nil && got != *c.Instruction) {
			t.Errorf("%s: %v, %v; want %v, %q", c.Name, got, err, c.Instruction, c.Error)
		}
	}
}

func TestMergeVectors(t *testing.T) {
	var f struct {
		Cases []struct {
			Name string
			Fact struct {
				Entity, Relation *string
				InterpretAs      *string `json:"interpret_as"`
			}
			Detail *string
			Merged *string
			Error  string
		}
	}
	readVectors(t, "merge.json", &f)
	for _, c := range f.Cases {
		var detail []byte
		if c.Detail != nil {
			detail = []byte(*c.Detail)
		}
		got, err := MergeDetail(FactRef{Entity: c.Fact.Entity, Relation: c.Fact.Relation, InterpretAs: c.Fact.InterpretAs}, detail)
		if string(auditerr.CodeOf(err)) != c.Error || (c.Merged != nil && string(got) != *c.Merged) {
			t.Errorf("%s: %s, %v; want %v, %q", c.Name, got, err, c.Merged, c.Error)
		}
	}
}
