package sink

import (
	"bufio"
	"context"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	syslog "github.com/leodido/go-syslog/v4"
	"github.com/leodido/go-syslog/v4/octetcounting"
	"github.com/leodido/go-syslog/v4/rfc5424"

	"github.com/stigaudit/stigaudit/core/auditerr"
	"github.com/stigaudit/stigaudit/core/event"
	"github.com/stigaudit/stigaudit/internal/waitfor"
	"github.com/stigaudit/stigaudit/server/sink/syslogtest"
)

// parse5424 parses one message strictly: go-syslog's RFC 5424 parser,
// best effort off, MSG as RFC 5424 §6.4 has it.
func parse5424(b []byte) (*rfc5424.SyslogMessage, error) {
	m, err := rfc5424.NewParser(rfc5424.WithCompliantMsg()).Parse(b)
	if err != nil {
		return nil, err
	}
	return m.(*rfc5424.SyslogMessage), nil
}

func TestSyslogMessageFormat(t *testing.T) {
	leaf := [32]byte{0xab, 0x01}
	base := event.Event{Seq: 7, ID: "01900000-0000-7000-8000-000000000007", Type: "fact_write", TS: "2026-05-03T12:00:00.123456Z",
		Tenant: "acme", EntityURI: "urn:a", Outcome: "success", LeafHash: leaf}
	leafHex := "ab01" + strings.Repeat("00", 30)
	with := func(f func(e *event.Event)) event.Event { e := base; f(&e); return e }
	for _, tc := range []struct {
		name     string
		facility int
		host     string
		sdID     string
		e        event.Event
		want     string // the message up to MSG
	}{
		{"success is informational", 13, "node-1", "stigaudit@32473", base,
			`<110>1 2026-05-03T12:00:00.123456Z node-1 stigaudit - fact_write [stigaudit@32473 seq="7" id="01900000-0000-7000-8000-000000000007" tenant="acme" outcome="success" leaf="` + leafHex + `"] `},
		{"failure is warning", 13, "node-1", "stigaudit@32473", with(func(e *event.Event) { e.Outcome = "failure" }),
			`<108>1 2026-05-03T12:00:00.123456Z node-1 stigaudit - fact_write [stigaudit@32473 seq="7" id="01900000-0000-7000-8000-000000000007" tenant="acme" outcome="failure" leaf="` + leafHex + `"] `},
		{"denied is notice, facility and PEN", 4, "h", "stigaudit@1.2.3", with(func(e *event.Event) { e.Outcome = "denied"; e.Seq = 0 }),
			`<37>1 2026-05-03T12:00:00.123456Z h stigaudit - fact_write [stigaudit@1.2.3 seq="0" id="01900000-0000-7000-8000-000000000007" tenant="acme" outcome="denied" leaf="` + leafHex + `"] `},
		{"facility 23, SD values escaped", 23, "h", "stigaudit@32473", with(func(e *event.Event) { e.Tenant = `a"b\c]d` }),
			`<190>1 2026-05-03T12:00:00.123456Z h stigaudit - fact_write [stigaudit@32473 seq="7" id="01900000-0000-7000-8000-000000000007" tenant="a\"b\\c\]d" outcome="success" leaf="` + leafHex + `"] `},
		{"long type cut to 32", 13, "h", "stigaudit@32473", with(func(e *event.Event) { e.Type = "federation_valid_until_extension_rejected" }),
			`<110>1 2026-05-03T12:00:00.123456Z h stigaudit - federation_valid_until_extension [stigaudit@32473 seq="7" id="01900000-0000-7000-8000-000000000007" tenant="acme" outcome="success" leaf="` + leafHex + `"] `},
		{"hostname made printable", 13, syslogHeaderField("my host\x7f", 255), "stigaudit@32473", base,
			`<110>1 2026-05-03T12:00:00.123456Z my_host_ stigaudit - fact_write [stigaudit@32473 seq="7" id="01900000-0000-7000-8000-000000000007" tenant="acme" outcome="success" leaf="` + leafHex + `"] `},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := appendSyslogMessage(nil, tc.facility, tc.host, tc.sdID, event.AppendCanonical, &tc.e)
			canon := event.AppendCanonical(nil, &tc.e)
			if want := tc.want + string(canon); string(got) != want {
				t.Fatalf("message\n got %s\nwant %s", got, want)
			}
			m, err := parse5424(got)
			if err != nil {
				t.Fatalf("go-syslog does not parse it: %v\n%s", err, got)
			}
			sd := (*m.StructuredData)[tc.sdID]
			if sd["tenant"] != tc.e.Tenant || sd["seq"] != strconv.FormatInt(tc.e.Seq, 10) || sd["id"] != tc.e.ID || sd["outcome"] != tc.e.Outcome || sd["leaf"] != leafHex {
				t.Errorf("structured data %v", sd)
			}
			if int(*m.Facility) != tc.facility || int(*m.Severity) != SyslogSeverity(tc.e.Outcome) || *m.Appname != "stigaudit" || m.ProcID != nil || *m.Message != string(canon) {
				t.Errorf("parsed %+v", m)
			}
		})
	}
}

func TestSDParamValueEscaping(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"", ""},
		{"acme", "acme"},
		{`"`, `\"`},
		{`\`, `\\`},
		{`]`, `\]`},
		{`[x=y]`, `[x=y\]`},
		{`a\"]b`, `a\\\"\]b`},
		{"café", "café"},
		{"bad\xffutf8", "bad\uFFFDutf8"},
	} {
		if got := string(AppendSDParamValue(nil, tc.in)); got != tc.want {
			t.Errorf("AppendSDParamValue(%q) = %q, want %q", tc.in, got, tc.want)
		}
		// What a strict parser reads back is the value (made valid UTF-8).
		msg := `<110>1 - - - - - [x@32473 v="` + string(AppendSDParamValue(nil, tc.in)) + `"]`
		m, err := parse5424([]byte(msg))
		if err != nil {
			t.Errorf("%q: %v", msg, err)
			continue
		}
		if got := (*m.StructuredData)["x@32473"]["v"]; got != strings.ToValidUTF8(tc.in, "\uFFFD") {
			t.Errorf("%q parses back as %q", tc.in, got)
		}
	}
}

func TestSyslogSpecs(t *testing.T) {
	for _, tc := range []struct {
		spec, name string
		facility   int
		pen        string
	}{
		{"syslog+tcp://127.0.0.1:5514", "syslog+tcp://127.0.0.1:5514", 13, "32473"},
		{"syslog+tcp://siem.example.org", "syslog+tcp://siem.example.org:514", 13, "32473"},
		{"syslog+tls://siem.example.org", "syslog+tls://siem.example.org:6514", 13, "32473"},
		{"syslog+tls://[::1]:6514/?facility=4&pen=1.2", "syslog+tls://[::1]:6514", 4, "1.2"},
		{"syslog+tcp://h:1?facility=0", "syslog+tcp://h:1", 0, "32473"},
		{"syslog+tcp://h:1?facility=23&pen=1234567890123456789012", "syslog+tcp://h:1", 23, "1234567890123456789012"},
	} {
		s, err := Parse(tc.spec)
		if err != nil {
			t.Errorf("Parse(%q): %v", tc.spec, err)
			continue
		}
		sl := s.(*Syslog)
		if sl.Name() != tc.name || sl.facility != tc.facility || sl.sdID != "stigaudit@"+tc.pen {
			t.Errorf("Parse(%q): name %q facility %d SD-ID %q", tc.spec, sl.Name(), sl.facility, sl.sdID)
		}
		s.Close()
	}
	for _, spec := range []string{
		"syslog+tcp:",
		"syslog+tcp://",
		"syslog+tcp:host:514",
		"syslog+tcp://:514",
		"syslog+tcp://h:",
		"syslog+tcp://h:0",
		"syslog+tcp://h:65536",
		"syslog+tcp://h:514/path",
		"syslog+tcp://u:p@h:514",
		"syslog+tcp://h:514?facility=24",
		"syslog+tcp://h:514?facility=-1",
		"syslog+tcp://h:514?facility=013",
		"syslog+tcp://h:514?facility=x",
		"syslog+tcp://h:514?facility=1&facility=2",
		"syslog+tcp://h:514?pen=",
		"syslog+tcp://h:514?pen=1..2",
		"syslog+tcp://h:514?pen=abc",
		"syslog+tcp://h:514?pen=123456789012345678901234",
		"syslog+tcp://h:514?ca=/etc/ssl/ca.pem",
		"syslog+tcp://h:514?bogus=1",
		"syslog+tls://h:6514?ca=",
		"syslog+tls://h:6514?ca=/nonexistent/ca.pem",
		"syslog+tls://h:6514?cert=/c.pem",
		"syslog+tls://h:6514?ca=" + t.TempDir(),
		"syslog+udp://h:514",
	} {
		if s, err := Parse(spec); !errors.Is(err, auditerr.ErrInvalidConfig) {
			if s != nil {
				s.Close()
			}
			t.Errorf("Parse(%q) = %v, want invalid_config", spec, err)
		}
	}
}

// FuzzSyslogSpec checks that the spec parser never panics, and that a spec
// it accepts gives a usable sink: a valid facility and SD-ID, and a name
// that parses back to the same sink.
func FuzzSyslogSpec(f *testing.F) {
	for _, s := range []string{
		"syslog+tcp://127.0.0.1:514", "syslog+tls://h?facility=4&pen=1.2", "syslog+tcp://[::1]:1/?pen=9",
		"syslog+tcp://h:514?facility=24", "syslog+tls://h:6514?cert=a", "syslog+tcp://%zz", "syslog+tcp://h:514?a=%",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, spec string) {
		c, err := parseSyslogSpec(spec)
		if err != nil {
			if !errors.Is(err, auditerr.ErrInvalidConfig) {
				t.Fatalf("%q: error %v does not wrap invalid_config", spec, err)
			}
			return
		}
		if c.facility < 0 || c.facility > 23 || !validPEN(c.pen) {
			t.Fatalf("%q: facility %d, pen %q", spec, c.facility, c.pen)
		}
		name := c.scheme + "://" + c.addr
		again, err := parseSyslogSpec(name)
		if err != nil || again.scheme+"://"+again.addr != name {
			t.Fatalf("%q: its name %q does not parse back (%v)", spec, name, err)
		}
		msg := appendSyslogMessage(nil, c.facility, "h", "stigaudit@"+c.pen, event.AppendCanonical, &event.Event{Seq: 1, ID: "x", Type: "t", TS: "2026-05-03T12:00:00.123456Z", Tenant: "a", Outcome: "success"})
		if _, err := parse5424(msg); err != nil {
			t.Fatalf("%q: message does not parse: %v\n%s", spec, err, msg)
		}
	})
}

// frameServer is a TCP syslog receiver that parses octet-counted frames
// with go-syslog and records the messages; close() makes it refuse.
type frameServer struct {
	ln   net.Listener
	mu   sync.Mutex
	msgs []*rfc5424.SyslogMessage
	errs []error
	conn int
}

func newFrameServer(t *testing.T) *frameServer {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &frameServer{ln: ln}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s.mu.Lock()
			s.conn++
			s.mu.Unlock()
			go func() {
				defer c.Close()
				octetcounting.NewParser(syslog.WithBestEffort(), syslog.WithListener(func(r *syslog.Result) {
					s.mu.Lock()
					defer s.mu.Unlock()
					if r.Error != nil {
						s.errs = append(s.errs, r.Error)
						return
					}
					s.msgs = append(s.msgs, r.Message.(*rfc5424.SyslogMessage))
				})).Parse(bufio.NewReader(c))
			}()
		}
	}()
	return s
}

// TestSyslogFramesOnePerEvent sends batches to a receiver that parses the
// octet-counted framing with go-syslog: one message per event, in order,
// and each Write its own connection.
func TestSyslogFramesOnePerEvent(t *testing.T) {
	srv := newFrameServer(t)
	s, err := NewSyslog("syslog+tcp://"+srv.ln.Addr().String()+"?facility=10", SyslogOptions{Hostname: "node-1"})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	batch := sinkEvents(0, 300)
	for i := range batch { // real leaf hashes, which a receiver can check
		batch[i].LeafHash = event.LeafHash(event.AppendCanonical(nil, &batch[i]))
	}
	for _, b := range [][]event.Event{batch[:1], batch[1:200], batch[200:]} {
		if err := s.Write(context.Background(), b); err != nil {
			t.Fatal(err)
		}
	}
	waitfor.Until(t, 5*time.Second, "the receiver to parse 300 messages", func() bool {
		srv.mu.Lock()
		defer srv.mu.Unlock()
		return len(srv.msgs)+len(srv.errs) >= len(batch)
	})
	srv.mu.Lock()
	defer srv.mu.Unlock()
	if len(srv.errs) > 0 || srv.conn != 3 {
		t.Fatalf("errors %v, %d connections", srv.errs, srv.conn)
	}
	for i, m := range srv.msgs {
		e := &batch[i]
		sd := (*m.StructuredData)["stigaudit@32473"]
		if sd["seq"] != strconv.Itoa(i) || *m.MsgID != e.Type || *m.Hostname != "node-1" || *m.Facility != 10 || *m.Message != string(event.AppendCanonical(nil, e)) ||
			sd["leaf"] != string(hexOf(event.LeafHash([]byte(*m.Message)))) {
			t.Fatalf("message %d: %+v %v", i, m, sd)
		}
	}
}

// TestSyslogWriteFailsWithoutReceiver: a refused connection, a receiver
// that resets the connection, and one that never closes it all fail the
// Write, so that the Dispatcher sends the batch again.
func TestSyslogWriteFailsWithoutReceiver(t *testing.T) {
	s, err := NewSyslog("syslog+tcp://"+deadAddr(t), SyslogOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Write(context.Background(), sinkEvents(0, 1)); err == nil {
		t.Error("Write to a closed port succeeded")
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	hold := make(chan struct{})
	defer close(hold)
	go func() {
		for i := 0; ; i++ {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			if i == 0 { // read a little, then close with bytes unread: a reset
				io.ReadFull(c, make([]byte, 10))
				c.Close()
				continue
			}
			go func() { io.Copy(io.Discard, c); <-hold; c.Close() }() // never closes in time
		}
	}()
	s, err = NewSyslog("syslog+tcp://"+ln.Addr().String(), SyslogOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Write(context.Background(), sinkEvents(0, 2000)); err == nil {
		t.Error("Write to a receiver that reset the connection succeeded")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	if err := s.Write(ctx, sinkEvents(0, 5)); err == nil || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Write to a receiver that never closes: %v, want the deadline", err)
	}
	s.Close()
	if err := s.Write(context.Background(), sinkEvents(0, 1)); err == nil {
		t.Error("Write after Close succeeded")
	}
}

// rsyslogSeqs parses every line rsyslogd wrote strictly and returns the
// seqs, in file order.
func rsyslogSeqs(t *testing.T, d *syslogtest.Daemon) []int64 {
	t.Helper()
	var seqs []int64
	for i, line := range d.Lines(t) {
		m, err := parse5424(line)
		if err != nil {
			t.Fatalf("line %d does not parse as RFC 5424: %v\n%s", i+1, err, line)
		}
		sd, ok := (*m.StructuredData)["stigaudit@32473"]
		if !ok || m.Message == nil {
			t.Fatalf("line %d: no stigaudit@32473 structured data or no MSG\n%s", i+1, line)
		}
		seq, err := strconv.ParseInt(sd["seq"], 10, 64)
		if err != nil {
			t.Fatalf("line %d: seq %q", i+1, sd["seq"])
		}
		e, err := event.ParseEvent([]byte(*m.Message))
		if err != nil {
			t.Fatalf("line %d: MSG is not an event: %v", i+1, err)
		}
		if e.ID != sd["id"] || *m.MsgID != e.Type || e.Tenant != sd["tenant"] || e.Outcome != sd["outcome"] || len(sd["leaf"]) != 64 {
			t.Fatalf("line %d: structured data %v disagrees with MSG %s", i+1, sd, *m.Message)
		}
		seqs = append(seqs, seq)
	}
	return seqs
}

func hexOf(b [32]byte) []byte {
	out := make([]byte, 0, 64)
	for _, c := range b {
		out = append(out, hexDigits[c>>4], hexDigits[c&0x0F])
	}
	return out
}

// TestSyslogRsyslogRestartLosesNothing delivers 10,000 events through a
// Dispatcher to an rsyslogd of the test's own, over TCP and over TLS: half
// as a live trickle of commits, half while the daemon is stopped (SIGTERM);
// the daemon is then started again on the same port and, while the sink
// catches up in batches of 500, stopped and started once more, most likely
// in the middle of a Write. Afterwards every line it wrote parses strictly
// as RFC 5424 and every seq 0..9,999 is there (duplicates allowed).
func TestSyslogRsyslogRestartLosesNothing(t *testing.T) {
	for _, tlsOn := range []bool{false, true} {
		name := map[bool]string{false: "tcp", true: "tls"}[tlsOn]
		t.Run(name, func(t *testing.T) {
			d := syslogtest.Start(t, syslogtest.Options{TLS: tlsOn})
			spec := "syslog+tcp://" + d.Addr
			if tlsOn {
				spec = "syslog+tls://" + d.Addr + "?ca=" + d.CAFile
			}
			s, err := Parse(spec)
			if err != nil {
				t.Fatal(err)
			}
			l := openLog(t)
			rec := newRecorder()
			opt := Options{Log: l, Cursors: l, Reporter: rec, Logger: quiet, WriteTimeout: 2 * time.Second, MaxBackoff: 500 * time.Millisecond}
			disp, err := NewDispatcher(context.Background(), []Sink{s}, opt)
			if err != nil {
				t.Fatal(err)
			}
			defer disp.Close(context.Background())

			total, perCommit := 10000, 20
			if raceEnabled {
				total = 3000 // the same restart, in less time under the race detector
			}
			start := time.Now()
			// Half the events as a live trickle of commits.
			for n := 0; n < total/2; n += perCommit {
				l.add(t, disp, perCommit, perCommit)
				time.Sleep(time.Millisecond)
			}
			// The other half while rsyslogd is down: the sink falls behind.
			d.Stop()
			l.add(t, disp, total/2, perCommit)
			d.Start()
			// Stop it again while the sink catches up, in batches of 500:
			// most likely in the middle of a Write.
			for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Microsecond) {
				if n, _ := disp.Lag(s.Name()); n < int64(total/2) {
					break
				}
				if time.Now().After(deadline) {
					t.Fatal("the syslog sink did not resume within 30 s")
				}
			}
			d.Stop()
			time.Sleep(300 * time.Millisecond)
			d.Start()
			waitfor.Until(t, 60*time.Second, "the syslog sink to deliver 10,000 events and save its cursor", func() bool {
				n, _ := disp.Lag(s.Name())
				return n == 0 && l.cursor(t, s) == int64(total)
			})
			elapsed := time.Since(start)
			d.Stop()
			got := rsyslogSeqs(t, d)
			dups := checkSeqs(t, "rsyslog output", got, 0, int64(total))
			if rec.failures(s.Name()) == 0 {
				t.Error("no Write failed while rsyslogd was down")
			}
			t.Logf("%s: %d events, %d lines written by rsyslogd (%d duplicates), %d failed writes, delivered in %v", name, total, len(got), dups, rec.failures(s.Name()), elapsed.Round(time.Millisecond))
		})
	}
}

// BenchmarkSyslogDelivery measures the syslog sink's rate to a local
// rsyslogd of the benchmark's own, from the sink's durable cursor (as
// BenchmarkDeliveryFromCursor). Goal: 10,000 events/s over TLS.
//
//	go test -run '^$' -bench SyslogDelivery -benchtime 50000x ./server/sink/
func BenchmarkSyslogDelivery(b *testing.B) {
	for _, tlsOn := range []bool{false, true} {
		b.Run(map[bool]string{false: "tcp", true: "tls"}[tlsOn], func(b *testing.B) {
			d := syslogtest.Start(b, syslogtest.Options{TLS: tlsOn})
			spec := "syslog+tcp://" + d.Addr
			if tlsOn {
				spec = "syslog+tls://" + d.Addr + "?ca=" + d.CAFile
			}
			s, err := NewSyslog(spec, SyslogOptions{})
			if err != nil {
				b.Fatal(err)
			}
			benchDelivery(b, s)
		})
	}
}

// TestSyslogTLSVerifiesTheReceiver: over TLS the receiver's certificate
// must verify against ca= (the system's roots do not know the test's CA),
// and a Write that cannot verify it sends nothing.
func TestSyslogTLSVerifiesTheReceiver(t *testing.T) {
	d := syslogtest.Start(t, syslogtest.Options{TLS: true})
	untrusted, err := Parse("syslog+tls://" + d.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer untrusted.Close()
	var unknown x509.UnknownAuthorityError
	if err := untrusted.Write(context.Background(), sinkEvents(0, 3)); !errors.As(err, &unknown) {
		t.Errorf("Write without the receiver's CA: %v, want an unknown authority", err)
	}
	trusted, err := Parse("syslog+tls://" + d.Addr + "?ca=" + d.CAFile)
	if err != nil {
		t.Fatal(err)
	}
	defer trusted.Close()
	if err := trusted.Write(context.Background(), sinkEvents(3, 2)); err != nil {
		t.Fatal(err)
	}
	d.Stop()
	if got := rsyslogSeqs(t, d); len(got) != 2 || got[0] != 3 || got[1] != 4 {
		t.Errorf("rsyslogd wrote seqs %v, want [3 4]", got)
	}
}
