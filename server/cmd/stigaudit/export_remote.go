package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"time"

	"github.com/stigaudit/stigaudit/core/event"
	"github.com/stigaudit/stigaudit/core/jcs"
	"github.com/stigaudit/stigaudit/core/merkle"
	"github.com/stigaudit/stigaudit/server/export"
	"github.com/stigaudit/stigaudit/server/exportapi"
	"github.com/stigaudit/stigaudit/server/redact"
)

// The CSV and remote parts of `stigaudit export`:
//
//	stigaudit export --format csv|ndjson|ocsf --server URL [--ca-file PEM] [--client-cert PEM --client-key PEM] [--redact] [filters] [--from SEQ]   (key from --api-key or STIGAUDIT_KEY)
//	stigaudit export --format csv [--data-dir D] [--redact] [filters]
//
// With --server the export runs on the server (GET /v1/audit/export, which
// records it as audit_export events) and is copied to standard output as
// it arrives. If the connection breaks, what was written ends with the
// last whole record, and the command fails naming the --from that
// continues it. On a terminal, standard error shows progress; otherwise
// it prints one summary line.

// exportFlagParams maps export's filter flags to the read parameters.
var exportFlagParams = map[string]string{
	"tenant": "tenant_id", "event-type": "event_type", "entity-uri": "entity_uri", "oidc-sub": "oidc_sub",
	"source": "source", "fact-id": "fact_id", "attested": "attested", "outcome": "outcome", "scope": "scope",
	"since": "since", "until": "until",
}

// exportRemote runs an export on a server.
func exportRemote(ctx context.Context, fs *flag.FlagSet, server, format string, redactOut bool, stdout, stderr io.Writer) error {
	key := fs.Lookup("api-key").Value.String()
	if key == "" {
		return fmt.Errorf("%w: --server needs --api-key or STIGAUDIT_KEY", errUsage)
	}
	base, err := url.Parse(server)
	if err != nil || base.Scheme != "http" && base.Scheme != "https" || base.Host == "" {
		return fmt.Errorf("%w: --server must be an http(s) URL such as http://127.0.0.1:8470", errUsage)
	}
	vals := url.Values{"format": {format}}
	if redactOut {
		vals.Set(redact.Param, redact.ModeHMAC)
	}
	var ferr error
	fs.Visit(func(f *flag.Flag) {
		switch {
		case f.Name == "event-type":
			vals["event_type"] = []string(*f.Value.(*multiFlag))
		case exportFlagParams[f.Name] != "":
			vals.Set(exportFlagParams[f.Name], f.Value.String())
		case f.Name == "from":
			n, err := strconv.ParseInt(f.Value.String(), 10, 64)
			if err != nil || n < 0 {
				ferr = fmt.Errorf("%w: --from must not be negative", errUsage)
			} else if n > 0 {
				vals.Set("after_seq", strconv.FormatInt(n-1, 10))
			}
		case f.Name == "no-sign" || f.Name == "data-dir" || f.Name == "database-url":
			ferr = fmt.Errorf("%w: --%s is for local exports; the server signs its own checkpoint", errUsage, f.Name)
		}
	})
	if ferr != nil {
		return ferr
	}
	u := base.JoinPath("/v1/audit/export")
	u.RawQuery = vals.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+key)
	tlsConf, err := clientTLS(fs)
	if err != nil {
		return err
	}
	client := http.DefaultClient
	if tlsConf != nil {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.TLSClientConfig = tlsConf
		client = &http.Client{Transport: tr}
	}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("export from %s: %w", base.Host, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return remoteError(resp)
	}
	size, _ := strconv.ParseUint(resp.Header.Get(exportapi.HeaderCheckpointSize), 10, 64)
	tr := newRecordTracker(stdout, format)
	prog := newProgress(stderr, size)
	_, copyErr := io.Copy(io.MultiWriter(tr, progressWriter{prog, tr}), resp.Body)
	prog.done(tr)
	complete := copyErr == nil && resp.Trailer.Get(exportapi.TrailerComplete) == "true"
	if complete {
		copyErr = tr.flush()
		complete = copyErr == nil
	}
	if !complete {
		cause := copyErr
		if cause == nil {
			cause = errors.New("the server ended the export early")
		}
		if tr.records == 0 {
			return fmt.Errorf("export interrupted before the first record (%v); run it again", cause)
		}
		return fmt.Errorf("export interrupted after seq %d (%d whole records written: %v); continue with --from %d",
			tr.lastSeq, tr.records, cause, tr.lastSeq+1)
	}
	fmt.Fprintf(stderr, "exported %d events (export %s) covered by a checkpoint of size %d\n",
		tr.records, resp.Header.Get(exportapi.HeaderExportID), size)
	return nil
}

// remoteError turns an error answer into an error.
func remoteError(resp *http.Response) error {
	var body struct {
		Error struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if json.Unmarshal(b, &body) == nil && body.Error.Code != "" {
		return fmt.Errorf("the server refused the export: %d %s: %s", resp.StatusCode, body.Error.Code, body.Error.Message)
	}
	return fmt.Errorf("the server refused the export: %s", resp.Status)
}

// recordTracker passes an export stream on to w one whole record at a
// time, holding back an incomplete one, and counts the records and the
// seq of the last. For CSV it follows RFC 4180 quoting (a line break inside
// quotes does not end a record) and reads the seq from a record's first
// cell; for NDJSON it reads each line's top-level "seq" member, for OCSF
// the "seq" member of its "unmapped" object. So when
// the stream breaks, w holds exactly the whole records received.
type recordTracker struct {
	w       io.Writer
	csv     bool
	ocsf    bool // the seq is unmapped.seq
	header  bool // CSV: the header row is still to come
	inQuote bool
	cell0   bool   // CSV: still in the record's first cell
	seqBuf  []byte // CSV: the first cell
	pending []byte // the incomplete record
	records int64
	lastSeq int64
}

func newRecordTracker(w io.Writer, format string) *recordTracker {
	return &recordTracker{w: w, csv: format == "csv", ocsf: format == "ocsf", header: true, cell0: true, lastSeq: -1}
}

func (t *recordTracker) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		end := t.scan(p) // p[:end] completes a record, or end is -1
		if end < 0 {
			t.pending = append(t.pending, p...)
			return n, nil
		}
		var err error
		if len(t.pending) > 0 {
			t.pending = append(t.pending, p[:end]...)
			_, err = t.w.Write(t.pending)
			t.pending = t.pending[:0]
		} else {
			_, err = t.w.Write(p[:end])
		}
		if err != nil {
			return n - len(p), err
		}
		p = p[end:]
	}
	return n, nil
}

// scan follows p until the end of a record and returns the length of p
// up to and including its line break, or -1 when p ends inside a record.
func (t *recordTracker) scan(p []byte) int {
	if !t.csv {
		i := indexByte(p, '\n')
		if i < 0 {
			return -1
		}
		t.endLine(append(t.pending, p[:i]...))
		return i + 1
	}
	for i, c := range p {
		switch {
		case c == '"':
			t.inQuote = !t.inQuote
		case t.inQuote:
		case c == ',':
			t.cell0 = false
		case c == '\n':
			t.endCSV()
			return i + 1
		case t.cell0 && c != '\r':
			t.seqBuf = append(t.seqBuf, c)
		}
	}
	return -1
}

// flush writes what is held back (a last record without a line break).
func (t *recordTracker) flush() error {
	if len(t.pending) == 0 {
		return nil
	}
	_, err := t.w.Write(t.pending)
	t.pending = t.pending[:0]
	return err
}

func indexByte(p []byte, c byte) int {
	for i, b := range p {
		if b == c {
			return i
		}
	}
	return -1
}

func (t *recordTracker) endCSV() {
	if t.header {
		t.header = false
	} else if seq, err := strconv.ParseInt(string(t.seqBuf), 10, 64); err == nil {
		t.records++
		t.lastSeq = seq
	}
	t.seqBuf, t.cell0 = t.seqBuf[:0], true
}

func (t *recordTracker) endLine(line []byte) {
	if t.ocsf {
		it := jcs.Members(line)
		for it.Next() {
			if m := it.Member(); m.NameIs("unmapped") {
				line = m.Value
				break
			}
		}
	}
	it := jcs.Members(line)
	for it.Next() {
		if m := it.Member(); m.NameIs("seq") {
			if seq, err := strconv.ParseInt(string(m.Value), 10, 64); err == nil {
				t.records++
				t.lastSeq = seq
			}
			break
		}
	}
}

// progress shows an export's progress on a terminal: how far through the
// log's seqs it is (an export is in seq order), the records written and
// the rate. It is silent when the writer is not a terminal.
type progress struct {
	w     io.Writer
	on    bool
	size  uint64
	start time.Time
	last  time.Time
}

func newProgress(w io.Writer, size uint64) *progress {
	return &progress{w: w, on: isTerminal(w), size: size, start: time.Now()}
}

// isTerminal reports whether w is a character device (a TTY).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

func (p *progress) show(records, lastSeq int64, final bool) {
	if !p.on {
		return
	}
	now := time.Now()
	if !final && now.Sub(p.last) < 250*time.Millisecond {
		return
	}
	p.last = now
	pct := 100.0
	if p.size > 0 && !final {
		pct = 100 * float64(lastSeq+1) / float64(p.size)
	}
	rate := float64(records) / max(now.Sub(p.start).Seconds(), 1e-3)
	fmt.Fprintf(p.w, "\rstigaudit export: %5.1f%%  seq %d of %d  %d events  %.0f events/s ", pct, max(lastSeq, 0), p.size, records, rate)
	if final {
		fmt.Fprintln(p.w)
	}
}

func (p *progress) done(t *recordTracker) { p.show(t.records, t.lastSeq, true) }

// progressWriter updates the progress after each chunk the tracker saw.
type progressWriter struct {
	p *progress
	t *recordTracker
}

func (w progressWriter) Write(b []byte) (int, error) {
	w.p.show(w.t.records, w.t.lastSeq, false)
	return len(b), nil
}

// localFormat returns the Format of a local export (--data-dir): CSV,
// NDJSON or OCSF (for the log called origin), redacted with the data directory's salt and the fields of
// STIGAUDIT_REDACT_FIELDS when asked, with progress on a terminal. For
// CSV it replaces opts.Prover: CSV carries no proofs.
func localFormat(format, origin, dataDir string, redactOut bool, opts *export.Options, stdout, stderr io.Writer) (export.Format, error) {
	var f export.Format
	switch format {
	case "csv":
		f = export.NewCSV(stdout)
		opts.Prover = exportapi.NoProofs
	case "ocsf":
		f = export.NewOCSF(stdout, origin)
	default:
		f = export.NewNDJSON(stdout)
	}
	if redactOut {
		h, err := redact.LoadSalt(dataDir)
		if err != nil {
			return nil, fmt.Errorf("--redact: %w (start the server once to create it)", err)
		}
		prof, err := redact.ParseProfile(env("STIGAUDIT_REDACT_FIELDS", redact.DefaultFields))
		if err != nil {
			return nil, fmt.Errorf("STIGAUDIT_REDACT_FIELDS: %w", err)
		}
		f = exportapi.Redacting(f, h.NewRedactor(prof))
	}
	if p := newProgress(stderr, opts.Size); p.on {
		f = &progressFormat{Format: f, p: p}
	}
	return f, nil
}

// progressFormat shows progress as a local export writes events.
type progressFormat struct {
	export.Format
	p       *progress
	records int64
	last    int64
}

func (f *progressFormat) Event(e *event.Event, proof *merkle.InclusionProof) error {
	f.records++
	f.last = e.Seq
	f.p.show(f.records, f.last, false)
	return f.Format.Event(e, proof)
}

func (f *progressFormat) End(t export.Trailer) error {
	f.p.show(f.records, f.last, true)
	return f.Format.End(t)
}
