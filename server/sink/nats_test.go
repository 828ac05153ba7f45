package sink

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/stigaudit/stigaudit/core/auditerr"
	"github.com/stigaudit/stigaudit/core/event"
	"github.com/stigaudit/stigaudit/hostfns/storetest"
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
// Enqueue returns at once, and what cannot be delivered is counted.
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
	rec := newRecorder()
	d := NewDispatcher([]Sink{n, w}, Options{QueueSize: 1000, MaxBatch: 100, WriteTimeout: time.Second, Reporter: rec, Logger: quiet})
	const commits, perCommit = 2000, 10
	var slowest time.Duration
	start := time.Now()
	for i := range commits {
		batch := sinkEvents(i*perCommit, perCommit)
		t0 := time.Now()
		d.Enqueue(batch)
		slowest = max(slowest, time.Since(t0))
	}
	total := time.Since(start)
	if slowest > 100*time.Millisecond { // a blocked Write takes a second
		t.Errorf("slowest Enqueue took %v", slowest)
	}
	t.Logf("%d events enqueued in %v (slowest call %v)", commits*perCommit, total, slowest)
	for _, s := range []Sink{n, w} {
		if got := rec.get(rec.dropped, s.Name()); got < commits*perCommit/2 {
			t.Errorf("%s: %d events counted as dropped, want most of %d", s.Name(), got, commits*perCommit)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_ = d.Close(ctx) // gives up on the dead sinks; what was queued is dropped and counted
	for _, s := range []Sink{n, w} {
		// Every event is accounted for: dropped at Enqueue or at Close, or
		// in a failed Write (the last one ends once Close cancels it).
		waitFor(t, func() bool {
			return rec.get(rec.dropped, s.Name())+rec.get(rec.failed, s.Name()) == commits*perCommit
		})
	}
}

// TestNATSKeepsUp offers events at 15,000/s (above the 10,000/s the
// replicas sustain) through a Dispatcher with the default queue, for two
// seconds: the sink must drop nothing.
func TestNATSKeepsUp(t *testing.T) {
	server, stream, prefix := testNATS(t)
	if testing.Short() || raceEnabled {
		t.Skip("a throughput test: skipped with -short and under the race detector")
	}
	s, err := NewNATS(server+"?stream="+stream+"&prefix="+prefix, NATSOptions{})
	if err != nil {
		t.Fatal(err)
	}
	rec := newRecorder()
	d := NewDispatcher([]Sink{s}, Options{Reporter: rec, Logger: quiet})
	const rate, seconds, perCommit = 15000, 2, 50
	total := rate * seconds
	start := time.Now()
	for i := 0; i < total; i += perCommit {
		d.Enqueue(sinkEvents(i, perCommit))
		if ahead := time.Duration(i+perCommit)*time.Second/rate - time.Since(start); ahead > 0 {
			time.Sleep(ahead)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := d.Close(ctx); err != nil {
		t.Fatal(err)
	}
	elapsed := time.Since(start)
	if dropped, failed := rec.get(rec.dropped, s.Name()), rec.get(rec.failed, s.Name()); dropped+failed != 0 {
		t.Fatalf("%d events dropped and %d failed at %d events/s", dropped, failed, rate)
	}
	if n := natstest.Count(t, server, stream); n != total {
		t.Fatalf("stream holds %d messages, want %d", n, total)
	}
	t.Logf("%d events offered at %d/s, all published and acknowledged in %v (%.0f events/s)", total, rate, elapsed, float64(total)/elapsed.Seconds())
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
