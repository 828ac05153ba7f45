package sink

import (
	"bufio"
	"context"
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
	want := append(append([]event.Event(nil), batches[0]...), batches[1]...)
	sc := bufio.NewScanner(fh)
	n := 0
	for ; sc.Scan(); n++ {
		if n >= len(want) {
			t.Fatalf("more lines than events: %s", sc.Bytes())
		}
		got, err := event.ParseEvent(sc.Bytes())
		if err != nil {
			t.Fatalf("line %d does not parse as an event: %v: %s", n+1, err, sc.Bytes())
		}
		if got.Seq != want[n].Seq || !got.SameContent(&want[n]) || got.TS != want[n].TS {
			t.Errorf("line %d reads back as %+v, want %+v", n+1, got, want[n])
		}
	}
	if n != len(want) {
		t.Fatalf("%d lines, want %d", n, len(want))
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

// A crash mid-Write leaves a torn last line: opening the file again cuts it
// off (its events were not delivered and will be written again), so the
// next line does not glue onto it.
func TestFileCutsATornLastLine(t *testing.T) {
	for _, tc := range []struct{ name, before, want string }{
		{"empty", "", ""},
		{"complete", "{\"seq\":0}\n", "{\"seq\":0}\n"},
		{"torn", "{\"seq\":0}\n{\"seq\":1,\"id\":\"01", "{\"seq\":0}\n"},
		{"only torn", "{\"seq\":0,\"i", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "events.jsonl")
			if err := os.WriteFile(path, []byte(tc.before), 0o600); err != nil {
				t.Fatal(err)
			}
			f, err := OpenFile(path)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			got, _ := os.ReadFile(path)
			if string(got) != tc.want {
				t.Errorf("after OpenFile the file holds %q, want %q", got, tc.want)
			}
		})
	}
}
