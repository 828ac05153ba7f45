package sink

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stigaudit/stigaudit/core/auditerr"
	"github.com/stigaudit/stigaudit/core/event"
	"github.com/stigaudit/stigaudit/hostfns"
	"github.com/stigaudit/stigaudit/server/redact"
)

func testPolicy(t testing.TB) *redact.Policy {
	t.Helper()
	h, err := redact.NewHasher(bytes.Repeat([]byte{9}, redact.SaltSize))
	if err != nil {
		t.Fatal(err)
	}
	p, err := redact.ParseProfile(redact.DefaultFields)
	if err != nil {
		t.Fatal(err)
	}
	return redact.NewPolicy(h, p, nil)
}

// A sink with tenant=acme&outcome=denied&redact=hmac gets exactly the
// acme events that were denied, redacted byte for byte as redact.Redactor
// redacts them with the server's profile and salt; its cursor moves past
// the events it leaves out.
func TestFilteredDeliversTheSelectionRedacted(t *testing.T) {
	const total = 6000
	l := openLog(t)
	path := filepath.Join(t.TempDir(), "siem.jsonl")
	pol := testPolicy(t)
	s, err := ParseWith("file:"+path+"?outcome=denied&redact=hmac&tenant=acme&max_size=64KiB", ParseOptions{Redaction: pol})
	if err != nil {
		t.Fatal(err)
	}
	if want := "file:" + path + "?outcome=denied&redact=hmac&tenant=acme"; s.Name() != want {
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
		t.Errorf("cursor %d, want %d: filtered-out events must count as delivered", got, total)
	}

	// What the Redactor makes of the same events, read back from the log.
	red := pol.Hasher().NewRedactor(pol.Profile())
	var want bytes.Buffer
	for after := int64(-1); ; {
		page, err := l.Query(context.Background(), hostfns.Query{Order: hostfns.Ascending, After: after, Limit: 1000})
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range page.Events {
			after = e.Seq
			if e.Tenant != "acme" || e.Outcome != event.OutcomeDenied {
				continue
			}
			if err := red.Apply(&e); err != nil {
				t.Fatal(err)
			}
			want.Write(event.AppendJSON(nil, &e))
			want.WriteByte('\n')
		}
		if !page.HasMore {
			break
		}
	}
	var got bytes.Buffer
	rotated, err := s.(*Filtered).Unwrap().(*File).rotated()
	if err != nil {
		t.Fatal(err)
	}
	if len(rotated) == 0 {
		t.Error("no rotation at max_size=64KiB")
	}
	for _, f := range append(rotated, path) {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		got.Write(b)
	}
	if n := bytes.Count(want.Bytes(), []byte("\n")); n < total/10 {
		t.Fatalf("only %d events selected of %d: the test's events do not exercise the filter", n, total)
	}
	if !bytes.Equal(got.Bytes(), want.Bytes()) {
		gl, wl := lines(got.Bytes()), lines(want.Bytes())
		t.Fatalf("the sink got %d lines, want %d; first difference:\n%s", len(gl), len(wl), firstDiff(gl, wl))
	}
	for _, clear := range []string{"urn:principal:", "sub-"} {
		if bytes.Contains(got.Bytes(), []byte(clear)) {
			t.Errorf("the sink's output holds %q in the clear", clear)
		}
	}
}

func lines(b []byte) []string {
	var out []string
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		out = append(out, sc.Text())
	}
	return out
}

func firstDiff(got, want []string) string {
	for i := range max(len(got), len(want)) {
		var g, w string
		if i < len(got) {
			g = got[i]
		}
		if i < len(want) {
			w = want[i]
		}
		if g != w {
			return "got  " + g + "\nwant " + w
		}
	}
	return ""
}

// A Filtered sink passes nothing on for a batch it selects nothing of.
func TestFilteredSkipsEmptyBatches(t *testing.T) {
	m := &memSink{name: "m"}
	f, err := NewFiltered(m, Filter{Tenants: []string{"nobody"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Write(context.Background(), []event.Event{numbered(0), numbered(1)}); err != nil {
		t.Fatal(err)
	}
	if m.writes != 0 {
		t.Errorf("%d Writes passed on, want none", m.writes)
	}
	if _, err := NewFiltered(m, Filter{Redact: redact.ModeHMAC}, nil); !errors.Is(err, ErrRedactionNotConfigured) || !errors.Is(err, auditerr.ErrInvalidConfig) {
		t.Errorf("redact without a policy: %v, want ErrRedactionNotConfigured", err)
	}
}

func TestSplitFilter(t *testing.T) {
	for _, tc := range []struct {
		spec, inner, filter string
		bad                 bool
	}{
		{spec: "file:/x", inner: "file:/x"},
		{spec: "file:/x?max_size=1MiB", inner: "file:/x?max_size=1MiB"},
		{spec: "file:/x?tenant=acme", inner: "file:/x", filter: "tenant=acme"},
		{spec: "file:/x?max_size=1MiB&tenant=acme&keep=3", inner: "file:/x?max_size=1MiB&keep=3", filter: "tenant=acme"},
		{spec: "nats://h:4222?stream=S&event_type=b&event_type=a,c&prefix=p", inner: "nats://h:4222?stream=S&prefix=p", filter: "event_type=a,b,c"},
		{spec: "https://h/p?token=t&outcome=denied,failure&outcome=denied", inner: "https://h/p?token=t", filter: "outcome=denied,failure"},
		{spec: "file:/x?tenant=b&tenant=a&redact=hmac&outcome=denied", inner: "file:/x", filter: "outcome=denied&redact=hmac&tenant=a,b"},
		{spec: "file:/x?redact=oidc_sub,%20entity_uri", inner: "file:/x", filter: "redact=entity_uri%2Coidc_sub"},
		{spec: "file:/x?tenant=a%20b", inner: "file:/x", filter: "tenant=a+b"},
		{spec: "file:/x?format=ocsf", inner: "file:/x", filter: "format=ocsf"},
		{spec: "file:/x?format=canonical", inner: "file:/x"},
		{spec: "file:/x?max_size=1MiB&format=canonical&keep=2", inner: "file:/x?max_size=1MiB&keep=2"},
		{spec: "syslog+tls://h?ca=/c.pem&tenant=a&format=ocsf&redact=hmac", inner: "syslog+tls://h?ca=/c.pem", filter: "format=ocsf&redact=hmac&tenant=a"},
		{spec: "nats://h:4222?form%61t=ocsf&stream=S", inner: "nats://h:4222?stream=S", filter: "format=ocsf"},
		{spec: "file:/x?event_type=", bad: true},
		{spec: "file:/x?tenant=a,,b", bad: true},
		{spec: "file:/x?outcome=Success", bad: true},
		{spec: "file:/x?redact=none", bad: true},
		{spec: "file:/x?redact=seq", bad: true},
		{spec: "file:/x?redact=", bad: true},
		{spec: "file:/x?redact=hmac&redact=hmac", bad: true},
		{spec: "file:/x?tenant=%zz", bad: true},
		{spec: "file:/x?format=", bad: true},
		{spec: "file:/x?format=OCSF", bad: true},
		{spec: "file:/x?format=json", bad: true},
		{spec: "file:/x?format=ocsf,canonical", bad: true},
		{spec: "file:/x?format=ocsf&format=ocsf", bad: true},
		{spec: "file:/x?format=canonical&format=ocsf", bad: true},
	} {
		t.Run(tc.spec, func(t *testing.T) {
			inner, f, err := splitFilter(tc.spec)
			if tc.bad {
				if !errors.Is(err, auditerr.ErrInvalidConfig) {
					t.Fatalf("got %v, want invalid_config", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if inner != tc.inner || f.String() != tc.filter {
				t.Fatalf("got %q and filter %q, want %q and %q", inner, f, tc.inner, tc.filter)
			}
		})
	}
}

func TestParseFileSpec(t *testing.T) {
	for _, tc := range []struct {
		rest, path string
		want       FileOptions
		bad        bool
	}{
		{rest: "/var/log/a.jsonl", path: "/var/log/a.jsonl"},
		{rest: "a.jsonl?max_size=1MiB", path: "a.jsonl", want: FileOptions{MaxSize: 1 << 20}},
		{rest: "a?max_size=1048576&keep=10", path: "a", want: FileOptions{MaxSize: 1 << 20, Keep: 10}},
		{rest: "a?max_size=2GiB&max_age=24h&keep=10", path: "a", want: FileOptions{MaxSize: 2 << 30, MaxAge: 24 * time.Hour, Keep: 10}},
		{rest: "a?max_age=7d", path: "a", want: FileOptions{MaxAge: 7 * 24 * time.Hour}},
		{rest: "a?max_size=512KiB", path: "a", want: FileOptions{MaxSize: 512 << 10}},
		{rest: "", bad: true},
		{rest: "?max_size=1MiB", bad: true},
		{rest: "a?max_size=0", bad: true},
		{rest: "a?max_size=-1", bad: true},
		{rest: "a?max_size=1MB", bad: true},
		{rest: "a?max_size=1MiB&max_size=2MiB", bad: true},
		{rest: "a?max_age=0s", bad: true},
		{rest: "a?max_age=-1h", bad: true},
		{rest: "a?max_age=soon", bad: true},
		{rest: "a?keep=0&max_size=1MiB", bad: true},
		{rest: "a?keep=3", bad: true}, // nothing rotates
		{rest: "a?rotate=daily", bad: true},
		{rest: "a?max_size=%zz", bad: true},
	} {
		t.Run(tc.rest, func(t *testing.T) {
			path, opt, err := parseFileSpec(tc.rest)
			if tc.bad {
				if !errors.Is(err, auditerr.ErrInvalidConfig) {
					t.Fatalf("got %v, want invalid_config", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if path != tc.path || opt.MaxSize != tc.want.MaxSize || opt.MaxAge != tc.want.MaxAge || opt.Keep != tc.want.Keep {
				t.Fatalf("got %q %+v, want %q %+v", path, opt, tc.path, tc.want)
			}
		})
	}
}

// The names, hence the cursors, of filtered sinks: the filter in
// canonical form, whatever the order of the parameters; rotation options
// and the receiver's own parameters stay out of it. format=ocsf is in it
// (decisions §33: another format is another feed, with a cursor of its
// own); format=canonical, the default, is not, so spelling it out keeps a
// sink's cursor.
func TestParseFilteredNames(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "a.jsonl")
	o := ParseOptions{WebhookSecret: "s3cret", Redaction: testPolicy(t), Origin: KnownOrigin(testOrigin)}
	for _, tc := range []struct{ spec, name string }{
		{"file:" + p, "file:" + p},
		{"file:" + p + "?max_size=1MiB&keep=2", "file:" + p},
		{"file:" + p + "?tenant=acme&outcome=denied&max_size=1MiB", "file:" + p + "?outcome=denied&tenant=acme"},
		{"file:" + p + "?outcome=denied&tenant=acme", "file:" + p + "?outcome=denied&tenant=acme"},
		{"https://siem.example/in?token=x&event_type=auth_failed&redact=hmac", "webhook:https://siem.example/in?event_type=auth_failed&redact=hmac"},
		{"file:" + p + "?format=canonical", "file:" + p},
		{"file:" + p + "?format=ocsf&max_size=1MiB", "file:" + p + "?format=ocsf"},
		{"file:" + p + "?tenant=acme&format=ocsf", "file:" + p + "?format=ocsf&tenant=acme"},
		{"https://siem.example/in?token=x&format=ocsf", "webhook:https://siem.example/in?format=ocsf"},
		{"syslog+tcp://siem.example:514?format=ocsf&facility=10", "syslog+tcp://siem.example:514?format=ocsf"},
	} {
		s, err := ParseWith(tc.spec, o)
		if err != nil {
			t.Fatalf("%s: %v", tc.spec, err)
		}
		if s.Name() != tc.name {
			t.Errorf("%s: Name %q, want %q", tc.spec, s.Name(), tc.name)
		}
		if w, ok := s.(*Filtered); ok {
			if hook, ok := w.Unwrap().(*Webhook); ok && !strings.Contains(hook.url, "token=x") {
				t.Errorf("%s: the webhook lost its own query: %s", tc.spec, hook.url)
			}
		}
		s.Close()
	}
	for _, spec := range []string{
		"file:" + p + "?redact=hmac", // no policy below
		"file:" + p + "?format=ocsf", // no origin below
		"file:" + p + "?format=xml",
		"file:" + p + "?tenant=",
		"file:" + p + "?bogus=1&tenant=a",
		"nats://127.0.0.1:4222?tenant=a&bogus=1",
	} {
		if _, err := ParseWith(spec, ParseOptions{}); !errors.Is(err, auditerr.ErrInvalidConfig) {
			t.Errorf("%s: %v, want invalid_config", spec, err)
		}
	}
}

// FuzzSpec: splitting a spec and reading a file spec never panic, fail
// only with invalid_config, and a filter's canonical form reads back as
// the same filter.
func FuzzSpec(f *testing.F) {
	for _, s := range []string{
		"file:/x", "file:/x?max_size=1MiB&max_age=24h&keep=10&tenant=acme&outcome=denied",
		"nats://h:4222?stream=S&event_type=a,b&redact=hmac", "https://h/p?redact=oidc_sub,detail.a.b&tenant=a%20b",
		"file:/x?max_age=7d&keep=1", "file:?", "file:/x?&&=&tenant=%",
		"syslog+tcp://h?format=ocsf&facility=3", "file:/x?format=canonical&keep=2&max_size=1KiB", "file:/x?form%61t=ocsf",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, spec string) {
		inner, filter, err := splitFilter(spec)
		if err != nil {
			if !errors.Is(err, auditerr.ErrInvalidConfig) {
				t.Fatalf("splitFilter(%q): %v does not wrap invalid_config", spec, err)
			}
			return
		}
		if filter.Empty() && inner != spec {
			// Only filter parameters are ever removed: here, format=canonical.
			_, q, _ := strings.Cut(spec, "?")
			_, kept, _ := strings.Cut(inner, "?")
			keptParts := strings.Split(kept, "&")
			for _, part := range strings.Split(q, "&") {
				if i := slices.Index(keptParts, part); i >= 0 {
					keptParts = slices.Delete(keptParts, i, i+1)
					continue
				}
				k, v, _ := strings.Cut(part, "=")
				if k, _ = url.QueryUnescape(k); k != "format" {
					t.Fatalf("splitFilter(%q) changed the spec to %q without a filter (removed %q)", spec, inner, part)
				}
				if v, _ = url.QueryUnescape(v); v != FormatCanonical {
					t.Fatalf("splitFilter(%q) removed %q and has no format", spec, part)
				}
			}
		}
		_, back, err := splitFilter("file:/x?" + filter.String())
		if err != nil {
			t.Fatalf("the canonical %q of %q does not read back: %v", filter, spec, err)
		}
		if back.String() != filter.String() || !slices.Equal(back.Tenants, filter.Tenants) || !slices.Equal(back.EventTypes, filter.EventTypes) || back.Format != filter.Format {
			t.Fatalf("the canonical %q of %q reads back as %q", filter, spec, back)
		}
		if rest, ok := strings.CutPrefix(inner, "file:"); ok {
			if _, opt, err := parseFileSpec(rest); err != nil {
				if !errors.Is(err, auditerr.ErrInvalidConfig) {
					t.Fatalf("parseFileSpec(%q): %v does not wrap invalid_config", rest, err)
				}
			} else if opt.MaxSize < 0 || opt.MaxAge < 0 || opt.Keep < 0 {
				t.Fatalf("parseFileSpec(%q): negative option %+v", rest, opt)
			}
		}
	})
}
