package ocsf_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/stigaudit/stigaudit/core/catalog"
	"github.com/stigaudit/stigaudit/core/event"
	"github.com/stigaudit/stigaudit/hostfns/memstore"
	"github.com/stigaudit/stigaudit/hostfns/storetest"
	"github.com/stigaudit/stigaudit/server/export"
	"github.com/stigaudit/stigaudit/server/ocsf"
)

// logOf returns n events cycling through every catalogue type, in the
// shapes storetest makes (every outcome, optional fields set and unset,
// detail), each type's required detail filled. (A store refuses purged
// events on append; TestRecordsAgainstSchema covers their records.)
func logOf(t testing.TB, n int) []event.Event {
	types := catalog.Default().Types()
	evs := storetest.NewEvents(0, n)
	for i := range evs {
		e := &evs[i]
		ty := types[i%len(types)]
		e.Type = ty.Name()
		e.Detail = detailFor(ty)
		e.LeafHash = event.LeafHash(event.AppendCanonical(nil, e))
	}
	return evs
}

// exportOCSF writes evs as an OCSF export and returns its lines.
func exportOCSF(t testing.TB, evs []event.Event) [][]byte {
	t.Helper()
	ctx := context.Background()
	s := memstore.New()
	if _, err := s.Append(ctx, evs); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	st, err := export.Write(ctx, s, export.NewOCSF(&buf, origin), export.Options{Checkpoint: []byte("cp"), Size: uint64(len(evs))})
	if err != nil {
		t.Fatal(err)
	}
	if st.Events != int64(len(evs)) {
		t.Fatalf("exported %d events, want %d", st.Events, len(evs))
	}
	var lines [][]byte
	sc := bufio.NewScanner(&buf)
	sc.Buffer(nil, export.MaxLineBytes)
	for sc.Scan() {
		lines = append(lines, bytes.Clone(sc.Bytes()))
	}
	return lines
}

// TestExportValidatesAgainstJSONSchema exports 10,000 events as OCSF and
// validates every record against a JSON Schema generated from the OCSF
// classes the table uses; the last line is the NDJSON export's checkpoint
// line.
func TestExportValidatesAgainstJSONSchema(t *testing.T) {
	s := loadSchema(t)
	var uids []int
	for _, m := range append(ocsf.Table, ocsf.Default) {
		if !containsInt(uids, m.ClassUID) {
			uids = append(uids, m.ClassUID)
		}
	}
	doc, err := json.Marshal(s.jsonSchema(t, uids))
	if err != nil {
		t.Fatal(err)
	}
	parsed, err := jsonschema.UnmarshalJSON(bytes.NewReader(doc))
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource("urn:stigaudit:ocsf-records", parsed); err != nil {
		t.Fatal(err)
	}
	sch, err := c.Compile("urn:stigaudit:ocsf-records")
	if err != nil {
		t.Fatalf("compiling the generated schema: %v", err)
	}

	const n = 10_000
	lines := exportOCSF(t, logOf(t, n))
	if len(lines) != n+1 {
		t.Fatalf("%d lines, want %d records and the checkpoint line", len(lines), n)
	}
	if got, want := string(lines[n]), `{"checkpoint":"cp"}`; got != want {
		t.Fatalf("last line %s, want %s", got, want)
	}
	for i, line := range lines[:n] {
		v, err := jsonschema.UnmarshalJSON(bytes.NewReader(line))
		if err != nil {
			t.Fatalf("line %d: %v", i+1, err)
		}
		if err := sch.Validate(v); err != nil {
			t.Fatalf("line %d does not validate: %v\n%s", i+1, err, line)
		}
	}

	// The schema is not vacuous: records broken as a mapping bug would
	// break them fail it.
	var read []byte // a fact_read record
	for _, line := range lines {
		if bytes.Contains(line, []byte(`"event_type":"fact_read"`)) {
			read = line
			break
		}
	}
	for _, tc := range []struct{ name, from, to string }{
		{"unknown activity", `"activity_id":2,`, `"activity_id":7,`},
		{"wrong category", `"category_uid":6,`, `"category_uid":3,`},
		{"time as a string", `"time":`, `"time":"x","t0":`},
		{"no metadata.version", `"metadata":{"version":"1.9.0-dev",`, `"metadata":{`},
		{"no api", `"api":{`, `"x_api":{`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bad := bytes.Replace(read, []byte(tc.from), []byte(tc.to), 1)
			if bytes.Equal(bad, read) {
				t.Fatalf("no %s in %s", tc.from, read)
			}
			v, err := jsonschema.UnmarshalJSON(bytes.NewReader(bad))
			if err != nil {
				t.Fatal(err)
			}
			if sch.Validate(v) == nil {
				t.Fatalf("validates: %s", bad)
			}
		})
	}
}

func containsInt(s []int, v int) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}
