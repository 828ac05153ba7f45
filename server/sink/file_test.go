package sink

import (
	"bufio"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/stigaudit/stigaudit/core/event"
)

func TestFileLinesParseBack(t *testing.T) {
	path := filepath.Join(t.TempDir(), "events.jsonl")
	ctx := context.Background()
	batches := [][]event.Event{
		{
			{Seq: 0, ID: "0196a5f0-0000-7000-8000-000000000001", Type: "fact_write", TS: "2026-05-03T12:00:00.000001Z",
				Tenant: "acme", EntityURI: "urn:a", FactID: "f-1", Outcome: "success", Detail: []byte(`{"k":"line\nbreak"}`)},
			{Seq: 1, ID: "0196a5f0-0000-7000-8000-000000000002", Type: "auth_failed", TS: "2026-05-03T12:00:00.000002Z",
				Tenant: "acme", EntityURI: "urn:b", Outcome: "denied"},
		},
		{
			{Seq: 2, ID: "0196a5f0-0000-7000-8000-000000000003", Type: "fact_read", TS: "2026-05-03T12:00:00.000003Z",
				Tenant: "default", EntityURI: "urn:c", Outcome: "success"},
		},
	}
	// Two opens: the second appends after the first's lines.
	for _, b := range batches {
		f, err := OpenFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if err := f.Write(ctx, b); err != nil {
			t.Fatal(err)
		}
		if err := f.Close(); err != nil {
			t.Fatal(err)
		}
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("sink file mode = %v, want 0600", st.Mode().Perm())
	}

	fh, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	sc := bufio.NewScanner(fh)
	var got []map[string]any
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("line %d is not a JSON object: %v: %s", len(got)+1, err, sc.Bytes())
		}
		got = append(got, m)
	}
	if len(got) != 3 {
		t.Fatalf("%d lines, want 3", len(got))
	}
	for i, m := range got {
		if m["seq"] != float64(i) {
			t.Errorf("line %d: seq = %v, want %d", i, m["seq"], i)
		}
	}
	if got[0]["fact_id"] != "f-1" || got[0]["tenant_id"] != "acme" || got[0]["event_type"] != "fact_write" {
		t.Errorf("line 0 = %v", got[0])
	}
	if d, ok := got[0]["detail"].(map[string]any); !ok || d["k"] != "line\nbreak" {
		t.Errorf("line 0 detail = %v, want the object with its newline intact", got[0]["detail"])
	}
	if v, ok := got[1]["fact_id"]; ok && v != nil {
		t.Errorf("line 1 fact_id = %v, want absent or null", v)
	}
}

func TestFileWriteAfterClose(t *testing.T) {
	f, err := OpenFile(filepath.Join(t.TempDir(), "e.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	if err := f.Write(context.Background(), []event.Event{{Seq: 0}}); err == nil {
		t.Error("Write after Close succeeded")
	}
}
