package sink

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stigaudit/stigaudit/core/auditerr"
	"github.com/stigaudit/stigaudit/core/event"
	"github.com/stigaudit/stigaudit/internal/waitfor"
)

// receiver is a webhook endpoint that checks each request as a receiver
// would (method, content type, signature) and records the events.
type receiver struct {
	t      *testing.T
	srv    *httptest.Server
	secret []byte
	answer func(r *receiver) int // status for the next request

	mu       sync.Mutex
	requests int
	bodies   [][]byte
	events   []event.Event
}

func newReceiver(t *testing.T, answer func(r *receiver) int) *receiver {
	r := &receiver{t: t, secret: []byte("s"), answer: answer}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, err := io.ReadAll(req.Body)
		if err != nil {
			// The connection broke mid-body (the test closes the receiver
			// under load): the sender sees the failure and sends again.
			return
		}
		r.mu.Lock()
		r.requests++
		r.bodies = append(r.bodies, body)
		r.mu.Unlock()
		switch {
		case req.Method != http.MethodPost:
			t.Errorf("method %s", req.Method)
		case req.Header.Get("Content-Type") != "application/x-ndjson":
			t.Errorf("Content-Type %q", req.Header.Get("Content-Type"))
		case !VerifySignature(r.secret, body, req.Header.Get(SignatureHeader)):
			t.Errorf("bad signature %q", req.Header.Get(SignatureHeader))
		}
		code := r.answer(r)
		if code == http.StatusOK {
			sc := bufio.NewScanner(bytes.NewReader(body))
			sc.Buffer(nil, 1<<20)
			r.mu.Lock()
			for sc.Scan() {
				e, err := event.ParseEvent(sc.Bytes())
				if err != nil {
					t.Errorf("line does not parse as an event: %v\n%s", err, sc.Bytes())
				}
				r.events = append(r.events, e)
			}
			r.mu.Unlock()
		}
		w.WriteHeader(code)
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.requests
}

func TestWebhookDeliversSignedNDJSON(t *testing.T) {
	rcv := newReceiver(t, func(*receiver) int { return http.StatusOK })
	w, err := NewWebhook(rcv.srv.URL+"/hook", WebhookOptions{Secret: rcv.secret})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	batches := [][]event.Event{sinkEvents(0, 7), sinkEvents(7, 1)}
	for _, b := range batches {
		if err := w.Write(context.Background(), b); err != nil {
			t.Fatal(err)
		}
	}
	want := append(batches[0], batches[1]...)
	if rcv.count() != 2 || len(rcv.events) != len(want) {
		t.Fatalf("%d requests, %d events; want 2 and %d", rcv.count(), len(rcv.events), len(want))
	}
	for i := range want {
		if got := rcv.events[i]; got.Seq != want[i].Seq || !got.SameContent(&want[i]) || got.LeafHash != want[i].LeafHash {
			t.Errorf("event %d is %+v, want %+v", i, got, want[i])
		}
	}
	// The signature is over the exact body.
	body := rcv.bodies[0]
	if VerifySignature([]byte("other secret"), body, Sign(rcv.secret, body)) ||
		VerifySignature(rcv.secret, append(bytes.Clone(body), ' '), Sign(rcv.secret, body)) {
		t.Fatal("signature verifies with another secret or another body")
	}
}

func TestWebhookRetries(t *testing.T) {
	for _, tc := range []struct {
		name     string
		answers  []int
		attempts int
		ok       bool
		requests int
	}{
		{"recovers after 5xx and 429", []int{503, 429, 500, 200}, 6, true, 4},
		{"gives up after the attempts", []int{502, 502, 502, 502, 502, 502, 502}, 3, false, 3},
		{"gives up after the default 6 attempts (README)", []int{502, 502, 502, 502, 502, 502, 502}, 0, false, 6},
		{"does not retry a 400", []int{400, 200}, 6, false, 1},
		{"does not retry a 401", []int{401, 200}, 6, false, 1},
		{"retries a 408", []int{408, 200}, 6, true, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rcv := newReceiver(t, func(r *receiver) int { return tc.answers[r.requests-1] })
			w, err := NewWebhook(rcv.srv.URL, WebhookOptions{Secret: rcv.secret, Attempts: tc.attempts, Backoff: time.Millisecond, MaxWait: 5 * time.Millisecond})
			if err != nil {
				t.Fatal(err)
			}
			err = w.Write(context.Background(), sinkEvents(0, 3))
			if (err == nil) != tc.ok || rcv.count() != tc.requests {
				t.Fatalf("Write = %v after %d requests; want ok=%v after %d", err, rcv.count(), tc.ok, tc.requests)
			}
			for _, b := range rcv.bodies[1:] {
				if !bytes.Equal(b, rcv.bodies[0]) {
					t.Fatal("a retry sent another body")
				}
			}
		})
	}
}

func TestWebhookStopsAtTheDeadline(t *testing.T) {
	rcv := newReceiver(t, func(*receiver) int { return http.StatusServiceUnavailable })
	w, err := NewWebhook(rcv.srv.URL, WebhookOptions{Secret: rcv.secret, Attempts: 1000, Backoff: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Millisecond)
	defer cancel()
	start := time.Now()
	if err := w.Write(ctx, sinkEvents(0, 1)); err == nil {
		t.Fatal("Write to a failing endpoint succeeded")
	}
	if d := time.Since(start); d > time.Second {
		t.Fatalf("Write took %v past a 150ms deadline", d)
	}
}

// TestWebhookThroughDispatcher delivers every committed event, in order,
// through the Dispatcher as the server does.
func TestWebhookThroughDispatcher(t *testing.T) {
	rcv := newReceiver(t, func(*receiver) int { return http.StatusOK })
	w, err := NewWebhook(rcv.srv.URL, WebhookOptions{Secret: rcv.secret})
	if err != nil {
		t.Fatal(err)
	}
	l := openLog(t)
	rec := newRecorder()
	d, err := NewDispatcher(context.Background(), []Sink{w}, fast(l, rec))
	if err != nil {
		t.Fatal(err)
	}
	l.add(t, d, 2000, 20)
	if err := d.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := rec.failures(w.Name()); n != 0 {
		t.Fatalf("%d failed writes", n)
	}
	if dups := checkSeqs(t, "webhook", seqsOf(rcv.received()), 0, 2000); dups != 0 {
		t.Errorf("%d events received twice", dups)
	}
	t.Logf("2000 events in %d requests", rcv.count())
}

func (r *receiver) received() []event.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]event.Event(nil), r.events...)
}

// TestWebhookOutageLosesNothing takes the webhook receiver down (its
// listener closed: connections are refused) for -sink.outage (10 s) while
// events are committed, then brings it back on the same address:
// afterwards it has received every seq, in order, and the lag is back to 0
// within 30 s.
func TestWebhookOutageLosesNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("stops the webhook receiver for 10 s; skipped with -short")
	}
	t.Parallel()
	rcv := newReceiver(t, func(*receiver) int { return http.StatusOK })
	addr := rcv.srv.Listener.Addr().String()
	w, err := NewWebhook(rcv.srv.URL, WebhookOptions{Secret: rcv.secret, Backoff: 50 * time.Millisecond, MaxWait: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	l := openLog(t)
	rec := newRecorder()
	opt := Options{Log: l, Cursors: l, Reporter: rec, Logger: quiet, WriteTimeout: 2 * time.Second}
	d, err := NewDispatcher(context.Background(), []Sink{w}, opt)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close(context.Background())

	g := startLoad(l, d, 20, 10*time.Millisecond)
	time.Sleep(2 * time.Second)
	g.setPhase("down")
	rcv.srv.Close() // the receiver is gone: connections are refused
	time.Sleep(*outage)
	_, highest := rec.lagOf(w.Name())
	g.setPhase("back")
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("listening again on %s: %v", addr, err)
	}
	back := &http.Server{Handler: rcv.srv.Config.Handler}
	go back.Serve(ln)
	defer back.Close()
	time.Sleep(time.Second)
	g.finish(t)
	size := l.size(t)

	start := time.Now()
	waitfor.Until(t, 30*time.Second, "the webhook sink to catch up and save its cursor", func() bool { n, _ := d.Lag(w.Name()); return n == 0 && l.cursor(t, w) == size })
	caughtUp := time.Since(start)
	got := seqsOf(rcv.received())
	dups := checkSeqs(t, "webhook", got, 0, size)
	if highest == 0 {
		t.Error("the lag stayed 0 while the receiver was down")
	}
	up99, nUp := g.quantile("up", .99)
	down99, nDown := g.quantile("down", .99)
	t.Logf("webhook down %v: %d events, %d received (%d twice), highest lag %d, caught up %v after the end; %d failed writes; commit p99 %v up (%d commits), %v down (%d commits)",
		*outage, size, len(got), dups, highest, caughtUp.Round(time.Millisecond), rec.failures(w.Name()), up99, nUp, down99, nDown)
}

func TestWebhookSecret(t *testing.T) {
	dir := t.TempDir()
	t.Setenv(WebhookSecretEnv, "")
	s1, where, err := WebhookSecret("", dir)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, WebhookSecretFile)
	if where != path || len(s1) != 64 {
		t.Fatalf("secret %q from %s", s1, where)
	}
	if st, err := os.Stat(path); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("secret file: %v, mode %v", err, st.Mode())
	}
	s2, _, err := WebhookSecret("", dir)
	if err != nil || !bytes.Equal(s1, s2) {
		t.Fatalf("second read: %q, %v; want the same secret", s2, err)
	}
	t.Setenv(WebhookSecretEnv, "from-env")
	if s, where, _ := WebhookSecret("", dir); string(s) != "from-env" || where != WebhookSecretEnv {
		t.Fatalf("with %s set: %q from %s", WebhookSecretEnv, s, where)
	}
	if s, _, _ := WebhookSecret("explicit", dir); string(s) != "explicit" {
		t.Fatalf("explicit secret: %q", s)
	}
	t.Setenv(WebhookSecretEnv, "")
	if _, _, err := WebhookSecret("", ""); !errors.Is(err, auditerr.ErrInvalidConfig) {
		t.Fatalf("no secret anywhere: %v", err)
	}
}

func TestWebhookSpecs(t *testing.T) {
	t.Setenv(WebhookSecretEnv, "")
	dir := t.TempDir()
	s, err := ParseWith("https://user:pw@hooks.example.org/audit?token=x", ParseOptions{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if s.Name() != "webhook:https://hooks.example.org/audit" {
		t.Errorf("Name() = %q", s.Name())
	}
	s.Close()
	if _, err := os.Stat(filepath.Join(dir, WebhookSecretFile)); err != nil {
		t.Errorf("secret not created in the data directory: %v", err)
	}
	for _, spec := range []string{"https://", "http:///path", "https://example.org/hook"} {
		if _, err := Parse(spec); !errors.Is(err, auditerr.ErrInvalidConfig) || strings.Contains(err.Error(), "pw") {
			t.Errorf("Parse(%q) without a secret = %v, want invalid_config", spec, err)
		}
	}
}
