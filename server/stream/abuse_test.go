package stream_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stigaudit/stigaudit/core/event"
	"github.com/stigaudit/stigaudit/hostfns/sqlitestore"
	"github.com/stigaudit/stigaudit/internal/waitfor"
	"github.com/stigaudit/stigaudit/server/auth"
	"github.com/stigaudit/stigaudit/server/stream"
)

// rawStream sends a stream request on its own TCP connection, with a
// small receive buffer, reads the status line and headers, and then reads
// nothing more. It returns the connection and the status.
func (n *node) rawStream(t testing.TB, key string) (net.Conn, int, http.Header) {
	t.Helper()
	u, _ := url.Parse(n.srv.URL)
	d := net.Dialer{Control: func(_, _ string, c syscall.RawConn) error {
		return c.Control(func(fd uintptr) {
			_ = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096)
		})
	}}
	conn, err := d.Dial("tcp", u.Host)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	fmt.Fprintf(conn, "GET %s HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\n\r\n", stream.Route, u.Host, key)
	_ = conn.SetReadDeadline(time.Now().Add(30 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReaderSize(conn, 512), nil)
	if err != nil {
		t.Fatal(err)
	}
	_ = conn.SetReadDeadline(time.Time{})
	return conn, resp.StatusCode, resp.Header
}

// statusOf opens a stream with the ordinary client and closes it at once.
func (n *node) statusOf(t testing.TB, key string) (int, http.Header, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", n.srv.URL+stream.Route, nil)
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusOK {
		return resp.StatusCode, resp.Header, ""
	}
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b)
}

func TestStreamEndsWhenItsKeyIsRevoked(t *testing.T) {
	for _, by := range []string{"this process", "another process"} {
		t.Run(by, func(t *testing.T) {
			n := newNode(t, nodeOpts{})
			key := n.key(t, "acme", "urn:auditor", "audit.read")
			id := strings.Split(key, "_")[1]
			c := n.open(t, key, "", nil)
			n.emit(t, "acme", 0, 1)
			if evs := c.events(t, 1); len(evs) != 1 {
				t.Fatal("no live event before the revocation")
			}
			revoker := n.keys
			if by == "another process" {
				revoker = auth.New(n.log.Store().(*sqlitestore.Store).APIKeys(), auth.Options{}) // the CLI, on the same database
			}
			start := time.Now()
			if err := revoker.Revoke(ctx, id); err != nil {
				t.Fatal(err)
			}
			var end sse
			for {
				ev, err := c.next()
				if err != nil {
					t.Fatalf("the stream ended without an error event: %v", err)
				}
				if ev.typ == "error" {
					end = ev
					break
				}
			}
			took := time.Since(start)
			if !strings.Contains(end.data, `"code":"key_revoked"`) || !strings.Contains(end.data, "revoked") {
				t.Fatalf("final event %q, want code key_revoked", end.data)
			}
			if _, err := c.next(); err != io.EOF {
				t.Fatalf("the stream goes on after its error event: %v", err)
			}
			n.emit(t, "acme", 1, 1) // nothing more reaches the revoked key
			t.Logf("revoked by %s: the stream ended %v later", by, took)
			waitfor.Until(t, 10*time.Second, "the stream's place to be released", func() bool { return n.hub.Admitted() == 0 })
		})
	}
}

func TestStreamCapsPerKeyAndTenant(t *testing.T) {
	n := newNode(t, nodeOpts{hub: stream.HubOptions{MaxPerKey: 2, MaxPerTenant: 3}})
	a := n.key(t, "acme", "urn:a", "audit.read")
	b := n.key(t, "acme", "urn:b", "audit.read")
	other := n.key(t, "globex", "urn:g", "audit.read")
	n.open(t, a, "", nil)
	held := n.open(t, a, "", nil)
	status, hd, body := n.statusOf(t, a)
	if status != http.StatusTooManyRequests || hd.Get("Retry-After") == "" || !strings.Contains(body, `"too_many_streams"`) {
		t.Fatalf("third stream of one key: %d Retry-After %q %s", status, hd.Get("Retry-After"), body)
	}
	n.open(t, b, "", nil)
	status, _, body = n.statusOf(t, b)
	if status != http.StatusTooManyRequests || !strings.Contains(body, "tenant acme") {
		t.Fatalf("fourth stream of one tenant: %d %s", status, body)
	}
	n.open(t, other, "", nil) // another tenant is unaffected
	held.resp.Body.Close()
	waitfor.Until(t, 10*time.Second, "a closed stream to give its place back", func() bool { return n.hub.Admitted() == 3 })
	n.open(t, a, "", nil)
}

// TestThousandStreamsFromOneKey: 1,000 streams from one key that never
// read cannot stop another tenant's stream from opening.
func TestThousandStreamsFromOneKey(t *testing.T) {
	n := newNode(t, nodeOpts{})
	hog := n.key(t, "acme", "urn:hog", "audit.read")
	ok, refused := 0, 0
	for i := 0; i < 1000; i++ {
		conn, status, hd := n.rawStream(t, hog)
		switch status {
		case http.StatusOK:
			ok++
		case http.StatusTooManyRequests:
			refused++
			if hd.Get("Retry-After") == "" {
				t.Fatal("429 without Retry-After")
			}
			conn.Close()
		default:
			t.Fatalf("stream %d: status %d", i, status)
		}
	}
	if ok != stream.DefaultMaxPerKey || refused != 1000-stream.DefaultMaxPerKey {
		t.Fatalf("%d streams opened and %d refused, want %d and %d", ok, refused, stream.DefaultMaxPerKey, 1000-stream.DefaultMaxPerKey)
	}
	other := n.key(t, "globex", "urn:g", "audit.read")
	c := n.open(t, other, "", nil)
	n.emit(t, "globex", 0, 1)
	if evs := c.events(t, 1); len(evs) != 1 {
		t.Fatal("the other tenant's stream got no event")
	}
}

// TestNonReadingStreamIsCut: a reader that takes nothing — not even the
// heartbeats — is cut once a write has waited for the write timeout, and
// its place is given back.
func TestNonReadingStreamIsCut(t *testing.T) {
	n := newNode(t, nodeOpts{writeTimeout: 300 * time.Millisecond, heartbeat: 50 * time.Millisecond})
	key := n.key(t, "acme", "urn:auditor", "audit.read")
	_, status, _ := n.rawStream(t, key)
	if status != http.StatusOK {
		t.Fatalf("status %d", status)
	}
	waitfor.Until(t, 10*time.Second, "the stream to subscribe", func() bool { return n.hub.Readers() == 1 })
	detail := []byte(`{"blob":"` + strings.Repeat("x", 12000) + `"}`)
	for i := 0; n.hub.Admitted() > 0; i++ {
		if i == 100 {
			t.Fatal("a reader that reads nothing was never cut")
		}
		drafts := make([]event.Draft, 50)
		for j := range drafts {
			drafts[j] = event.Draft{Type: "fact_write", Tenant: "acme", EntityURI: "urn:p", Detail: detail}
		}
		if _, err := n.log.EmitBatch(ctx, drafts); err != nil {
			t.Fatal(err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if n.hub.Readers() != 0 {
		t.Fatalf("%d readers left", n.hub.Readers())
	}
}

func TestStreamEndsWhenItsKeyExpires(t *testing.T) {
	n := newNode(t, nodeOpts{})
	key, _, err := n.keys.Create(ctx, auth.Spec{Tenant: "acme", EntityURI: "urn:auditor", Perms: auth.PermAuditRead, ExpiresAt: time.Now().Add(time.Second)})
	if err != nil {
		t.Fatal(err)
	}
	c := n.open(t, key, "", nil)
	for {
		ev, err := c.next()
		if err != nil {
			t.Fatalf("the stream ended without an error event: %v", err)
		}
		if ev.typ == "error" {
			if !strings.Contains(ev.data, `"code":"key_expired"`) {
				t.Fatalf("final event %q, want key_expired", ev.data)
			}
			return
		}
	}
}
