package sink

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/stigaudit/stigaudit/core/auditerr"
	"github.com/stigaudit/stigaudit/core/event"
	"github.com/stigaudit/stigaudit/hostfns/storetest"
	"github.com/stigaudit/stigaudit/internal/waitfor"
	"github.com/stigaudit/stigaudit/server/sink/natstest"
)

// testNATS returns the test server's URL and a fresh stream name and
// subject prefix, deleting the stream when the test ends; without the
// server the test is skipped.
func testNATS(t testing.TB) (server, stream, prefix string) {
	t.Helper()
	server = natstest.URL(t)
	stream, prefix = natstest.NewStream(t, server, "STIGAUDIT_TEST")
	return server, stream, prefix
}

// sinkEvents returns storable test events with seqs from..from+n-1 and
// canonical details (as stored events have).
func sinkEvents(from, n int) []event.Event {
	out := storetest.NewEvents(from, n)
	for i := range out {
		out[i].Seq = int64(from + i)
		if out[i].Detail != nil {
			out[i].Detail = fmt.Appendf(nil, `{"n":%d,"note":"café \"quoted\""}`, from+i)
		}
	}
	return out
}

func TestNATSPublishesEachEventOnce(t *testing.T) {
	server, stream, prefix := testNATS(t)
	s, err := NewNATS(server+"?stream="+stream+"&prefix="+prefix, NATSOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	batch := sinkEvents(0, 50)
	if err := s.Write(ctx, batch[:30]); err != nil {
		t.Fatal(err)
	}
	// A retried batch, overlapping the first, and the same events again as
	// another replica would publish them: JetStream keeps one of each.
	for range 2 {
		if err := s.Write(ctx, batch[20:]); err != nil {
			t.Fatal(err)
		}
	}
	msgs := natstest.Messages(t, server, stream)
	if len(msgs) != len(batch) {
		t.Fatalf("stream holds %d messages for %d events", len(msgs), len(batch))
	}
	for i, m := range msgs {
		e := &batch[i]
		if want := prefix + "." + e.Tenant + "." + e.Type; m.Subject != want {
			t.Errorf("message %d subject %q, want %q", i, m.Subject, want)
		}
		if got := m.Header.Get(jetstream.MsgIDHeader); got != e.ID {
			t.Errorf("message %d Nats-Msg-Id %q, want %s", i, got, e.ID)
		}
		got, err := event.ParseEvent(m.Data)
		if err != nil {
			t.Fatalf("message %d does not parse as an event: %v\n%s", i, err, m.Data)
		}
		if got.Seq != e.Seq || !got.SameContent(e) || got.LeafHash != e.LeafHash {
			t.Errorf("message %d is %+v, want %+v", i, got, *e)
		}
	}
}

func TestNATSUsesAnExistingStream(t *testing.T) {
	server, stream, prefix := testNATS(t)
	// The operator made the stream, wider than the sink's subjects.
	nc, err := nats.Connect(server)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	ctx := context.Background()
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: stream, Subjects: []string{prefix + ".>", prefix + "_other.>"}, Storage: jetstream.MemoryStorage}); err != nil {
		t.Fatal(err)
	}
	s, err := NewNATS(server+"?stream="+stream+"&prefix="+prefix, NATSOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Write(ctx, sinkEvents(0, 3)); err != nil {
		t.Fatal(err)
	}
	info, err := js.Stream(ctx, stream)
	if err != nil {
		t.Fatal(err)
	}
	if cfg := info.CachedInfo().Config; cfg.Storage != jetstream.MemoryStorage || len(cfg.Subjects) != 2 {
		t.Fatalf("the sink changed the operator's stream: %+v", cfg)
	}
	if n := len(natstest.Messages(t, server, stream)); n != 3 {
		t.Fatalf("%d messages, want 3", n)
	}
}

// deadAddr returns an address where nothing listens.
func deadAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// TestDeadSinksNeverSlowEmits feeds a NATS sink whose server is down and a
// webhook that never answers, as the server does after each commit: every
// Enqueue returns at once, and the lag of both sinks is the whole log.
func TestDeadSinksNeverSlowEmits(t *testing.T) {
	hang := make(chan struct{})
	defer close(hang)
	hook := newReceiver(t, func(*receiver) int { <-hang; return 200 })
	n, err := NewNATS("nats://"+deadAddr(t), NATSOptions{})
	if err != nil {
		t.Fatal(err)
	}
	w, err := NewWebhook(hook.srv.URL, WebhookOptions{Secret: []byte("s")})
	if err != nil {
		t.Fatal(err)
	}
	l := openLog(t)
	rec := newRecorder()
	opt := fast(l, rec)
	opt.WriteTimeout = 5 * time.Second
	d, err := NewDispatcher(context.Background(), []Sink{n, w}, opt)
	if err != nil {
		t.Fatal(err)
	}
	const commits, perCommit = 500, 10
	var slowest time.Duration
	start := time.Now()
	for range commits {
		size := l.size(t)
		stored, err := l.Append(context.Background(), storetest.NewEvents(int(size), perCommit))
		if err != nil {
			t.Fatal(err)
		}
		t0 := time.Now()
		d.Enqueue(stored)
		slowest = max(slowest, time.Since(t0))
	}
	if slowest > 2*time.Second { // generous on a loaded machine; a blocked Write takes 5 s
		t.Errorf("slowest Enqueue took %v", slowest)
	}
	t.Logf("%d events committed and offered in %v (slowest Enqueue %v)", commits*perCommit, time.Since(start), slowest)
	for _, s := range []Sink{n, w} {
		waitfor.Until(t, 10*time.Second, "sink "+s.Name()+" to report every event as lag", func() bool { last, _ := rec.lagOf(s.Name()); return last == commits*perCommit })
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if err := d.Close(ctx); err == nil {
		t.Error("Close returned nil with two dead sinks")
	}
	for _, s := range []Sink{n, w} {
		if got := l.cursor(t, s); got != 0 {
			t.Errorf("%s: cursor %d, but nothing was delivered", s.Name(), got)
		}
	}
}

// natsSeqs returns the seqs of the events stream holds, in stream order.
func natsSeqs(t *testing.T, server, stream string) []int64 {
	t.Helper()
	var out []int64
	for _, m := range natstest.Messages(t, server, stream) {
		e, err := event.ParseEvent(m.Data)
		if err != nil {
			t.Fatalf("message does not parse: %v", err)
		}
		out = append(out, e.Seq)
	}
	return out
}

// TestNATSOutageLosesNothing stops a NATS server of the test's own for
// -sink.outage (10 s) while events are committed at about 2,000/s, then
// starts it again: afterwards the JetStream stream holds every seq, in
// order, and the sink's lag returns to 0 within 30 s. Commits are timed
// while NATS is up and while it is down.
func TestNATSOutageLosesNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("stops a NATS server for 10 s; skipped with -short")
	}
	t.Parallel()
	srv := natstest.StartServer(t)
	const stream, prefix = "AUDIT_OUTAGE", "audit"
	l := openLog(t)
	s, err := NewNATS(srv.URL+"?stream="+stream+"&prefix="+prefix, NATSOptions{})
	if err != nil {
		t.Fatal(err)
	}
	rec := newRecorder()
	opt := Options{Log: l, Cursors: l, Reporter: rec, Logger: quiet, WriteTimeout: 2 * time.Second}
	d, err := NewDispatcher(context.Background(), []Sink{s}, opt)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close(context.Background())

	g := startLoad(l, d, 20, 10*time.Millisecond)
	time.Sleep(2 * time.Second)
	g.setPhase("down")
	srv.Stop()
	time.Sleep(*outage)
	_, highest := rec.lagOf(s.Name())
	g.setPhase("back")
	srv.Start()
	time.Sleep(time.Second)
	g.finish(t)
	size := l.size(t)

	start := time.Now()
	waitfor.Until(t, 30*time.Second, "the NATS sink to catch up and save its cursor", func() bool { n, _ := d.Lag(s.Name()); return n == 0 && l.cursor(t, s) == size })
	caughtUp := time.Since(start)
	got := natsSeqs(t, srv.URL, stream)
	checkSeqs(t, "stream "+stream, got, 0, size)
	if highest == 0 {
		t.Error("the lag stayed 0 while NATS was down")
	}
	up99, nUp := g.quantile("up", .99)
	down99, nDown := g.quantile("down", .99)
	t.Logf("NATS down %v: %d events, %d messages in the stream, highest lag %d, caught up %v after the end; %d failed writes; commit p99 %v with NATS up (%d commits), %v with it down (%d commits)",
		*outage, size, len(got), highest, caughtUp.Round(time.Millisecond), rec.failures(s.Name()), up99, nUp, down99, nDown)
}

func TestNATSSpecs(t *testing.T) {
	for _, spec := range []string{
		"nats://",
		"nats://localhost:4222/audit",
		"nats://localhost:4222?bogus=1",
		"nats://localhost:4222?stream=a.b",
		"nats://localhost:4222?prefix=x.>",
		"nats://localhost:4222?window=soon",
	} {
		if s, err := Parse(spec); !errors.Is(err, auditerr.ErrInvalidConfig) {
			if s != nil {
				s.Close()
			}
			t.Errorf("Parse(%q) = %v, want invalid_config", spec, err)
		}
	}
	s, err := Parse("nats://user:secret@" + deadAddr(t) + "?stream=AUDIT&prefix=audit.events&window=10m")
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	defer s.Close()
	n := s.(*NATS)
	if strings.Contains(n.Name(), "secret") || !strings.HasSuffix(n.Name(), "/AUDIT") {
		t.Errorf("Name() = %q", n.Name())
	}
	e := sinkEvents(0, 1)[0]
	if got := n.Subject(&e); got != "audit.events."+e.Tenant+"."+e.Type {
		t.Errorf("Subject = %q", got)
	}
	if n.opts.DuplicateWindow != 10*time.Minute {
		t.Errorf("window = %v", n.opts.DuplicateWindow)
	}
}

// A NATS sink with format=ocsf publishes each event's OCSF record as the
// message data, on the same subject and with the event id as Nats-Msg-Id,
// so JetStream still drops a re-publication.
func TestNATSOCSF(t *testing.T) {
	server, stream, prefix := testNATS(t)
	spec := server + "?stream=" + stream + "&format=ocsf&prefix=" + prefix
	s, err := ParseWith(spec, ParseOptions{Origin: KnownOrigin(testOrigin)})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	batch := sinkEvents(0, 30)
	for range 2 {
		if err := s.Write(context.Background(), batch); err != nil {
			t.Fatal(err)
		}
	}
	msgs := natstest.Messages(t, server, stream)
	if len(msgs) != len(batch) {
		t.Fatalf("stream holds %d messages for %d events", len(msgs), len(batch))
	}
	for i, m := range msgs {
		e := &batch[i]
		if want := prefix + "." + e.Tenant + "." + e.Type; m.Subject != want {
			t.Errorf("message %d subject %q, want %q", i, m.Subject, want)
		}
		if got := m.Header.Get(jetstream.MsgIDHeader); got != e.ID {
			t.Errorf("message %d Nats-Msg-Id %q, want %s", i, got, e.ID)
		}
		r := parseOCSF(t, "message "+strconv.Itoa(i), m.Data)
		if r.Metadata.UID != e.ID || *r.Unmapped.Seq != e.Seq {
			t.Errorf("message %d: metadata.uid %q seq %d, want %q %d", i, r.Metadata.UID, *r.Unmapped.Seq, e.ID, e.Seq)
		}
	}
}
