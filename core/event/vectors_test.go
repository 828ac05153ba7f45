package event

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
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
		"detail_too_large", "detail_too_deep", "missing_detail_key", "invalid_interpret_as", "not_instruction", "inexact_number"} {
		if !codes[code] {
			t.Errorf("no vector for code %s", code)
		}
	}
}

// TestNumberVectors replays numbers.json on every way a detail reaches the
// core: a whole request (ParseDraft, BuildJSON, ParseEmitRequest in a
// batch), a Go caller's raw Draft.Detail, and MergeDetail.
func TestNumberVectors(t *testing.T) {
	var f struct {
		NowUnixNs string `json:"now_unix_ns"`
		Cases     []struct {
			Literal, Request string
			Exact            bool
			Detail           *string
			Error            string
		}
	}
	readVectors(t, "numbers.json", &f)
	if len(f.Cases) == 0 {
		t.Fatal("no cases")
	}
	now := vectorNow(t, f.NowUnixNs)
	seen := map[bool]int{}
	for _, c := range f.Cases {
		seen[c.Exact]++
		check := func(how string, detail []byte, err error) {
			t.Helper()
			if c.Exact {
				if err != nil || c.Detail == nil || string(detail) != *c.Detail {
					t.Errorf("%s via %s: %s, %v; want %v", c.Literal, how, detail, err, c.Detail)
				}
				return
			}
			if got := string(auditerr.CodeOf(err)); got != c.Error || c.Error != "inexact_number" {
				t.Errorf("%s via %s: %s, %v; want code %s", c.Literal, how, detail, err, c.Error)
			}
		}
		e, err := buildVector(t, c.Request, f.NowUnixNs, "")
		check("ParseDraft+Build and BuildJSON", e.Detail, err)

		drafts, _, err := ParseEmitRequest([]byte(`{"events":[`+c.Request+`]}`), Limits{})
		var detail []byte
		if err == nil {
			detail = drafts[0].Detail
		} else if be := (*auditerr.BatchError)(nil); errors.As(err, &be) {
			err = be.Items[0]
		}
		check("ParseEmitRequest", detail, err)

		var b Builder
		e, err = b.Build(&Draft{ID: "0196a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b", Type: "fact_write", EntityURI: "urn:a",
			Detail: []byte(`{"n":` + c.Literal + `}`)}, now, nil)
		check("Build with a raw detail", e.Detail, err)

		merged, err := MergeDetail(FactRef{}, []byte(`{"n":`+c.Literal+`}`))
		if err == nil {
			// The fact keys come first in canonical order; n is last.
			merged = append([]byte("{"), merged[len(`{"fact_entity":null,"fact_interpret_as":null,"fact_relation":null,`):]...)
		}
		check("MergeDetail", merged, err)
	}
	if seen[true] == 0 || seen[false] == 0 {
		t.Fatalf("numbers.json should hold both exact and inexact literals: %v", seen)
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
