package export_test

import (
	"bytes"
	"encoding/csv"
	"io"
	"strconv"
	"strings"
	"testing"

	"github.com/stigaudit/stigaudit/core/merkle"
	"github.com/stigaudit/stigaudit/hostfns/memstore"
	"github.com/stigaudit/stigaudit/server/export"
)

// unguard undoes the formula guard the way a program reading the CSV
// export back does.
func unguard(cell string) string {
	if len(cell) >= 2 && cell[0] == '\'' && strings.ContainsRune("=+-@\t\r", rune(cell[1])) {
		return cell[1:]
	}
	return cell
}

func TestCSVField(t *testing.T) {
	for _, tc := range []struct {
		name, in, want string
	}{
		{"empty", "", ""},
		{"plain", "urn:alice", "urn:alice"},
		{"equals", "=1+2", "'=1+2"},
		{"plus", "+1", "'+1"},
		{"minus", "-1", "'-1"},
		{"at", "@SUM(A1)", "'@SUM(A1)"},
		{"tab", "\tx", "'\tx"},
		{"cr", "\rx", "\"'\rx\""},
		{"guard and quote", `=HYPERLINK("http://x","y")`, `"'=HYPERLINK(""http://x"",""y"")"`},
		{"inner equals is fine", "a=b", "a=b"},
		{"comma", "a,b", `"a,b"`},
		{"quote", `say "hi"`, `"say ""hi"""`},
		{"newline", "a\nb", "\"a\nb\""},
		{"crlf", "a\r\nb", "\"a\r\nb\""},
		{"leading space", " x", `" x"`},
		{"unicode", "héllo, wörld", `"héllo, wörld"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := string(export.AppendCSVField(nil, tc.in)); got != tc.want {
				t.Fatalf("AppendCSVField(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

// TestCSVRoundTrip writes events whose cells hold every awkward character
// and reads them back with encoding/csv.
func TestCSVRoundTrip(t *testing.T) {
	awkward := []string{
		"=cmd|' /C calc'!A0", "+SUM(1)", "-2+3", "@import", "\tlead tab", "\rlead cr",
		`quote " inside`, "comma, inside", "line\nbreak", "crlf\r\nbreak", " lead space",
		`"`, `""`, ",", "\n", "日本語", "trailing space ",
	}
	evs := testEvents(0, len(awkward))
	for i, v := range awkward {
		e := &evs[i]
		e.Seq = int64(i)
		e.EntityURI = v
		e.Source = v
		e.OIDCSub = v
		e.Scope = v
		e.FactID = v
		e.Detail = []byte(`{"note":` + strconv.Quote(v) + `,"x":"a,b"}`)
	}
	var buf bytes.Buffer
	f := export.NewCSV(&buf)
	if err := f.Begin(); err != nil {
		t.Fatal(err)
	}
	for i := range evs {
		if err := f.Event(&evs[i], nil); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.End(export.Trailer{Checkpoint: []byte("ignored")}); err != nil {
		t.Fatal(err)
	}
	r := csv.NewReader(&buf)
	header, err := r.Read()
	if err != nil {
		t.Fatal(err)
	}
	if got, want := strings.Join(header, ","), "seq,id,ts,tenant_id,event_type,outcome,entity_uri,emitter,oidc_sub,fact_id,source,attested_key_id,scope,hlc,detail,leaf_hash"; got != want {
		t.Fatalf("header %q, want %q", got, want)
	}
	for i := range evs {
		rec, err := r.Read()
		if err != nil {
			t.Fatalf("record %d: %v", i, err)
		}
		e := &evs[i]
		for col, want := range map[int]string{
			0: strconv.FormatInt(e.Seq, 10), 1: e.ID, 2: e.TS, 3: e.Tenant, 4: e.Type, 5: e.Outcome,
			6: e.EntityURI, 7: e.Emitter, 8: e.OIDCSub, 9: e.FactID, 10: e.Source, 11: e.AttestedKeyID,
			12: e.Scope, 13: e.HLC, 14: string(e.Detail), 15: merkle.Hex(e.LeafHash),
		} {
			cell := rec[col]
			if formulaStartString(want) && !strings.HasPrefix(cell, "'") {
				t.Errorf("record %d %s: %q is not neutralised", i, header[col], cell)
			}
			// encoding/csv reads CRLF inside a quoted field as LF (its
			// documented normalisation); the bytes written keep CRLF.
			want = strings.ReplaceAll(want, "\r\n", "\n")
			if got := unguard(cell); got != want {
				t.Errorf("record %d %s = %q, want %q", i, header[col], got, want)
			}
		}
	}
	if _, err := r.Read(); err != io.EOF {
		t.Fatalf("after the last record: %v, want EOF (no trailer row)", err)
	}
}

func formulaStartString(s string) bool {
	return s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0]))
}

// TestCSVWrite runs the CSV format through Write: header, every event in
// seq order, nothing after.
func TestCSVWrite(t *testing.T) {
	s := memstore.New()
	evs := testEvents(0, 2500)
	if _, err := s.Append(ctx, evs); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	st, err := export.Write(ctx, s, export.NewCSV(&buf), export.Options{Checkpoint: []byte("cp"), Size: 2000})
	if err != nil {
		t.Fatal(err)
	}
	if st.Events != 2000 {
		t.Fatalf("wrote %d events, want 2000 (the checkpoint's size)", st.Events)
	}
	recs, err := csv.NewReader(&buf).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 2001 {
		t.Fatalf("%d records, want header + 2000", len(recs))
	}
	for i, rec := range recs[1:] {
		if rec[0] != strconv.Itoa(i) {
			t.Fatalf("record %d has seq %s", i, rec[0])
		}
		if len(rec) != len(export.CSVColumns) {
			t.Fatalf("record %d has %d fields", i, len(rec))
		}
	}
}

func BenchmarkCSVRecord(b *testing.B) {
	evs := testEvents(0, 64)
	var buf []byte
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		buf = export.AppendCSVRecord(buf[:0], &evs[i%len(evs)])
	}
	b.SetBytes(int64(len(buf)))
}
