package sink

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/stigaudit/stigaudit/core/auditerr"
	"github.com/stigaudit/stigaudit/core/event"
	"github.com/stigaudit/stigaudit/core/merkle"
	"github.com/stigaudit/stigaudit/hostfns"
	"github.com/stigaudit/stigaudit/internal/waitfor"
	"github.com/stigaudit/stigaudit/server/ocsf"
	"github.com/stigaudit/stigaudit/server/sink/syslogtest"
)

const testOrigin = "audit.example.org/sink-test"

// ocsfRecord is what the tests read back of an OCSF record.
type ocsfRecord struct {
	ClassUID   int `json:"class_uid"`
	TypeUID    int `json:"type_uid"`
	ActivityID int `json:"activity_id"`
	Metadata   struct {
		UID         string `json:"uid"`
		LogName     string `json:"log_name"`
		LogProvider string `json:"log_provider"`
	} `json:"metadata"`
	Unmapped struct {
		Seq      *int64 `json:"seq"`
		LeafHash string `json:"leaf_hash"`
	} `json:"unmapped"`
}

// parseOCSF reads one record strictly: JSON, a class and type, the log's
// origin, an unmapped.seq.
func parseOCSF(t *testing.T, what string, line []byte) ocsfRecord {
	t.Helper()
	var r ocsfRecord
	if err := json.Unmarshal(line, &r); err != nil {
		t.Fatalf("%s is not JSON: %v\n%s", what, err, line)
	}
	switch {
	case r.ClassUID == 0 || r.TypeUID != r.ClassUID*100+r.ActivityID:
		t.Fatalf("%s: class_uid %d, type_uid %d, activity_id %d\n%s", what, r.ClassUID, r.TypeUID, r.ActivityID, line)
	case r.Metadata.LogName != testOrigin || r.Metadata.LogProvider != ocsf.ProductName:
		t.Fatalf("%s: metadata.log_name %q, log_provider %q\n%s", what, r.Metadata.LogName, r.Metadata.LogProvider, line)
	case r.Unmapped.Seq == nil:
		t.Fatalf("%s: no unmapped.seq\n%s", what, line)
	}
	return r
}

// logEvents reads the whole log back, by seq.
func logEvents(t *testing.T, l *testLog) map[int64]event.Event {
	t.Helper()
	out := map[int64]event.Event{}
	for after := int64(-1); ; {
		page, err := l.Query(context.Background(), hostfns.Query{Order: hostfns.Ascending, After: after, Limit: 1000})
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range page.Events {
			after = e.Seq
			out[e.Seq] = e
		}
		if !page.HasMore {
			return out
		}
	}
}

// A file sink with format=ocsf, through the real Dispatcher, writes one
// OCSF record per line for every event, exactly once: metadata.uid the
// event's id, unmapped.seq and leaf_hash its own. While the log's origin
// is not known yet its Writes wait (nothing is written, the cursor stays),
// and delivery starts as soon as it is.
func TestFileOCSFThroughDispatcher(t *testing.T) {
	const total = 3000
	l := openLog(t)
	path := filepath.Join(t.TempDir(), "siem.ocsf.jsonl")
	known := make(chan struct{})
	origin := func(ctx context.Context) (string, error) {
		select {
		case <-known:
			return testOrigin, nil
		case <-ctx.Done():
			return "", ctx.Err()
		}
	}
	s, err := ParseWith("file:"+path+"?format=ocsf&max_size=256KiB", ParseOptions{Origin: origin})
	if err != nil {
		t.Fatal(err)
	}
	if want := "file:" + path + "?format=ocsf"; s.Name() != want {
		t.Fatalf("Name %q, want %q", s.Name(), want)
	}
	opt := fast(l, newRecorder())
	opt.MaxBatch = 113
	d, err := NewDispatcher(context.Background(), []Sink{s}, opt)
	if err != nil {
		t.Fatal(err)
	}
	l.add(t, d, total/2, 50)
	time.Sleep(100 * time.Millisecond)
	if b, err := os.ReadFile(path); err != nil || len(b) != 0 {
		t.Fatalf("%d bytes written before the origin was known (%v)", len(b), err)
	}
	close(known)
	l.add(t, d, total-total/2, 50)
	waitfor.Until(t, 30*time.Second, "the file sink to deliver every event", func() bool {
		n, _ := d.Lag(s.Name())
		return n == 0
	})
	if err := d.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := l.cursor(t, s); got != total {
		t.Fatalf("cursor %d, want %d", got, total)
	}

	evs := logEvents(t, l)
	rotated, err := s.(*Filtered).Unwrap().(*File).rotated()
	if err != nil {
		t.Fatal(err)
	}
	if len(rotated) == 0 {
		t.Error("no rotation at max_size=256KiB")
	}
	var seqs []int64
	for _, f := range append(rotated, path) {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for i, line := range bytes.SplitAfter(b, []byte("\n")) {
			if len(line) == 0 {
				continue
			}
			if line[len(line)-1] != '\n' {
				t.Fatalf("%s: line %d has no newline", f, i+1)
			}
			r := parseOCSF(t, f+" line "+strconv.Itoa(i+1), line[:len(line)-1])
			e, ok := evs[*r.Unmapped.Seq]
			if !ok || r.Metadata.UID != e.ID || r.Unmapped.LeafHash != merkle.Hex(e.LeafHash) {
				t.Fatalf("%s line %d: metadata.uid %q, leaf %s do not match the event of seq %d (%s)", f, i+1, r.Metadata.UID, r.Unmapped.LeafHash, *r.Unmapped.Seq, e.ID)
			}
			seqs = append(seqs, *r.Unmapped.Seq)
		}
	}
	if dups := checkSeqs(t, "OCSF file", seqs, 0, total); dups != 0 || len(seqs) != total {
		t.Errorf("%d records for %d events (%d duplicates), want each exactly once", len(seqs), total, dups)
	}
}

// Filtered, redacted and OCSF at once: the sink writes exactly the OCSF
// records (ocsf.Encoder.AppendRecord) of the selected events as redact=hmac
// redacts them — redaction comes before the mapping, as in the export —
// and nothing redacted appears in the clear.
func TestFilteredRedactedOCSF(t *testing.T) {
	const total = 3000
	l := openLog(t)
	path := filepath.Join(t.TempDir(), "siem.jsonl")
	pol := testPolicy(t)
	s, err := ParseWith("file:"+path+"?redact=hmac&format=ocsf&outcome=denied&tenant=acme", ParseOptions{Redaction: pol, Origin: KnownOrigin(testOrigin)})
	if err != nil {
		t.Fatal(err)
	}
	if want := "file:" + path + "?format=ocsf&outcome=denied&redact=hmac&tenant=acme"; s.Name() != want {
		t.Fatalf("Name %q, want %q", s.Name(), want)
	}
	opt := fast(l, newRecorder())
	opt.MaxBatch = 97
	d, err := NewDispatcher(context.Background(), []Sink{s}, opt)
	if err != nil {
		t.Fatal(err)
	}
	l.add(t, d, total, 40)
	if err := d.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := l.cursor(t, s); got != total {
		t.Errorf("cursor %d, want %d", got, total)
	}
	red := pol.Hasher().NewRedactor(pol.Profile())
	enc := ocsf.NewEncoder(testOrigin)
	var want bytes.Buffer
	evs := logEvents(t, l)
	for seq := range int64(total) {
		e := evs[seq]
		if e.Tenant != "acme" || e.Outcome != event.OutcomeDenied {
			continue
		}
		if err := red.Apply(&e); err != nil {
			t.Fatal(err)
		}
		want.Write(enc.AppendRecord(nil, &e, nil))
		want.WriteByte('\n')
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if n := bytes.Count(want.Bytes(), []byte("\n")); n < total/10 {
		t.Fatalf("only %d events selected of %d", n, total)
	}
	if !bytes.Equal(got, want.Bytes()) {
		gl, wl := lines(got), lines(want.Bytes())
		t.Fatalf("the sink wrote %d lines, want %d; first difference:\n%s", len(gl), len(wl), firstDiff(gl, wl))
	}
	for i, line := range lines(got) {
		parseOCSF(t, "line "+strconv.Itoa(i+1), []byte(line))
	}
	for _, clear := range []string{"urn:principal:", "sub-"} {
		if bytes.Contains(got, []byte(clear)) {
			t.Errorf("the sink's output holds %q in the clear", clear)
		}
	}
}

// A webhook with format=ocsf posts signed NDJSON bodies of OCSF records.
func TestWebhookOCSF(t *testing.T) {
	// 202: the receiver checks the signature but does not read the body
	// as events, which it is not.
	r := newReceiver(t, func(*receiver) int { return http.StatusAccepted })
	s, err := ParseWith(r.srv.URL+"/in?format=ocsf", ParseOptions{WebhookSecret: string(r.secret), Origin: KnownOrigin(testOrigin)})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	evs := sinkEvents(0, 20)
	if err := s.Write(context.Background(), evs); err != nil {
		t.Fatal(err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.bodies) != 1 {
		t.Fatalf("%d requests, want 1", len(r.bodies))
	}
	ls := lines(r.bodies[0])
	if len(ls) != len(evs) {
		t.Fatalf("%d lines, want %d", len(ls), len(evs))
	}
	for i, line := range ls {
		rec := parseOCSF(t, "line "+strconv.Itoa(i+1), []byte(line))
		if rec.Metadata.UID != evs[i].ID || *rec.Unmapped.Seq != evs[i].Seq {
			t.Fatalf("line %d: metadata.uid %q seq %d, want %q %d", i+1, rec.Metadata.UID, *rec.Unmapped.Seq, evs[i].ID, evs[i].Seq)
		}
	}
}

// A syslog sink with format=ocsf, to a real rsyslogd: every line it wrote
// parses strictly as RFC 5424, its MSG is the OCSF record of the event the
// structured data names (seq, id, leaf), and every seq is there.
func TestSyslogOCSFRsyslog(t *testing.T) {
	d := syslogtest.Start(t, syslogtest.Options{})
	s, err := ParseWith("syslog+tcp://"+d.Addr+"?format=ocsf", ParseOptions{Origin: KnownOrigin(testOrigin)})
	if err != nil {
		t.Fatal(err)
	}
	if want := "syslog+tcp://" + d.Addr + "?format=ocsf"; s.Name() != want {
		t.Fatalf("Name %q, want %q", s.Name(), want)
	}
	l := openLog(t)
	opt := fast(l, newRecorder())
	disp, err := NewDispatcher(context.Background(), []Sink{s}, opt)
	if err != nil {
		t.Fatal(err)
	}
	const total = 1000
	l.add(t, disp, total, 25)
	waitfor.Until(t, 30*time.Second, "the syslog sink to deliver every event", func() bool {
		n, _ := disp.Lag(s.Name())
		return n == 0
	})
	if err := disp.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	d.Stop()
	evs := logEvents(t, l)
	var seqs []int64
	for i, line := range d.Lines(t) {
		what := "line " + strconv.Itoa(i+1)
		m, err := parse5424(line)
		if err != nil {
			t.Fatalf("%s does not parse as RFC 5424: %v\n%s", what, err, line)
		}
		sd, ok := (*m.StructuredData)["stigaudit@32473"]
		if !ok || m.Message == nil {
			t.Fatalf("%s: no stigaudit@32473 structured data or no MSG\n%s", what, line)
		}
		r := parseOCSF(t, what+" MSG", []byte(*m.Message))
		e := evs[*r.Unmapped.Seq]
		if sd["seq"] != strconv.FormatInt(*r.Unmapped.Seq, 10) || sd["id"] != r.Metadata.UID || sd["id"] != e.ID ||
			sd["leaf"] != r.Unmapped.LeafHash || sd["leaf"] != merkle.Hex(e.LeafHash) || *m.MsgID != e.Type {
			t.Fatalf("%s: structured data %v disagrees with the OCSF MSG or the event %s\n%s", what, sd, e.ID, line)
		}
		seqs = append(seqs, *r.Unmapped.Seq)
	}
	dups := checkSeqs(t, "rsyslog output", seqs, 0, total)
	t.Logf("%d events, %d lines written by rsyslogd (%d duplicates)", total, len(seqs), dups)
}

// format=ocsf without the log's origin is refused when the spec is read.
func TestOCSFNeedsOrigin(t *testing.T) {
	p := filepath.Join(t.TempDir(), "a.jsonl")
	_, err := ParseWith("file:"+p+"?format=ocsf", ParseOptions{})
	if !errors.Is(err, ErrOriginNotConfigured) || !errors.Is(err, auditerr.ErrInvalidConfig) {
		t.Fatalf("got %v, want ErrOriginNotConfigured", err)
	}
	if _, err := os.Stat(p); err == nil {
		t.Error("the file was created for a refused spec")
	}
	// An origin that cannot be had fails the Write, and nothing is written.
	s, err := ParseWith("file:"+p+"?format=ocsf", ParseOptions{Origin: KnownOrigin("")})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Write(context.Background(), sinkEvents(0, 3)); err == nil {
		t.Error("Write with an empty origin succeeded")
	}
	if b, _ := os.ReadFile(p); len(b) != 0 {
		t.Errorf("%d bytes written without an origin", len(b))
	}
}
