package exportapi_test

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/csv"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stigaudit/stigaudit/core/event"
	"github.com/stigaudit/stigaudit/core/merkle"
	"github.com/stigaudit/stigaudit/server/export"
	"github.com/stigaudit/stigaudit/server/exportapi"
)

// detailOf decodes an event's detail.
func detailOf(t testing.TB, e *event.Event) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(e.Detail, &m); err != nil {
		t.Fatalf("detail of seq %d: %v", e.Seq, err)
	}
	return m
}

// readCSV reads a CSV export with encoding/csv.
func readCSV(t testing.TB, body io.Reader) [][]string {
	t.Helper()
	recs, err := csv.NewReader(body).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) == 0 || strings.Join(recs[0], ",") != strings.Join(export.CSVColumns[:], ",") {
		t.Fatalf("missing or wrong header: %v", recs)
	}
	return recs[1:]
}

func TestExportCSV(t *testing.T) {
	n := newNode(t, nodeOpts{fill: 3000})
	key := n.key(t, "acme", "urn:auditor", "audit.read")
	resp := n.do(t, "GET", "/v1/audit/export?format=csv", key, nil)
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("status %d: %s", resp.StatusCode, b)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/csv") {
		t.Fatalf("content type %q", ct)
	}
	if cd := resp.Header.Get("Content-Disposition"); cd != `attachment; filename="stigaudit_acme_seq0-seq2999.csv"` {
		t.Fatalf("content disposition %q", cd)
	}
	recs := readCSV(t, resp.Body)
	resp.Body.Close()
	if resp.Trailer.Get(exportapi.TrailerComplete) != "true" || resp.Trailer.Get(exportapi.TrailerEvents) != "1500" {
		t.Fatalf("trailers %v", resp.Trailer)
	}
	if len(recs) != 1500 {
		t.Fatalf("%d records, want acme's 1500", len(recs))
	}
	guarded := 0
	for i, rec := range recs {
		want := fillEvent(2*i, []string{"acme", "globex"})
		if rec[0] != strconv.FormatInt(want.Seq, 10) || rec[3] != "acme" || rec[15] != merkle.Hex(want.LeafHash) {
			t.Fatalf("record %d = %v, want seq %d of acme", i, rec, want.Seq)
		}
		if strings.HasPrefix(want.Source, "=") {
			guarded++
			if rec[10] != "'"+want.Source {
				t.Fatalf("record %d source %q is not neutralised", i, rec[10])
			}
		} else if rec[10] != want.Source {
			t.Fatalf("record %d source %q, want %q", i, rec[10], want.Source)
		}
		if string(want.Detail) != rec[14] {
			t.Fatalf("record %d detail %q, want %q", i, rec[14], want.Detail)
		}
	}
	if guarded == 0 {
		t.Fatal("no formula cell was exported")
	}

	// The export is recorded: a start before the data, an end with the count.
	evs := n.exportEvents(t)
	if len(evs) != 2 {
		t.Fatalf("%d audit_export events, want start and end", len(evs))
	}
	start, end := detailOf(t, &evs[0]), detailOf(t, &evs[1])
	if evs[0].ID != resp.Header.Get(exportapi.HeaderExportID) || start["phase"] != "start" || start["format"] != "csv" ||
		start["checkpoint_size"] != 3000.0 || evs[0].Tenant != "acme" || evs[0].EntityURI != "urn:auditor" {
		t.Fatalf("start event %+v %v", evs[0], start)
	}
	if end["phase"] != "end" || end["start_id"] != evs[0].ID || end["events"] != 1500.0 || end["complete"] != true || evs[1].Outcome != "success" {
		t.Fatalf("end event %v", end)
	}
}

func TestExportNDJSON(t *testing.T) {
	n := newNode(t, nodeOpts{fill: 2000})
	for _, tc := range []struct {
		name, key, query string
		events           int
		filtered         bool
	}{
		{"tenant", n.key(t, "globex", "urn:auditor", "audit.read"), "&until=" + fillEnd, 1000, true},
		{"admin, every tenant", n.key(t, "acme", "urn:root", "admin"), "", -1, false},
		{"admin names a tenant", n.key(t, "acme", "urn:root", "admin"), "&until=" + fillEnd + "&tenant_id=globex", 1000, true},
		{"filtered", n.key(t, "globex", "urn:auditor", "audit.read"), "&until=" + fillEnd + "&outcome=denied", 200, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp := n.do(t, "GET", "/v1/audit/export?format=ndjson"+tc.query, tc.key, nil)
			if resp.StatusCode != http.StatusOK {
				b, _ := io.ReadAll(resp.Body)
				t.Fatalf("status %d: %s", resp.StatusCode, b)
			}
			defer resp.Body.Close()
			r := export.NewReader(resp.Body)
			count := 0
			for r.Next() {
				e := r.Event()
				if got := event.LeafHash(event.AppendCanonical(nil, e)); got != e.LeafHash {
					t.Fatalf("seq %d: line does not hash to its leaf", e.Seq)
				}
				if tc.filtered && e.Tenant != "globex" {
					t.Fatalf("seq %d of tenant %s in globex's export", e.Seq, e.Tenant)
				}
				if (r.Proof() != nil) != tc.filtered {
					t.Fatalf("seq %d: proof %v, want filtered=%v", e.Seq, r.Proof() != nil, tc.filtered)
				}
				count++
			}
			if err := r.Err(); err != nil {
				t.Fatal(err)
			}
			if tc.events < 0 && count < 2000 || tc.events >= 0 && count != tc.events {
				t.Fatalf("%d events, want %d", count, tc.events)
			}
			tr := r.Trailer()
			if tr == nil || tr.Filtered != tc.filtered {
				t.Fatalf("trailer %+v", tr)
			}
			cp, _ := base64.StdEncoding.DecodeString(resp.Header.Get(exportapi.HeaderCheckpoint))
			if !bytes.Equal(cp, tr.Checkpoint) {
				t.Fatal("the checkpoint header differs from the checkpoint line")
			}
		})
	}
}

// TestExportRefused: read-only keys get 403, bad requests 400, and each
// refusal is recorded.
func TestExportRefused(t *testing.T) {
	n := newNode(t, nodeOpts{fill: 10})
	reader := n.key(t, "acme", "urn:reader", "read")
	writer := n.key(t, "acme", "urn:writer", "audit.write")
	auditor := n.key(t, "acme", "urn:auditor", "audit.read")
	for _, tc := range []struct {
		name, key, query string
		status           int
		outcome, code    string
	}{
		{"read key", reader, "format=csv", 403, "denied", "forbidden"},
		{"write key", writer, "format=ndjson", 403, "denied", "forbidden"},
		{"no format", auditor, "", 400, "failure", "invalid_parameter"},
		{"bad format", auditor, "format=xml", 400, "failure", "invalid_parameter"},
		{"limit", auditor, "format=csv&limit=10", 400, "failure", "invalid_parameter"},
		{"bad filter", auditor, "format=csv&since=yesterday", 400, "failure", "invalid_parameter"},
		{"unknown parameter", auditor, "format=csv&colour=red", 400, "failure", "invalid_parameter"},
		{"bad cursor", auditor, "format=csv&cursor=xyz", 400, "failure", "invalid_cursor"},
		{"bad after_seq", auditor, "format=csv&after_seq=-3", 400, "failure", "invalid_parameter"},
		{"other tenant", auditor, "format=csv&tenant_id=globex", 403, "denied", "forbidden"},
		{"bad redact", auditor, "format=csv&redact=maybe", 400, "failure", "invalid_parameter"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := len(n.exportEvents(t))
			resp := n.do(t, "GET", "/v1/audit/export?"+tc.query, tc.key, nil)
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tc.status || !bytes.Contains(body, []byte(`"code":"`+tc.code+`"`)) {
				t.Fatalf("status %d %s, want %d %s", resp.StatusCode, body, tc.status, tc.code)
			}
			evs := n.exportEvents(t)
			if len(evs) != before+1 {
				t.Fatalf("%d new audit_export events, want 1", len(evs)-before)
			}
			e := evs[len(evs)-1]
			d := detailOf(t, &e)
			if e.Outcome != tc.outcome || d["phase"] != "refused" || d["error"] != tc.code || d["query"] != tc.query {
				t.Fatalf("recorded %s %v", e.Outcome, d)
			}
		})
	}
	resp := n.do(t, "GET", "/v1/audit/export?format=csv", "", nil)
	resp.Body.Close()
	if resp.StatusCode != 401 {
		t.Fatalf("no key: status %d", resp.StatusCode)
	}
}

// TestExportResume interrupts an export and resumes it with after_seq, then
// continues a whole export with its cursor: the parts together hold exactly
// the records of an uninterrupted export.
func TestExportResume(t *testing.T) {
	n := newNode(t, nodeOpts{fill: 20000})
	key := n.key(t, "acme", "urn:auditor", "audit.read")
	for _, format := range []string{"csv", "ndjson"} {
		t.Run(format, func(t *testing.T) {
			path := "/v1/audit/export?format=" + format + "&until=" + url.QueryEscape(fillEnd)
			whole := seqsOf(t, format, n.do(t, "GET", path, key, nil).Body, -1)

			resp := n.do(t, "GET", path, key, nil)
			part := seqsOf(t, format, resp.Body, 3333) // then hang up
			resp.Body.Close()
			last := part[len(part)-1]
			rest := seqsOf(t, format, n.do(t, "GET", path+"&after_seq="+strconv.FormatInt(last, 10), key, nil).Body, -1)
			got := append(part, rest...)
			if !equalSeqs(got, whole) {
				t.Fatalf("interrupted + resumed: %d records, whole: %d", len(got), len(whole))
			}
		})
	}
	t.Run("cursor", func(t *testing.T) {
		path := "/v1/audit/export?format=csv&event_type=fact_write"
		resp := n.do(t, "GET", path, key, nil)
		first := seqsOf(t, "csv", resp.Body, -1)
		cursor := resp.Header.Get(exportapi.HeaderNextCursor)
		// New events arrive; the cursor exports exactly them.
		for i := range 5 {
			if _, err := n.log.Emit(ctx, event.Draft{Type: "fact_write", Tenant: "acme", EntityURI: "urn:x", FactID: "f" + strconv.Itoa(i)}); err != nil {
				t.Fatal(err)
			}
		}
		next := seqsOf(t, "csv", n.do(t, "GET", path+"&cursor="+cursor, key, nil).Body, -1)
		if len(first) != 10000 || len(next) != 5 || next[0] <= first[len(first)-1] {
			t.Fatalf("first %d, then %d from %v", len(first), len(next), next)
		}
		// The cursor is bound to its filters.
		resp = n.do(t, "GET", "/v1/audit/export?format=csv&cursor="+cursor, key, nil)
		resp.Body.Close()
		if resp.StatusCode != 400 {
			t.Fatalf("cursor with other filters: status %d", resp.StatusCode)
		}
	})
}

// seqsOf reads an export's seqs, stopping after max records (-1: all).
func seqsOf(t testing.TB, format string, body io.ReadCloser, max int) []int64 {
	t.Helper()
	defer body.Close()
	var seqs []int64
	if format == "csv" {
		r := csv.NewReader(bufio.NewReader(body))
		if _, err := r.Read(); err != nil {
			t.Fatal(err)
		}
		for max < 0 || len(seqs) < max {
			rec, err := r.Read()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			s, _ := strconv.ParseInt(rec[0], 10, 64)
			seqs = append(seqs, s)
		}
		return seqs
	}
	r := export.NewReader(body)
	for (max < 0 || len(seqs) < max) && r.Next() {
		seqs = append(seqs, r.Event().Seq)
	}
	if max < 0 && (r.Err() != nil || r.Trailer() == nil) {
		t.Fatalf("ndjson: %v, trailer %v", r.Err(), r.Trailer())
	}
	return seqs
}

func equalSeqs(a, b []int64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestExportRecordedFirst: the start of an export is stored before its
// first byte reaches the client, and an export the client abandons is
// recorded as a failure with the count it reached.
func TestExportRecordedFirst(t *testing.T) {
	n := newNode(t, nodeOpts{fill: 40000})
	key := n.key(t, "acme", "urn:auditor", "audit.read")
	resp := n.do(t, "GET", "/v1/audit/export?format=ndjson", key, nil)
	// Headers are here, the body not read yet: the start is stored.
	evs := n.exportEvents(t)
	if len(evs) != 1 || evs[0].ID != resp.Header.Get(exportapi.HeaderExportID) || detailOf(t, &evs[0])["phase"] != "start" {
		t.Fatalf("before the first byte: %d audit_export events", len(evs))
	}
	buf := make([]byte, 1000)
	if _, err := io.ReadFull(resp.Body, buf); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close() // hang up mid-export
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		evs = n.exportEvents(t)
		if len(evs) == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the abandoned export was never recorded as ended")
		}
	}
	end := detailOf(t, &evs[1])
	if evs[1].Outcome != "failure" || end["complete"] != false || end["start_id"] != evs[0].ID || end["events"].(float64) >= 20000 {
		t.Fatalf("end of an abandoned export: %s %v", evs[1].Outcome, end)
	}
}

// TestExportOCSF: format=ocsf streams one OCSF record per event (its id,
// seq, leaf hash and tenant kept, its inclusion proof in unmapped for a
// tenant's selection), then the checkpoint line of the NDJSON format.
func TestExportOCSF(t *testing.T) {
	n := newNode(t, nodeOpts{fill: 300})
	key := n.key(t, "acme", "urn:auditor", "audit.read")
	resp := n.do(t, "GET", "/v1/audit/export?format=ocsf", key, nil)
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("status %d: %s", resp.StatusCode, b)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/x-ndjson" {
		t.Fatalf("content type %q", ct)
	}
	if cd := resp.Header.Get("Content-Disposition"); cd != `attachment; filename="stigaudit_acme_seq0-seq299.ocsf.ndjson"` {
		t.Fatalf("content disposition %q", cd)
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(nil, export.MaxLineBytes)
	var records int
	var last map[string]any
	for sc.Scan() {
		var rec struct {
			ClassUID int `json:"class_uid"`
			Metadata struct {
				UID     string `json:"uid"`
				LogName string `json:"log_name"`
			} `json:"metadata"`
			Unmapped struct {
				Seq      int64           `json:"seq"`
				LeafHash string          `json:"leaf_hash"`
				TenantID string          `json:"tenant_id"`
				Proof    json.RawMessage `json:"proof"`
			} `json:"unmapped"`
		}
		if err := json.Unmarshal(sc.Bytes(), &last); err != nil {
			t.Fatalf("line %d: %v", records+1, err)
		}
		if _, ok := last["checkpoint"]; ok {
			continue
		}
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
			t.Fatal(err)
		}
		want := fillEvent(2*records, []string{"acme", "globex"})
		if rec.ClassUID == 0 || rec.Metadata.UID != want.ID || rec.Unmapped.Seq != want.Seq ||
			rec.Unmapped.LeafHash != merkle.Hex(want.LeafHash) || rec.Unmapped.TenantID != "acme" ||
			rec.Metadata.LogName == "" || rec.Unmapped.Proof == nil {
			t.Fatalf("record %d does not trace back to seq %d: %s", records, want.Seq, sc.Bytes())
		}
		records++
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if records != 150 || last["checkpoint"] == nil || last["filtered"] != true {
		t.Fatalf("%d records (want acme's 150), last line %v (want the filtered checkpoint)", records, last)
	}
	if resp.Trailer.Get(exportapi.TrailerComplete) != "true" {
		t.Fatalf("trailers %v", resp.Trailer)
	}
}

// TestExportOCSFRedacted: redact=hmac applies before the OCSF mapping, so
// the actor's entity_uri and OIDC subject arrive as hmac-sha256 values.
func TestExportOCSFRedacted(t *testing.T) {
	n := newNode(t, nodeOpts{fill: 40})
	key := n.key(t, "acme", "urn:auditor", "audit.read")
	resp := n.do(t, "GET", "/v1/audit/export?format=ocsf&redact=hmac", key, nil)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d, %v: %s", resp.StatusCode, err, body)
	}
	if bytes.Contains(body, []byte("urn:person:")) || bytes.Contains(body, []byte("@example.com")) {
		t.Fatalf("a redacted OCSF export holds a clear principal:\n%s", body)
	}
	if got := bytes.Count(body, []byte(`"actor":{"user":{"uid":"hmac-sha256:`)); got != 20 {
		t.Fatalf("%d redacted actors, want acme's 20", got)
	}
}
