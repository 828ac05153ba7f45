package api

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stigaudit/stigaudit/core/auditerr"
	"github.com/stigaudit/stigaudit/internal/waitfor"
)

// TestQueryValidation: a query the URL parser refuses, or one with more
// than MaxQueryParams parameters, is a 400 invalid_query on every route —
// never an answer that silently dropped the filters (Go's net/url stops
// at 10,000 parameters and echo discarded the error).
func TestQueryValidation(t *testing.T) {
	h := newHarness(t)
	w := h.key("w", "a", "urn:w", "audit.write,audit.read")
	h.mustEmit(w, ev("fact_read", "urn:u"))
	h.mustEmit(w, ev("fact_write", "urn:u"))
	many := func(n int, p string) string {
		return strings.TrimSuffix(strings.Repeat(p+"&", n), "&")
	}
	for _, tc := range []struct {
		name, target string
	}{
		{"10001 parameters, filter first", "/v1/audit?event_type=fact_write&" + many(10000, "x=1")},
		{"10001 parameters, filter last", "/v1/audit?" + many(10000, "x=1") + "&event_type=fact_write"},
		{"201 parameters", "/v1/audit?" + many(201, "event_type=fact_write")},
		{"bad escape beside a filter", "/v1/audit?event_type=fact_write&x=%zz"},
		{"semicolon separator", "/v1/audit?event_type=fact_write;limit=1"},
		{"admin route", "/v1/admin/audit?tenant_id=a&q=%"},
		{"unknown route", "/v1/nope?" + many(300, "a=b")},
		{"health", "/healthz?%gg"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := h.do(http.MethodGet, tc.target, w, nil)
			if a.status != 400 || a.code() != "invalid_query" {
				t.Fatalf("%d %s", a.status, clipBytes(a.raw))
			}
		})
	}
	if n := value(t, h.reg, "stigaudit_http_requests_total", map[string]string{"code": "400", "route": "unmatched"}); n != 8 {
		t.Errorf("refused queries counted %v times, want 8", n)
	}
	// At the limit the query is read whole: 200 repeated filters filter.
	a := h.do(http.MethodGet, "/v1/audit?"+many(200, "event_type=fact_write"), w, nil)
	if a.status != 200 || len(a.events()) != 1 || a.events()[0]["event_type"] != "fact_write" {
		t.Fatalf("200 parameters: %d %s", a.status, clipBytes(a.raw))
	}
}

func clipBytes(b []byte) string {
	if len(b) > 300 {
		return string(b[:300]) + "..."
	}
	return string(b)
}

// boundServer serves h.e behind Bound on a real listener.
func boundServer(t *testing.T, h *harness, b Bounds) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(Bound(h.e, b))
	t.Cleanup(srv.Close)
	return srv
}

// rawPost starts a POST of a body of n bytes on a new connection and
// returns the connection after sending the header.
func rawPost(t *testing.T, srv *httptest.Server, key string, n int) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	fmt.Fprintf(c, "POST /v1/audit/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n", key, n)
	return c
}

// TestSlowBodyIsCut: a body that trickles is answered 408 request_timeout
// after the grace, however long it claims to be; a body sent at once is
// served.
func TestSlowBodyIsCut(t *testing.T) {
	h := newHarness(t)
	w := h.key("w", "a", "urn:w", "audit.write")
	srv := boundServer(t, h, Bounds{BodyGrace: 300 * time.Millisecond, BodyMinRate: 1024, BodyTimeout: 3 * time.Second})

	c := rawPost(t, srv, w, 100000)
	start := time.Now()
	stop := make(chan struct{})
	defer close(stop)
	go func() { // one byte every 50 ms: 20 B/s
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			case <-time.After(50 * time.Millisecond):
			}
			if _, err := c.Write([]byte{"{ "[min(i, 1)]}); err != nil {
				return
			}
		}
	}()
	c.SetReadDeadline(time.Now().Add(20 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("no answer to a trickling body: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	took := time.Since(start)
	if resp.StatusCode != http.StatusRequestTimeout || !strings.Contains(string(body), `"request_timeout"`) {
		t.Fatalf("trickling body: %d %s", resp.StatusCode, body)
	}
	if took > 10*time.Second {
		t.Errorf("a 20 B/s body was cut after %v; the grace is 300ms", took)
	}
	t.Logf("20 B/s body cut after %v: %s", took.Round(time.Millisecond), body)

	// A body that keeps the rate but never ends is cut at BodyTimeout.
	c2 := rawPost(t, srv, w, 1<<20)
	start = time.Now()
	go func() {
		c2.Write([]byte("{"))
		for {
			select {
			case <-stop:
				return
			case <-time.After(100 * time.Millisecond):
			}
			if _, err := c2.Write([]byte(strings.Repeat(" ", 400))); err != nil { // 4 KiB/s
				return
			}
		}
	}()
	c2.SetReadDeadline(time.Now().Add(20 * time.Second))
	resp, err = http.ReadResponse(bufio.NewReader(c2), nil)
	if err != nil {
		t.Fatalf("no answer to an endless body: %v", err)
	}
	resp.Body.Close()
	if took := time.Since(start); resp.StatusCode != http.StatusRequestTimeout || took < 2*time.Second {
		t.Fatalf("endless body at 4 KiB/s: %d after %v, want 408 after the 3s body timeout", resp.StatusCode, took)
	}

	// A body sent at once is served.
	client := srv.Client()
	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/v1/audit/events", strings.NewReader(`{"event_type":"fact_read","entity_uri":"urn:u"}`))
	req.Header.Set("Authorization", "Bearer "+w)
	resp, err = client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("a prompt body: %d", resp.StatusCode)
	}
	if n := value(t, h.reg, "stigaudit_http_requests_total", map[string]string{"code": "408"}); n != 2 {
		t.Errorf("408 counted %v times, want 2", n)
	}
}

// TestHangUpIs499: a client that hangs up in the middle of its body is not
// a server error: it is counted as 499 and nothing is stored.
func TestHangUpIs499(t *testing.T) {
	h := newHarness(t)
	w := h.key("w", "a", "urn:w", "audit.write")
	srv := boundServer(t, h, Bounds{})
	for i := 0; i < 5; i++ {
		c := rawPost(t, srv, w, 1000)
		c.Write([]byte(`{"event_type":"fact_read",`))
		time.Sleep(20 * time.Millisecond)
		c.Close()
	}
	waitfor.Until(t, 10*time.Second, "five hang-ups counted as 499", func() bool {
		return value(t, h.reg, "stigaudit_http_requests_total", map[string]string{"code": "499"}) >= 5
	})
	for _, code := range []string{"400", "500", "503"} {
		if n := value(t, h.reg, "stigaudit_http_requests_total", map[string]string{"code": code}); n != 0 {
			t.Errorf("a hang-up was counted as %s (%v times)", code, n)
		}
	}
	if h.size() != 0 {
		t.Errorf("a hung-up request stored events")
	}

	// A read whose client is gone by the time it reaches the store (the
	// store then fails with the cancelled context): 499, not a 5xx (it was
	// a 500).
	hs := newHarnessOn(t, "sqlite")
	r := hs.key("r", "a", "urn:r", "audit.read")
	hs.do(http.MethodGet, "/v1/audit", r, nil) // the key is verified and cached
	for _, target := range []string{"/v1/audit", "/v1/admin/audit", "/v1/audit/facts/f1"} {
		ctx, cancel := context.WithCancel(context.Background())
		req := httptest.NewRequest(http.MethodGet, target, nil).WithContext(ctx)
		req.Header.Set("Authorization", "Bearer "+r)
		cancel()
		rec := httptest.NewRecorder()
		hs.e.ServeHTTP(rec, req)
		if rec.Code >= 500 || rec.Body.Len() > 0 && rec.Code != 200 {
			t.Errorf("GET %s after a hang-up: %d %s", target, rec.Code, rec.Body)
		}
	}
	for _, code := range []string{"500", "503"} {
		if n := value(t, hs.reg, "stigaudit_http_requests_total", map[string]string{"code": code}); n != 0 {
			t.Errorf("an aborted read was counted as %s (%v times)", code, n)
		}
	}
	if n := value(t, hs.reg, "stigaudit_http_requests_total", map[string]string{"code": "499"}); n == 0 {
		t.Errorf("no aborted read was counted as 499")
	}
}

// TestWriteDeadlines: an ordinary answer must be delivered within the
// write timeout, so a client that does not read cannot hold it; a
// streaming path moves the deadline at each write, so a reader that keeps
// reading gets the whole stream however long it runs.
func TestWriteDeadlines(t *testing.T) {
	chunk := []byte(strings.Repeat("x", 1024) + "\n")
	mux := http.NewServeMux()
	mux.HandleFunc("/big", func(w http.ResponseWriter, r *http.Request) {
		for i := 0; i < 64<<10; i++ { // 64 MiB, more than any socket buffer
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
	})
	mux.HandleFunc("/stream", func(w http.ResponseWriter, r *http.Request) {
		rc := http.NewResponseController(w)
		for i := 0; i < 15; i++ {
			if _, err := w.Write(chunk); err != nil {
				return
			}
			rc.Flush()
			time.Sleep(100 * time.Millisecond)
		}
	})
	mux.HandleFunc("/own", func(w http.ResponseWriter, r *http.Request) {
		http.NewResponseController(w).SetWriteDeadline(time.Now().Add(20 * time.Second))
		for i := 0; i < 8<<10; i++ { // 8 MiB
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
	})
	srv := httptest.NewServer(Bound(mux, Bounds{WriteTimeout: 500 * time.Millisecond, Streaming: []string{"/stream"}, OwnDeadlines: []string{"/own"}}))
	defer srv.Close()

	// A stream of 1.5 s read as it comes: whole.
	resp, err := http.Get(srv.URL + "/stream")
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || len(b) != 15*len(chunk) {
		t.Fatalf("stream read as it came: %d bytes, %v; want %d", len(b), err, 15*len(chunk))
	}

	// An ordinary answer to a client that stops reading: cut.
	d := net.Dialer{Control: func(_, _ string, rc syscall.RawConn) error {
		return rc.Control(func(fd uintptr) { syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096) })
	}}
	c, err := d.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprintf(c, "GET /big HTTP/1.1\r\nHost: x\r\n\r\n")
	time.Sleep(2 * time.Second) // 4× the write timeout without reading
	c.SetReadDeadline(time.Now().Add(20 * time.Second))
	n, err := io.Copy(io.Discard, c)
	if n >= 64<<20 {
		t.Fatalf("a client that stopped reading still got the whole answer (%d bytes, %v)", n, err)
	}
	t.Logf("a client that stopped reading for 2s got %d bytes before the cut (%v)", n, err)

	// A path that sets its own deadline keeps it: a pause longer than
	// WriteTimeout does not cut it.
	c3, err := d.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c3.Close()
	fmt.Fprintf(c3, "GET /own HTTP/1.1\r\nHost: x\r\n\r\n")
	time.Sleep(1500 * time.Millisecond)
	c3.SetReadDeadline(time.Now().Add(20 * time.Second))
	resp, err = http.ReadResponse(bufio.NewReader(c3), nil)
	if err != nil {
		t.Fatal(err)
	}
	n, err = io.Copy(io.Discard, resp.Body)
	if err != nil || n != 8<<10*int64(len(chunk)) {
		t.Fatalf("a handler with its own deadline was cut: %d bytes, %v", n, err)
	}
}

// TestErrorTexts: messages name the cause, not a Go package; a 503 says
// what is unavailable and when to retry.
func TestErrorTexts(t *testing.T) {
	for _, tc := range []struct {
		err    error
		status int
		want   string
	}{
		{auditerr.Errorf(auditerr.ErrNotFound, "sqlitestore: no event with id x"), 404, `"no event with id x"`},
		{auditerr.Errorf(auditerr.ErrNotFound, "pgstore: leaves [1, 2) not stored (found 0)"), 404, `"leaves [1, 2) not stored (found 0)"`},
		{fmt.Errorf("%w: %w", auditerr.Errorf(auditerr.ErrStoreUnavailable, "sqlitestore: append"), errors.New("disk I/O error")), 503,
			`"the store could not commit or answer"`},
	} {
		got := string(errorBody(tc.err, tc.status))
		if !strings.Contains(got, tc.want) || strings.Contains(got, "store:") || strings.Contains(got, "disk") {
			t.Errorf("%v: %s, want the message %s", tc.err, got, tc.want)
		}
	}
	h := newHarness(t)
	w := h.key("w", "a", "urn:w", "audit.write")
	h.store.SetDown(true)
	req := httptest.NewRequest(http.MethodPost, "/v1/audit/events", strings.NewReader(`{"event_type":"fact_write","entity_uri":"urn:u"}`))
	req.Header.Set("Authorization", "Bearer "+w)
	rec := httptest.NewRecorder()
	h.e.ServeHTTP(rec, req)
	if rec.Code != 503 || rec.Header().Get("Retry-After") == "" {
		t.Errorf("store down: %d, Retry-After %q", rec.Code, rec.Header().Get("Retry-After"))
	}
}

// TestBatchByteRule: the byte rule is the request body (1 MiB), which a
// client can count; a 1000-event batch of about 825 KB is stored (the old
// 512-bytes-per-event estimate refused it).
func TestBatchByteRule(t *testing.T) {
	h := newHarness(t)
	w := h.key("w", "a", "urn:w", "audit.write")
	pad := strings.Repeat("p", 740)
	events := make([]any, 1000)
	for i := range events {
		events[i] = ev("fact_read", "urn:u", "detail", map[string]any{"pad": pad})
	}
	a := h.emit(w, map[string]any{"events": events})
	if a.status != 201 || len(a.events()) != 1000 {
		t.Fatalf("a 1000-event batch of ~825 KB: %d %s", a.status, clipBytes(a.raw))
	}
	// One byte over 1 MiB of request: 413, and the message states the rule.
	body := `{"event_type":"fact_read","entity_uri":"urn:u","detail":{"pad":"`
	body += strings.Repeat("p", h.log.Limits().MaxRequestBytes-len(body)-3+1) + `"}}`
	a = h.emit(w, body)
	if a.status != 413 || a.code() != "too_large" || !strings.Contains(string(a.raw), strconv.Itoa(h.log.Limits().MaxRequestBytes)) {
		t.Fatalf("1 MiB + 1 byte: %d %s", a.status, clipBytes(a.raw))
	}
}

// BenchmarkBound measures what Bound adds to a small POST over a
// keep-alive loopback connection: the read deadlines moved per body read
// and the write deadline set at the first byte.
func BenchmarkBound(b *testing.B) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.WriteHeader(http.StatusCreated)
		w.Write([]byte(`{"seq":1}`))
	})
	body := strings.Repeat("x", 300)
	for _, tc := range []struct {
		name string
		h    http.Handler
	}{{"plain", h}, {"bound", Bound(h, Bounds{})}} {
		b.Run(tc.name, func(b *testing.B) {
			srv := httptest.NewServer(tc.h)
			defer srv.Close()
			client := srv.Client()
			b.ReportAllocs()
			for b.Loop() {
				resp, err := client.Post(srv.URL, "application/json", strings.NewReader(body))
				if err != nil {
					b.Fatal(err)
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		})
	}
}
