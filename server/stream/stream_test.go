package stream_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stigaudit/stigaudit"
	"github.com/stigaudit/stigaudit/core/event"
	"github.com/stigaudit/stigaudit/hostfns/sqlitestore"
	"github.com/stigaudit/stigaudit/internal/waitfor"
	"github.com/stigaudit/stigaudit/server"
	"github.com/stigaudit/stigaudit/server/auth"
	"github.com/stigaudit/stigaudit/server/redact"
	"github.com/stigaudit/stigaudit/server/stream"
)

var ctx = context.Background()

type node struct {
	log  *stigaudit.Log
	keys *auth.Keys
	hub  *stream.Hub
	srv  *httptest.Server
}

type nodeOpts struct {
	hub          stream.HubOptions
	heartbeat    time.Duration
	writeTimeout time.Duration
	synchronous  string
}

func newNode(t testing.TB, o nodeOpts) *node {
	t.Helper()
	if o.synchronous == "" {
		o.synchronous = "NORMAL"
	}
	store, err := sqlitestore.Open(filepath.Join(t.TempDir(), "stigaudit.db"), sqlitestore.Options{Synchronous: o.synchronous})
	if err != nil {
		t.Fatal(err)
	}
	n := &node{hub: stream.NewHub(o.hub)}
	n.log, err = stigaudit.Open(stigaudit.Options{Store: store, Observer: stream.Tee(nil, n.hub)})
	if err != nil {
		t.Fatal(err)
	}
	n.keys = auth.New(store.APIKeys(), auth.Options{Params: auth.Params{Time: 1, Memory: 64, Threads: 1}})
	hasher, err := redact.NewHasher(make([]byte, redact.SaltSize))
	if err != nil {
		t.Fatal(err)
	}
	prof, _ := redact.ParseProfile("entity_uri,oidc_sub")
	srv, err := server.New(server.Config{
		Log: n.log, Keys: n.keys, Store: store, Hub: n.hub, Redaction: redact.NewPolicy(hasher, prof, nil),
		StreamHeartbeat: o.heartbeat, StreamWriteTimeout: o.writeTimeout,
	})
	if err != nil {
		t.Fatal(err)
	}
	n.srv = httptest.NewServer(srv)
	t.Cleanup(func() {
		n.hub.Close()
		n.srv.Close()
		n.log.Close()
	})
	return n
}

func (n *node) key(t testing.TB, tenant, entity, perms string) string {
	t.Helper()
	ps, err := auth.ParsePerms(perms)
	if err != nil {
		t.Fatal(err)
	}
	k, _, err := n.keys.Create(ctx, auth.Spec{Tenant: tenant, EntityURI: entity, Perms: ps})
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// emit stores n events of tenant, numbered from first in fact_id.
func (n *node) emit(t testing.TB, tenant string, first, count int) {
	t.Helper()
	for i := first; i < first+count; i++ {
		if _, err := n.log.Emit(ctx, event.Draft{
			Type: "fact_write", Tenant: tenant, EntityURI: "urn:person:alice", OIDCSub: "alice@example.com",
			FactID: "f" + strconv.Itoa(i),
		}); err != nil {
			t.Fatal(err)
		}
	}
}

// sse is one server-sent event.
type sse struct {
	id, typ, data string
	at            time.Time
}

// client is an open stream.
type client struct {
	resp *http.Response
	r    *bufio.Reader
}

func (n *node) open(t testing.TB, key, query string, header map[string]string) *client {
	t.Helper()
	req, _ := http.NewRequest("GET", n.srv.URL+stream.Route+query, nil)
	req.Header.Set("Authorization", "Bearer "+key)
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("status %d: %s", resp.StatusCode, b)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("content type %q", ct)
	}
	c := &client{resp: resp, r: bufio.NewReader(resp.Body)}
	t.Cleanup(func() { resp.Body.Close() })
	return c
}

// next returns the next event (skipping comments), or an error at the end.
func (c *client) next() (sse, error) {
	var ev sse
	for {
		line, err := c.r.ReadString('\n')
		if err != nil {
			return ev, err
		}
		line = strings.TrimSuffix(line, "\n")
		switch {
		case line == "":
			if ev.data != "" || ev.typ != "" {
				ev.at = time.Now()
				return ev, nil
			}
		case strings.HasPrefix(line, ":"), strings.HasPrefix(line, "retry:"):
		case strings.HasPrefix(line, "id: "):
			ev.id = line[4:]
		case strings.HasPrefix(line, "event: "):
			ev.typ = line[7:]
		case strings.HasPrefix(line, "data: "):
			ev.data = line[6:]
		default:
			return ev, fmt.Errorf("unexpected line %q", line)
		}
	}
}

// events reads count events and checks that each is an event whose id is
// its seq.
func (c *client) events(t testing.TB, count int) []event.Event {
	t.Helper()
	out := make([]event.Event, 0, count)
	for len(out) < count {
		ev, err := c.next()
		if err != nil {
			t.Fatalf("after %d events: %v", len(out), err)
		}
		if ev.typ != "" {
			t.Fatalf("after %d events: event %q %s", len(out), ev.typ, ev.data)
		}
		e, err := event.ParseEvent([]byte(ev.data))
		if err != nil {
			t.Fatal(err)
		}
		if ev.id != strconv.FormatInt(e.Seq, 10) {
			t.Fatalf("id %s for seq %d", ev.id, e.Seq)
		}
		out = append(out, e)
	}
	return out
}

func seqs(evs []event.Event) []int64 {
	out := make([]int64, len(evs))
	for i := range evs {
		out[i] = evs[i].Seq
	}
	return out
}

func contiguous(t testing.TB, evs []event.Event, from int64) {
	t.Helper()
	for i := range evs {
		if evs[i].Seq != from+int64(i) {
			t.Fatalf("event %d has seq %d, want %d (got %v)", i, evs[i].Seq, from+int64(i), seqs(evs))
		}
	}
}

func TestStreamCatchUpThenLive(t *testing.T) {
	n := newNode(t, nodeOpts{})
	key := n.key(t, "acme", "urn:auditor", "audit.read")
	n.emit(t, "acme", 0, 2500) // more than two store pages
	c := n.open(t, key, "?from=0", nil)
	contiguous(t, c.events(t, 2500), 0)
	n.emit(t, "acme", 2500, 30)
	contiguous(t, c.events(t, 30), 2500)

	// Resume: Last-Event-ID wins over from.
	r := n.open(t, key, "?from=0", map[string]string{"Last-Event-ID": "2519"})
	contiguous(t, r.events(t, 10), 2520)

	// No position: the tail, new events only.
	tail := n.open(t, key, "", nil)
	n.emit(t, "acme", 2530, 3)
	contiguous(t, tail.events(t, 3), 2530)
	contiguous(t, c.events(t, 3), 2530)
}

func TestStreamFilters(t *testing.T) {
	n := newNode(t, nodeOpts{})
	acme := n.key(t, "acme", "urn:auditor", "audit.read")
	admin := n.key(t, "ops", "urn:root", "admin")
	n.emit(t, "acme", 0, 5)
	n.emit(t, "globex", 5, 5)
	all := n.open(t, admin, "?from=0", nil)
	mine := n.open(t, acme, "?from=0", nil)
	facts := n.open(t, acme, "?from=0&fact_id=f3", nil)
	red := n.open(t, acme, "?from=0&redact=hmac", nil)
	n.emit(t, "globex", 10, 5)
	n.emit(t, "acme", 15, 5)
	n.emit(t, "acme", 3, 1) // f3 again

	if got := all.events(t, 21); got[20].Seq != 20 {
		t.Fatalf("admin stream: %v", seqs(got))
	}
	got := mine.events(t, 11)
	for _, e := range got {
		if e.Tenant != "acme" {
			t.Fatalf("tenant %s in acme's stream: %v", e.Tenant, seqs(got))
		}
	}
	if s := seqs(got); s[4] != 4 || s[5] != 15 || s[10] != 20 {
		t.Fatalf("acme's stream: %v", s)
	}
	if s := seqs(facts.events(t, 2)); s[0] != 3 || s[1] != 20 {
		t.Fatalf("fact_id=f3: %v", s)
	}
	for _, e := range red.events(t, 11) {
		if strings.Contains(e.EntityURI+e.OIDCSub, "alice") || !strings.HasPrefix(e.OIDCSub, redact.Prefix) {
			t.Fatalf("redacted stream shows %s %s", e.EntityURI, e.OIDCSub)
		}
	}
}

func TestStreamRefused(t *testing.T) {
	n := newNode(t, nodeOpts{})
	for _, tc := range []struct {
		name, perms, query string
		header             map[string]string
		status             int
	}{
		{"read key", "read", "", nil, 403},
		{"write key", "audit.write", "", nil, 403},
		{"limit", "audit.read", "?limit=5", nil, 400},
		{"cursor", "audit.read", "?cursor=abc", nil, 400},
		{"bad from", "audit.read", "?from=-1", nil, 400},
		{"bad Last-Event-ID", "audit.read", "", map[string]string{"Last-Event-ID": "x"}, 400},
		{"bad filter", "audit.read", "?outcome=maybe", nil, 400},
		{"other tenant", "audit.read", "?tenant_id=globex", nil, 403},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest("GET", n.srv.URL+stream.Route+tc.query, nil)
			req.Header.Set("Authorization", "Bearer "+n.key(t, "acme", "urn:x", tc.perms))
			for k, v := range tc.header {
				req.Header.Set(k, v)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d", resp.StatusCode, tc.status)
			}
		})
	}
}

func TestStreamHeartbeatAndClose(t *testing.T) {
	n := newNode(t, nodeOpts{heartbeat: 20 * time.Millisecond})
	key := n.key(t, "acme", "urn:auditor", "audit.read")
	c := n.open(t, key, "", nil)
	deadline := time.Now().Add(5 * time.Second)
	beats := 0
	for beats < 2 && time.Now().Before(deadline) {
		line, err := c.r.ReadString('\n')
		if err != nil {
			t.Fatal(err)
		}
		if line == ": heartbeat\n" {
			beats++
		}
	}
	if beats < 2 {
		t.Fatal("no heartbeats")
	}
	waitfor.Until(t, 10*time.Second, "the stream to subscribe", func() bool { return n.hub.Readers() > 0 })
	n.hub.Close()
	ev, err := c.next()
	if err != nil || ev.typ != "error" || !strings.Contains(ev.data, `"code":"closed"`) {
		t.Fatalf("after Close: %+v %v", ev, err)
	}
	if _, err := c.next(); err != io.EOF {
		t.Fatalf("the stream goes on after its error event: %v", err)
	}
}

// TestStreamSlowReader: a reader that stops reading is cut off once its
// queue is full, the Hub forgets it, and when it reads again its stream
// ends with an error event naming where to resume.
func TestStreamSlowReader(t *testing.T) {
	n := newNode(t, nodeOpts{hub: stream.HubOptions{MaxPending: 100}, writeTimeout: time.Minute})
	key := n.key(t, "acme", "urn:auditor", "audit.read")
	slow := n.open(t, key, "", nil)
	waitfor.Until(t, 10*time.Second, "the slow reader to subscribe", func() bool { return n.hub.Readers() >= 1 })
	// Big events, so that the reader's socket fills and its handler stops
	// taking from the queue; emit until the Hub cuts it off.
	detail := `{"blob":"` + strings.Repeat("x", 12000) + `"}`
	var last int64
	for i := 0; n.hub.Cuts() == 0; i++ {
		if i == 200 {
			t.Fatal("the reader was never cut off")
		}
		drafts := make([]event.Draft, 50)
		for j := range drafts {
			drafts[j] = event.Draft{Type: "fact_write", Tenant: "acme", EntityURI: "urn:p", Detail: []byte(detail)}
		}
		res, err := n.log.EmitBatch(ctx, drafts)
		if err != nil {
			t.Fatal(err)
		}
		last = res[len(res)-1].Event.Seq
	}
	if n.hub.Readers() != 0 {
		t.Fatalf("readers %d: the Hub still holds the cut reader", n.hub.Readers())
	}
	var end sse
	count := 0
	for {
		ev, err := slow.next()
		if err != nil {
			break
		}
		end = ev
		count++
	}
	if end.typ != "error" || !strings.Contains(end.data, `"code":"slow_reader"`) {
		t.Fatalf("the slow reader's stream ended with %+v after %d events", end, count)
	}
	var msg struct {
		LastEventID string `json:"last_event_id"`
	}
	if err := json.Unmarshal([]byte(end.data), &msg); err != nil || msg.LastEventID == "" {
		t.Fatalf("error event %s: %v", end.data, err)
	}
	// Resuming from there delivers the rest, from the store.
	from, _ := strconv.ParseInt(msg.LastEventID, 10, 64)
	resumed := n.open(t, key, "", map[string]string{"Last-Event-ID": msg.LastEventID})
	contiguous(t, resumed.events(t, int(last-from)), from+1)
}

// TestStreamManyReaders: 50 readers each see every event exactly once, in
// order, while several goroutines emit.
func TestStreamManyReaders(t *testing.T) {
	const readers, writers, each = 50, 4, 100
	n := newNode(t, nodeOpts{hub: stream.HubOptions{MaxPerKey: readers}})
	key := n.key(t, "acme", "urn:auditor", "audit.read")
	cs := make([]*client, readers)
	for i := range cs {
		cs[i] = n.open(t, key, "?from=0", nil)
	}
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			n.emit(t, "acme", w*each, each)
		}()
	}
	results := make([][]event.Event, readers)
	var rg sync.WaitGroup
	for i, c := range cs {
		rg.Add(1)
		go func() {
			defer rg.Done()
			results[i] = c.events(t, writers*each)
		}()
	}
	wg.Wait()
	rg.Wait()
	for i, got := range results {
		contiguous(t, got, 0)
		if i > 0 && got[len(got)-1].ID != results[0][len(got)-1].ID {
			t.Fatalf("reader %d saw another log", i)
		}
	}
}
