package api

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"
	_ "modernc.org/sqlite"

	"github.com/stigaudit/stigaudit"
	"github.com/stigaudit/stigaudit/core/auditerr"
	"github.com/stigaudit/stigaudit/hostfns"
	"github.com/stigaudit/stigaudit/hostfns/memstore"
	"github.com/stigaudit/stigaudit/hostfns/pgstore"
	"github.com/stigaudit/stigaudit/hostfns/pgstore/pgtest"
	"github.com/stigaudit/stigaudit/hostfns/sqlitestore"
	"github.com/stigaudit/stigaudit/hostfns/sqlquery"
	"github.com/stigaudit/stigaudit/hostfns/storetest"
	"github.com/stigaudit/stigaudit/migrations"
	"github.com/stigaudit/stigaudit/server/auth"
	"github.com/stigaudit/stigaudit/server/metrics"
)

// stepClock returns base, base+1µs, base+2µs, ... unless pinned with set.
type stepClock struct {
	mu   sync.Mutex
	next time.Time
}

func (c *stepClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := c.next
	c.next = c.next.Add(time.Microsecond)
	return t
}

func (c *stepClock) set(t time.Time) {
	c.mu.Lock()
	c.next = t
	c.mu.Unlock()
}

type harness struct {
	t      testing.TB
	e      *echo.Echo
	log    *stigaudit.Log
	store  *storetest.Faulty
	keys   *auth.Keys
	reg    *prometheus.Registry
	clock  *stepClock
	admin  string
	keyFor map[string]string
}

var quiet = slog.New(slog.DiscardHandler)

// storeKinds are the stores the API tests run over: the same HTTP-level
// suite for every store (PostgreSQL skips without STIGAUDIT_TEST_PG_DSN).
var storeKinds = []string{"memory", "sqlite", "postgres"}

// eachStore runs test once per store kind.
func eachStore(t *testing.T, test func(t *testing.T, kind string)) {
	for _, kind := range storeKinds {
		t.Run(kind, func(t *testing.T) { test(t, kind) })
	}
}

func newHarness(t *testing.T) *harness { return newHarnessOn(t, "memory") }

// newHarnessOn builds a server over a fresh store of the given kind: the
// memory store with keys in their own SQLite file, or the SQLite store
// holding both, as the binary runs it.
func newHarnessOn(t testing.TB, kind string) *harness {
	t.Helper()
	reg := prometheus.NewRegistry()
	m, err := metrics.New(metrics.Config{Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	var inner hostfns.Store
	var keyStore auth.KeyStore
	switch kind {
	case "memory":
		inner = memstore.New()
		db, err := sql.Open("sqlite", filepath.Join(t.TempDir(), "keys.db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		if err := migrations.Apply(context.Background(), db, migrations.SQLiteFiles(), migrations.SQLite); err != nil {
			t.Fatal(err)
		}
		keyStore = sqlquery.NewKeyTable(db, sqlquery.Question)
	case "sqlite":
		st, err := sqlitestore.Open(filepath.Join(t.TempDir(), "audit.db"), sqlitestore.Options{OnCommit: m.ObserveCommit})
		if err != nil {
			t.Fatal(err)
		}
		inner, keyStore = st, st.APIKeys()
	case "postgres":
		st, err := pgstore.Open(context.Background(), pgtest.DSN(t), pgstore.Options{OnCommit: m.ObserveCommit})
		if err != nil {
			t.Fatal(err)
		}
		inner, keyStore = st, st.APIKeys()
	default:
		t.Fatalf("unknown store kind %q", kind)
	}
	keys := auth.New(keyStore, auth.Options{Params: auth.Params{Time: 1, Memory: 64, Threads: 1}})
	store := storetest.NewFaulty(inner)
	clock := &stepClock{next: time.Date(2026, 5, 3, 12, 0, 0, 0, time.UTC)}
	l, err := stigaudit.Open(stigaudit.Options{Store: store, Clock: clock, Logger: quiet, Observer: m})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })

	h := &harness{t: t, log: l, store: store, keys: keys, reg: reg, clock: clock, keyFor: map[string]string{}}
	cfg := Config{Log: l, Keys: keys, Metrics: m, Logger: quiet}
	if sr, ok := inner.(StatsReader); ok {
		cfg.Stats = sr
	}
	h.e = mount(cfg, reg)
	h.admin = h.key("admin", "default", "urn:stigaudit:admin", "admin")
	return h
}

// key creates a key and remembers it under name.
func (h *harness) key(name, tenant, entity, perms string) string {
	h.t.Helper()
	ps, err := auth.ParsePerms(perms)
	if err != nil {
		h.t.Fatal(err)
	}
	text, _, err := h.keys.Create(context.Background(), auth.Spec{Tenant: tenant, EntityURI: entity, OIDCSub: "sub-" + name, Perms: ps})
	if err != nil {
		h.t.Fatal(err)
	}
	h.keyFor[name] = text
	return text
}

type answer struct {
	status int
	raw    []byte
	body   map[string]any
}

// code returns error.code of an error answer.
func (a answer) code() string {
	e, _ := a.body["error"].(map[string]any)
	c, _ := e["code"].(string)
	return c
}

func (a answer) events() []map[string]any {
	arr, _ := a.body["events"].([]any)
	out := make([]map[string]any, len(arr))
	for i, v := range arr {
		out[i], _ = v.(map[string]any)
	}
	return out
}

func (h *harness) do(method, target, key string, body any) answer {
	h.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			h.t.Fatal(err)
		}
		rd = bytes.NewReader(j)
	}
	req := httptest.NewRequest(method, target, rd)
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	rec := httptest.NewRecorder()
	h.e.ServeHTTP(rec, req)
	a := answer{status: rec.Code, raw: rec.Body.Bytes()}
	if ct := rec.Header().Get("Content-Type"); strings.HasPrefix(ct, "application/json") {
		if err := json.Unmarshal(a.raw, &a.body); err != nil {
			h.t.Fatalf("%s %s: answer is not JSON: %v: %s", method, target, err, a.raw)
		}
	}
	return a
}

func (h *harness) emit(key string, body any) answer {
	h.t.Helper()
	return h.do(http.MethodPost, "/v1/audit/events", key, body)
}

func (h *harness) mustEmit(key string, body any) map[string]any {
	h.t.Helper()
	a := h.emit(key, body)
	if a.status != http.StatusCreated {
		h.t.Fatalf("emit %v: status %d: %s", body, a.status, a.raw)
	}
	return a.body
}

func (h *harness) size() int64 {
	h.t.Helper()
	n, err := h.store.Size(context.Background())
	if err != nil {
		h.t.Fatal(err)
	}
	return n
}

func ev(typ, entity string, kv ...any) map[string]any {
	m := map[string]any{"event_type": typ, "entity_uri": entity}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i].(string)] = kv[i+1]
	}
	return m
}

func field(evs []map[string]any, name string) []any {
	out := make([]any, len(evs))
	for i, e := range evs {
		out[i] = e[name]
	}
	return out
}

func TestPermissionMatrix(t *testing.T) { eachStore(t, testPermissionMatrix) }

func testPermissionMatrix(t *testing.T, kind string) {
	h := newHarnessOn(t, kind)
	writerA := h.key("writerA", "a", "urn:a:writer", "audit.write")
	readAlice := h.key("readAlice", "a", "urn:a:alice", "read")
	auditA := h.key("auditA", "a", "urn:a:auditor", "audit.read")
	writerB := h.key("writerB", "b", "urn:b:writer", "audit.write")

	h.mustEmit(writerA, ev("fact_write", "urn:a:alice", "fact_id", "f1"))
	h.mustEmit(writerA, ev("fact_read", "urn:a:alice"))
	h.mustEmit(writerA, ev("fact_write", "urn:a:bob", "fact_id", "f2"))
	h.mustEmit(writerB, ev("fact_write", "urn:b:carol"))

	for _, tc := range []struct {
		name, key, target string
		status            int
		entities          []string // expected entity_uri, in answer order
	}{
		{"no key", "", "/v1/audit", 401, nil},
		{"garbage key", "sa_nope", "/v1/audit", 401, nil},
		{"read sees its own entity only", readAlice, "/v1/audit", 200, []string{"urn:a:alice", "urn:a:alice"}},
		{"read may not ask for another entity", readAlice, "/v1/audit?entity_uri=urn:a:bob", 403, nil},
		{"read may name its own entity", readAlice, "/v1/audit?entity_uri=urn:a:alice&event_type=fact_read", 200, []string{"urn:a:alice"}},
		{"read cannot use the admin listing", readAlice, "/v1/admin/audit", 403, nil},
		{"read fact trail is scoped too", readAlice, "/v1/audit/facts/f2", 200, []string{}},
		{"audit.read sees its tenant", auditA, "/v1/audit", 200, []string{"urn:a:bob", "urn:a:alice", "urn:a:alice"}},
		{"audit.read cannot see another tenant", auditA, "/v1/audit?tenant_id=b", 403, nil},
		{"audit.read may name its own tenant", auditA, "/v1/audit?tenant_id=A", 200, []string{"urn:a:bob", "urn:a:alice", "urn:a:alice"}},
		{"audit.read admin listing is oldest first", auditA, "/v1/admin/audit", 200, []string{"urn:a:alice", "urn:a:alice", "urn:a:bob"}},
		{"audit.read fact trail", auditA, "/v1/audit/facts/f2", 200, []string{"urn:a:bob"}},
		// The two 401s above were audited as auth_failed in tenant default.
		{"admin sees every tenant", h.admin, "/v1/audit", 200, []string{"urn:stigaudit:anonymous", "urn:stigaudit:anonymous", "urn:b:carol", "urn:a:bob", "urn:a:alice", "urn:a:alice"}},
		{"admin may pick a tenant", h.admin, "/v1/admin/audit?tenant_id=b", 200, []string{"urn:b:carol"}},
		{"audit.write alone cannot read", writerA, "/v1/audit", 403, nil},
		{"audit.write alone cannot read the admin listing", writerA, "/v1/admin/audit", 403, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := h.do(http.MethodGet, tc.target, tc.key, nil)
			if a.status != tc.status {
				t.Fatalf("status %d, want %d: %s", a.status, tc.status, a.raw)
			}
			if tc.status != 200 {
				want := map[int]string{401: "unauthorized", 403: "forbidden"}[tc.status]
				if a.code() != want {
					t.Errorf("code %q, want %q", a.code(), want)
				}
				return
			}
			got := field(a.events(), "entity_uri")
			if fmt.Sprint(got) != fmt.Sprint(tc.entities) {
				t.Errorf("entities %v, want %v", got, tc.entities)
			}
		})
	}

	// Writing needs audit.write.
	for _, k := range []string{readAlice, auditA} {
		if a := h.emit(k, ev("fact_read", "urn:a:alice")); a.status != 403 || a.code() != "forbidden" {
			t.Errorf("emit with a key lacking audit.write: %d %s", a.status, a.raw)
		}
	}
	if a := h.emit("", ev("fact_read", "urn:a:alice")); a.status != 401 {
		t.Errorf("emit without a key: %d", a.status)
	}
}

func TestEmitTakesIdentityFromTheKey(t *testing.T) { eachStore(t, testEmitTakesIdentityFromTheKey) }

func testEmitTakesIdentityFromTheKey(t *testing.T, kind string) {
	h := newHarnessOn(t, kind)
	w := h.key("w", "acme", "urn:svc:gateway", "audit.write")

	got := h.mustEmit(w, ev("fact_write", "urn:user:1", "fact_id", "f-9"))
	for k, want := range map[string]any{
		"tenant_id": "acme", "emitter": "urn:svc:gateway", "entity_uri": "urn:user:1",
		"oidc_sub": "sub-w", "fact_id": "f-9", "outcome": "success", "event_type": "fact_write",
	} {
		if got[k] != want {
			t.Errorf("%s = %v, want %v", k, got[k], want)
		}
	}
	if seq, ok := got["seq"].(float64); !ok || seq != 0 {
		t.Errorf("seq = %v, want 0", got["seq"])
	}
	if lh, _ := got["leaf_hash"].(string); len(lh) != 64 {
		t.Errorf("leaf_hash = %v", got["leaf_hash"])
	}

	// entity_uri defaults to the key's; the key's emitter may be repeated.
	got = h.mustEmit(w, map[string]any{"event_type": "fact_read", "emitter": "urn:svc:gateway", "oidc_sub": "explicit"})
	if got["entity_uri"] != "urn:svc:gateway" || got["oidc_sub"] != "explicit" {
		t.Errorf("defaults: entity_uri=%v oidc_sub=%v", got["entity_uri"], got["oidc_sub"])
	}

	for _, tc := range []struct {
		name string
		body any
	}{
		{"forged emitter", ev("fact_read", "urn:u", "emitter", "urn:svc:other")},
		{"another tenant", ev("fact_read", "urn:u", "tenant_id", "other")},
		{"another tenant in a batch", map[string]any{"events": []any{ev("fact_read", "urn:u"), ev("fact_read", "urn:u", "tenant_id", "other")}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := h.size()
			a := h.emit(w, tc.body)
			if a.status != 403 || a.code() != "forbidden" {
				t.Errorf("status %d code %q, want 403 forbidden", a.status, a.code())
			}
			if h.size() != before {
				t.Error("a refused emit stored events")
			}
		})
	}

	// The key's own tenant, in another spelling, is accepted.
	if got := h.mustEmit(w, ev("fact_read", "urn:u", "tenant_id", " ACME ")); got["tenant_id"] != "acme" {
		t.Errorf("tenant_id = %v", got["tenant_id"])
	}
	// Admin may write to any tenant.
	if got := h.mustEmit(h.admin, ev("fact_read", "urn:u", "tenant_id", "elsewhere")); got["tenant_id"] != "elsewhere" || got["emitter"] != "urn:stigaudit:admin" {
		t.Errorf("admin emit: tenant_id=%v emitter=%v", got["tenant_id"], got["emitter"])
	}
}

func TestInputErrors(t *testing.T) { eachStore(t, testInputErrors) }

func testInputErrors(t *testing.T, kind string) {
	h := newHarnessOn(t, kind)
	w := h.key("w", "a", "urn:w", "audit.write,audit.read")
	big := strings.Repeat("x", 17<<10)
	deep := any("leaf")
	for range 20 {
		deep = map[string]any{"d": deep}
	}
	for _, tc := range []struct {
		name   string
		method string
		target string
		body   any
		status int
		code   string
	}{
		{"unknown event type", "POST", "/v1/audit/events", ev("no_such_type", "urn:u"), 400, "unknown_event_type"},
		{"bad tenant", "POST", "/v1/audit/events", ev("fact_read", "urn:u", "tenant_id", "Not A Tenant!"), 400, "invalid_tenant"},
		{"oversized detail", "POST", "/v1/audit/events", ev("fact_read", "urn:u", "detail", map[string]any{"big": big}), 400, "detail_too_large"},
		{"too deep detail", "POST", "/v1/audit/events", ev("fact_read", "urn:u", "detail", deep), 400, "detail_too_deep"},
		{"non-object detail", "POST", "/v1/audit/events", ev("fact_read", "urn:u", "detail", []any{1, 2}), 400, "invalid_detail"},
		{"malformed JSON", "POST", "/v1/audit/events", `{"event_type":`, 400, "invalid_json"},
		{"missing required detail key", "POST", "/v1/audit/events", ev("quota_breach", "urn:u"), 400, "missing_detail_key"},
		{"bad outcome", "POST", "/v1/audit/events", ev("fact_read", "urn:u", "outcome", "maybe"), 400, "invalid_outcome"},
		{"bad cursor", "GET", "/v1/audit?cursor=not-a-cursor", nil, 400, "invalid_cursor"},
		{"bad since", "GET", "/v1/audit?since=yesterday", nil, 400, "invalid_parameter"},
		{"since without zone", "GET", "/v1/audit?since=2026-05-03T12:00:00", nil, 400, "invalid_parameter"},
		{"since after until", "GET", "/v1/audit?since=2026-05-03T12:00:01Z&until=2026-05-03T12:00:00Z", nil, 400, "invalid_parameter"},
		{"unknown parameter", "GET", "/v1/audit?colour=red", nil, 400, "invalid_parameter"},
		{"repeated parameter", "GET", "/v1/audit?limit=5&limit=6", nil, 400, "invalid_parameter"},
		{"empty parameter", "GET", "/v1/audit?entity_uri=", nil, 400, "invalid_parameter"},
		{"limit zero", "GET", "/v1/audit?limit=0", nil, 400, "invalid_parameter"},
		{"limit too big", "GET", "/v1/audit?limit=1001", nil, 400, "invalid_parameter"},
		{"bad attested", "GET", "/v1/audit?attested=maybe", nil, 400, "invalid_parameter"},
		{"bad outcome filter", "GET", "/v1/audit?outcome=maybe", nil, 400, "invalid_parameter"},
		{"unknown event_type filter", "GET", "/v1/audit?event_type=fact_read&event_type=nope", nil, 400, "unknown_event_type"},
		{"fact_id twice on the trail", "GET", "/v1/audit/facts/f1?fact_id=f2", nil, 400, "invalid_parameter"},
		{"unknown route", "GET", "/v1/nope", nil, 404, "not_found"},
		{"wrong method", "DELETE", "/v1/audit", nil, 405, "method_not_allowed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := h.do(tc.method, tc.target, w, tc.body)
			if a.status != tc.status || a.code() != tc.code {
				t.Errorf("got %d %q, want %d %q: %s", a.status, a.code(), tc.status, tc.code, a.raw)
			}
			if msg, _ := a.body["error"].(map[string]any)["message"].(string); msg == "" {
				t.Errorf("error without a message: %s", a.raw)
			}
		})
	}
	if n := h.size(); n != 0 {
		t.Errorf("refused requests stored %d events", n)
	}
}

func TestBodyLimits(t *testing.T) {
	h := newHarness(t)
	w := h.key("w", "a", "urn:w", "audit.write")
	huge := `{"event_type":"fact_read","entity_uri":"urn:u","source":"` + strings.Repeat("x", h.log.Limits().MaxRequestBytes) + `"}`
	if a := h.emit(w, huge); a.status != 413 || a.code() != "too_large" {
		t.Errorf("oversized body: %d %q", a.status, a.code())
	}
	many := make([]any, h.log.Limits().MaxBatchEvents+1)
	for i := range many {
		many[i] = ev("fact_read", "urn:u")
	}
	if a := h.emit(w, map[string]any{"events": many}); a.status != 413 || a.code() != "batch_too_large" {
		t.Errorf("1001 events: %d %q %s", a.status, a.code(), a.raw)
	}
	if h.size() != 0 {
		t.Error("oversized requests stored events")
	}
}

func TestBatch(t *testing.T) { eachStore(t, testBatch) }

func testBatch(t *testing.T, kind string) {
	h := newHarnessOn(t, kind)
	w := h.key("w", "a", "urn:w", "audit.write")
	content := "content"

	// One bad item: nothing is stored and the item is named.
	a := h.emit(w, map[string]any{"events": []any{
		ev("fact_write", "urn:u"),
		ev("no_such_type", "urn:u"),
		ev("fact_read", "urn:u"),
		ev("quota_breach", "urn:u"),
	}})
	if a.status != 400 || a.code() != "invalid_batch" {
		t.Fatalf("bad batch: %d %s", a.status, a.raw)
	}
	items, _ := a.body["error"].(map[string]any)["items"].([]any)
	if len(items) != 2 {
		t.Fatalf("items = %v, want two", items)
	}
	for i, want := range []struct {
		index float64
		code  string
	}{{1, "unknown_event_type"}, {3, "missing_detail_key"}} {
		it := items[i].(map[string]any)
		if it["index"] != want.index || it["code"] != want.code || it["message"] == "" {
			t.Errorf("item %d = %v, want index %v code %s", i, it, want.index, want.code)
		}
	}
	if h.size() != 0 {
		t.Fatal("a refused batch stored events")
	}

	// A good batch with a skipped instruction event keeps its order.
	a = h.emit(w, map[string]any{"events": []any{
		ev("fact_write", "urn:u", "fact_id", "f1"),
		ev("instruction_quarantined", "urn:u", "fact", map[string]any{"entity": "user:1", "relation": "likes", "interpret_as": content}),
		ev("instruction_quarantined", "urn:u", "fact", map[string]any{"entity": "instruction:run", "relation": "likes", "interpret_as": nil}),
	}})
	if a.status != 201 {
		t.Fatalf("good batch: %d %s", a.status, a.raw)
	}
	evs := a.events()
	if len(evs) != 3 || evs[0]["fact_id"] != "f1" || evs[1]["skipped"] != "not_instruction" || evs[2]["event_type"] != "instruction_quarantined" {
		t.Fatalf("answer = %s", a.raw)
	}
	if evs[0]["seq"] != 0.0 || evs[2]["seq"] != 1.0 {
		t.Errorf("seqs %v, %v; want 0, 1", evs[0]["seq"], evs[2]["seq"])
	}
	if d, _ := evs[2]["detail"].(map[string]any); d["fact_entity"] != "instruction:run" {
		t.Errorf("merged detail = %v", evs[2]["detail"])
	}

	// A lone skipped instruction event is a 200 that stores nothing.
	a = h.emit(w, ev("instruction_promoted", "urn:u", "fact", map[string]any{"entity": "user:1", "relation": "r", "interpret_as": "content"}))
	if a.status != 200 || a.body["skipped"] != "not_instruction" {
		t.Errorf("lone skipped: %d %s", a.status, a.raw)
	}
	if h.size() != 2 {
		t.Errorf("size = %d, want 2", h.size())
	}
}

func TestIdempotencyAndConflict(t *testing.T) { eachStore(t, testIdempotencyAndConflict) }

func testIdempotencyAndConflict(t *testing.T, kind string) {
	h := newHarnessOn(t, kind)
	w := h.key("w", "a", "urn:w", "audit.write")
	id := "0196a5f0-1234-7abc-8def-0123456789ab"
	first := h.mustEmit(w, ev("fact_write", "urn:u", "id", id, "fact_id", "f1"))
	again := h.emit(w, ev("fact_write", "urn:u", "id", id, "fact_id", "f1"))
	if again.status != 201 {
		t.Fatalf("re-send: %d %s", again.status, again.raw)
	}
	for _, k := range []string{"seq", "ts", "leaf_hash", "id"} {
		if again.body[k] != first[k] {
			t.Errorf("re-send %s = %v, want the stored %v", k, again.body[k], first[k])
		}
	}
	if h.size() != 1 {
		t.Errorf("a re-send stored again: size %d", h.size())
	}
	c := h.emit(w, ev("fact_write", "urn:u", "id", id, "fact_id", "f2"))
	if c.status != 409 || c.code() != "id_conflict" {
		t.Errorf("conflict: %d %s", c.status, c.raw)
	}
	// A best-effort type is no excuse for a conflict: only a store outage
	// is swallowed.
	id2 := "0196a5f0-1234-7abc-8def-0123456789ac"
	h.mustEmit(w, ev("fact_read", "urn:u", "id", id2))
	c = h.emit(w, ev("fact_read", "urn:u", "id", id2, "source", "other"))
	if c.status != 409 || c.code() != "id_conflict" {
		t.Errorf("best-effort conflict: %d %s", c.status, c.raw)
	}
}

func value(t *testing.T, g prometheus.Gatherer, name string, labels map[string]string) float64 {
	t.Helper()
	mfs, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	series:
		for _, m := range mf.GetMetric() {
			for _, lp := range m.GetLabel() {
				if v, ok := labels[lp.GetName()]; ok && v != lp.GetValue() {
					continue series
				}
			}
			return m.GetCounter().GetValue()
		}
	}
	return 0
}

func TestStoreDownFailsClosedOnlyForCriticalTypes(t *testing.T) {
	eachStore(t, testStoreDownFailsClosedOnlyForCriticalTypes)
}

func testStoreDownFailsClosedOnlyForCriticalTypes(t *testing.T, kind string) {
	h := newHarnessOn(t, kind)
	w := h.key("w", "a", "urn:w", "audit.write")
	h.mustEmit(w, ev("fact_write", "urn:u"))
	counted := func(typ string) float64 {
		return value(t, h.reg, "stigmem_audit_event_total", map[string]string{"event_type": typ, "tenant": "a"})
	}
	if counted("fact_write") != 1 {
		t.Fatalf("committed emit counted %v times", counted("fact_write"))
	}

	h.store.SetDown(true)
	// fact_write is critical: 503.
	a := h.emit(w, ev("fact_write", "urn:u"))
	if a.status != 503 || a.code() != "store_unavailable" {
		t.Errorf("critical type with the store down: %d %s", a.status, a.raw)
	}
	// fact_read is best effort: 202, not stored, counted as a best-effort failure.
	a = h.emit(w, ev("fact_read", "urn:u", "fact_id", "f1"))
	if a.status != 202 || a.body["stored"] != false || a.body["seq"] != nil || a.body["event_type"] != "fact_read" || a.body["fact_id"] != "f1" {
		t.Errorf("best-effort type with the store down: %d %s", a.status, a.raw)
	}
	// A batch mixing both fails closed.
	a = h.emit(w, map[string]any{"events": []any{ev("fact_read", "urn:u"), ev("fact_write", "urn:u")}})
	if a.status != 503 {
		t.Errorf("mixed batch with the store down: %d %s", a.status, a.raw)
	}
	// A batch of best-effort types does not.
	a = h.emit(w, map[string]any{"events": []any{ev("fact_read", "urn:u"), ev("quota_breach", "urn:u", "detail", map[string]any{"dimension": "rps"})}})
	if a.status != 202 || a.body["stored"] != false || len(a.events()) != 2 {
		t.Errorf("best-effort batch with the store down: %d %s", a.status, a.raw)
	}
	if got := value(t, h.reg, "stigaudit_best_effort_failures_total", map[string]string{"event_type": "fact_read"}); got != 2 {
		t.Errorf("best-effort failures for fact_read = %v, want 2", got)
	}
	// Nothing that failed was counted as committed.
	if counted("fact_write") != 1 || counted("fact_read") != 0 {
		t.Errorf("failed emits were counted: fact_write=%v fact_read=%v", counted("fact_write"), counted("fact_read"))
	}
	if r := h.do("GET", "/readyz", "", nil); r.status != 503 {
		t.Errorf("readyz with the store down: %d", r.status)
	}
	h.store.SetDown(false)
	if r := h.do("GET", "/readyz", "", nil); r.status != 200 {
		t.Errorf("readyz: %d", r.status)
	}
}

func TestHealthAndMetrics(t *testing.T) {
	h := newHarness(t)
	if a := h.do("GET", "/healthz", "", nil); a.status != 200 {
		t.Errorf("healthz: %d", a.status)
	}
	w := h.key("w", "a", "urn:w", "audit.write")
	h.mustEmit(w, ev("fact_read", "urn:u"))
	a := h.do("GET", "/metrics", "", nil)
	if a.status != 200 || !bytes.Contains(a.raw, []byte(`stigmem_audit_event_total{event_type="fact_read",tenant="a"} 1`)) {
		t.Errorf("metrics: %d\n%s", a.status, a.raw)
	}
	if !bytes.Contains(a.raw, []byte(`stigaudit_http_requests_total{code="201",method="POST",route="/v1/audit/events"} 1`)) {
		t.Errorf("HTTP request not counted:\n%s", a.raw)
	}
	// Unmatched paths share one label value, so scanners cannot blow up
	// the metric's cardinality.
	for _, p := range []string{"/nope/1", "/nope/2"} {
		h.do("GET", p, "", nil)
	}
	a = h.do("GET", "/metrics", "", nil)
	if bytes.Contains(a.raw, []byte(`route="/nope`)) {
		t.Errorf("raw paths became route labels:\n%s", a.raw)
	}
}

func TestNullFieldsReadBack(t *testing.T) { eachStore(t, testNullFieldsReadBack) }

func testNullFieldsReadBack(t *testing.T, kind string) {
	h := newHarnessOn(t, kind)
	w := h.key("w", "a", "urn:w", "audit.write,audit.read")
	h.mustEmit(w, ev("auth_failed", "urn:u", "outcome", "denied"))
	h.mustEmit(w, ev("fact_write", "urn:u", "fact_id", "f1", "scope", "s1", "attested_key_id", "k1"))
	for _, tc := range []struct {
		target string
		types  []any
	}{
		{"/v1/audit", []any{"fact_write", "auth_failed"}},
		{"/v1/audit?attested=false", []any{"auth_failed"}},
		{"/v1/audit?attested=true", []any{"fact_write"}},
		{"/v1/audit?outcome=denied", []any{"auth_failed"}},
		{"/v1/audit?scope=s1", []any{"fact_write"}},
		{"/v1/audit?source=", []any{"fact_write", "auth_failed"}},
		{"/v1/audit?oidc_sub=sub-w&event_type=auth_failed", []any{"auth_failed"}},
		{"/v1/audit?fact_id=f1", []any{"fact_write"}},
		{"/v1/audit/facts/f1", []any{"fact_write"}},
		{"/v1/audit/facts/nothing-here", []any{}},
	} {
		a := h.do("GET", tc.target, w, nil)
		if a.status != 200 {
			t.Errorf("%s: %d %s", tc.target, a.status, a.raw)
			continue
		}
		if got := field(a.events(), "event_type"); fmt.Sprint(got) != fmt.Sprint(tc.types) {
			t.Errorf("%s: types %v, want %v", tc.target, got, tc.types)
		}
		if a.body["has_more"] != false || a.body["next_cursor"] != nil {
			t.Errorf("%s: has_more=%v next_cursor=%v", tc.target, a.body["has_more"], a.body["next_cursor"])
		}
	}
	a := h.do("GET", "/v1/audit?event_type=auth_failed", w, nil)
	if e := a.events(); len(e) != 1 || e[0]["fact_id"] != nil {
		t.Errorf("null fact_id: %s", a.raw)
	}
}

func TestFactIDWithEscapes(t *testing.T) { eachStore(t, testFactIDWithEscapes) }

func testFactIDWithEscapes(t *testing.T, kind string) {
	h := newHarnessOn(t, kind)
	w := h.key("w", "a", "urn:w", "audit.write,audit.read")
	id := "tomb/stone 1%"
	h.mustEmit(w, ev("fact_write", "urn:u", "fact_id", id))
	a := h.do("GET", "/v1/audit/facts/"+url.PathEscape(id), w, nil)
	if got := field(a.events(), "fact_id"); a.status != 200 || len(got) != 1 || got[0] != id {
		t.Errorf("trail of %q: %d %s", id, a.status, a.raw)
	}
}

// pages follows cursors from target and returns the seqs seen. If between
// is not nil it runs after every page.
func (h *harness) pages(target, key string, between func()) []int64 {
	h.t.Helper()
	var seqs []int64
	next := target
	for range 10000 {
		a := h.do("GET", next, key, nil)
		if a.status != 200 {
			h.t.Fatalf("%s: %d %s", next, a.status, a.raw)
		}
		for _, e := range a.events() {
			seqs = append(seqs, int64(e["seq"].(float64)))
		}
		if between != nil {
			between()
		}
		c, _ := a.body["next_cursor"].(string)
		if a.body["has_more"] != true {
			if c != "" {
				h.t.Fatalf("has_more false but next_cursor %q", c)
			}
			return seqs
		}
		sep := "?"
		if strings.Contains(target, "?") {
			sep = "&"
		}
		next = target + sep + "cursor=" + url.QueryEscape(c)
	}
	h.t.Fatal("cursor loop did not end")
	return nil
}

func TestCursorPagingWhileEmitting(t *testing.T) { eachStore(t, testCursorPagingWhileEmitting) }

func testCursorPagingWhileEmitting(t *testing.T, kind string) {
	h := newHarnessOn(t, kind)
	w := h.key("w", "a", "urn:w", "audit.write,audit.read")
	const initial = 120
	for i := range initial {
		typ := "fact_read"
		if i%3 == 0 {
			typ = "fact_write"
		}
		h.mustEmit(w, ev(typ, "urn:u"))
	}
	post := func() {
		req := httptest.NewRequest("POST", "/v1/audit/events", strings.NewReader(`{"event_type":"fact_write","entity_uri":"urn:u"}`))
		req.Header.Set("Authorization", "Bearer "+w)
		rec := httptest.NewRecorder()
		h.e.ServeHTTP(rec, req)
		if rec.Code != 201 {
			t.Errorf("concurrent emit: %d %s", rec.Code, rec.Body)
		}
	}
	// Two writers emit concurrently with the readers (a bounded number of
	// events, so that an oldest-first reader can catch up)...
	var wg sync.WaitGroup
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 150 {
				post()
			}
		}()
	}
	// ...and after every page two more events are committed, so that every
	// cursor is followed across a log that grew after it was issued, however
	// the goroutines are scheduled.
	grown := func() { post(); post() }
	newest := h.pages("/v1/audit?limit=7", w, grown)
	oldest := h.pages("/v1/admin/audit?limit=11&event_type=fact_write", w, grown)
	wg.Wait()

	// Newest first: strictly decreasing, no repeats, ends at seq 0, and
	// every event that existed at the start is seen.
	seen := map[int64]bool{}
	for i, s := range newest {
		if seen[s] || i > 0 && s >= newest[i-1] {
			t.Fatalf("newest-first paging repeated or reordered at %d: %v", i, newest[max(0, i-3):i+1])
		}
		seen[s] = true
	}
	for s := range int64(initial) {
		if !seen[s] {
			t.Errorf("seq %d never seen paging newest first", s)
		}
	}
	// Oldest first over a filter: strictly increasing, and it contains the
	// first 40 fact_write events.
	for i := 1; i < len(oldest); i++ {
		if oldest[i] <= oldest[i-1] {
			t.Fatalf("oldest-first paging repeated or reordered at %d", i)
		}
	}
	seenOld := map[int64]bool{}
	for _, s := range oldest {
		seenOld[s] = true
	}
	for s := int64(0); s < initial; s++ {
		if seenOld[s] != (s%3 == 0) {
			t.Errorf("oldest-first fact_write paging: seq %d seen=%v", s, seenOld[s])
		}
	}
}

func TestCursorIsBoundToItsQuery(t *testing.T) {
	h := newHarness(t)
	w := h.key("w", "a", "urn:w", "audit.write,audit.read")
	for range 5 {
		h.mustEmit(w, ev("fact_read", "urn:u"))
	}
	a := h.do("GET", "/v1/audit?limit=2&event_type=fact_read", w, nil)
	c, _ := a.body["next_cursor"].(string)
	if c == "" {
		t.Fatalf("no cursor: %s", a.raw)
	}
	for _, tc := range []struct {
		target string
		status int
	}{
		{"/v1/audit?limit=3&event_type=fact_read&cursor=" + c, 200}, // another limit is fine
		{"/v1/audit?limit=2&cursor=" + c, 400},                      // filters changed
		{"/v1/audit?limit=2&event_type=fact_read&outcome=success&cursor=" + c, 400},
		{"/v1/admin/audit?limit=2&event_type=fact_read&cursor=" + c, 400}, // other route and order
		{"/v1/audit?limit=2&event_type=fact_read&cursor=" + c[:len(c)-2], 400},
	} {
		a := h.do("GET", tc.target, w, nil)
		if a.status != tc.status || tc.status == 400 && a.code() != "invalid_cursor" {
			t.Errorf("%s: %d %s", tc.target, a.status, a.raw)
		}
	}
	a = h.do("GET", "/v1/audit?limit=3&event_type=fact_read&cursor="+c, w, nil)
	if got := field(a.events(), "seq"); fmt.Sprint(got) != "[2 1 0]" {
		t.Errorf("page after the cursor: %v", got)
	}
}

func TestSinceUntilBoundaries(t *testing.T) { eachStore(t, testSinceUntilBoundaries) }

func testSinceUntilBoundaries(t *testing.T, kind string) {
	h := newHarnessOn(t, kind)
	w := h.key("w", "a", "urn:w", "audit.write,audit.read")
	base := time.Date(2026, 5, 3, 12, 0, 0, 0, time.UTC)
	// Three events at exactly base, base+1µs and base+1s.
	for i, at := range []time.Time{base, base.Add(time.Microsecond), base.Add(time.Second)} {
		h.clock.set(at)
		h.mustEmit(w, ev("fact_read", "urn:u", "source", fmt.Sprint(i)))
	}
	for _, tc := range []struct {
		query string
		want  string // sources, oldest first
	}{
		{"since=2026-05-03T12:00:00Z", "[0 1 2]"},
		{"since=2026-05-03T14:00:00%2B02:00", "[0 1 2]"},    // same instant, other offset: inclusive
		{"since=2026-05-03T07:00:00.000001-05:00", "[1 2]"}, // exactly event 1
		{"since=2026-05-03T12:00:00.0000005Z", "[1 2]"},     // between 0 and 1: rounds up
		{"since=2026-05-03T12:00:00.000000999Z", "[1 2]"},   // just under 1µs
		{"until=2026-05-03T12:00:00.000001Z", "[0]"},        // exclusive
		{"until=2026-05-03T12:00:00.0000005Z", "[0]"},       // sub-µs: still includes 0
		{"until=2026-05-03T12:00:00Z", "[]"},                // exclusive at the first event
		{"until=2026-05-03T13:00:01%2B01:00", "[0 1]"},      // exclusive at event 2, other offset
		{"since=2026-05-03T12:00:01Z&until=2026-05-03T12:00:01Z", "[]"},
		{"since=2026-05-03T12:00:00.000001Z&until=2026-05-03T12:00:01.000000001Z", "[1 2]"},
	} {
		a := h.do("GET", "/v1/admin/audit?"+tc.query, w, nil)
		if a.status != 200 {
			t.Errorf("%s: %d %s", tc.query, a.status, a.raw)
			continue
		}
		if got := fmt.Sprint(field(a.events(), "source")); got != tc.want {
			t.Errorf("%s: sources %s, want %s", tc.query, got, tc.want)
		}
	}
}

func TestParseTime(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"2026-05-03T12:00:00Z", "2026-05-03T12:00:00.000000Z"},
		{"2026-05-03T12:00:00.123456789+00:00", "2026-05-03T12:00:00.123457Z"},
		{"2026-05-03T00:30:00+01:00", "2026-05-02T23:30:00.000000Z"},
		{"9999-12-31T23:59:59.999999Z", "9999-12-31T23:59:59.999999Z"},
		{"9999-12-31T23:59:59.9999999Z", ""},
		{"0000-01-01T00:30:00+01:00", ""},
		{"2026-05-03", ""},
	} {
		got, err := parseTime("since", tc.in)
		if tc.want == "" {
			if err == nil {
				t.Errorf("parseTime(%q) = %q, want an error", tc.in, got)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("parseTime(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}

func TestStatus(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want int
	}{
		{auditerrOf("invalid_json"), 400},
		{auditerrOf("unknown_event_type"), 400},
		{auditerrOf("unauthorized"), 401},
		{auditerrOf("forbidden"), 403},
		{auditerrOf("not_found"), 404},
		{auditerrOf("id_conflict"), 409},
		{auditerrOf("too_large"), 413},
		{auditerrOf("batch_too_large"), 413},
		{auditerrOf("store_unavailable"), 503},
		{auditerrOf("key_recheck_unavailable"), 503},
		{fmt.Errorf("plain"), 500},
	} {
		if got := Status(tc.err); got != tc.want {
			t.Errorf("Status(%v) = %d, want %d", tc.err, got, tc.want)
		}
	}
}

func auditerrOf(code string) error {
	return &auditerr.Error{Code: auditerr.Code(code), Message: "m", Index: -1}
}
