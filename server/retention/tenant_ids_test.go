package retention_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stigaudit/stigaudit/server"
	"github.com/stigaudit/stigaudit/server/auth"
)

// TestIDsScopedToTenant is issue 13's M8 over HTTP, on each store: a
// tenant's write-only key that sends an id another tenant stored gets its
// own new event (201), never a 409 naming the other tenant's seq; each
// tenant's re-sends and conflicts concern its own event only; and
// GET /v1/audit/events/{id} answers each tenant's own event (an admin
// names the tenant with tenant_id). A malformed id is 400 invalid_id.
func TestIDsScopedToTenant(t *testing.T) { onEachStore(t, testIDsScopedToTenant) }

func testIDsScopedToTenant(t *testing.T, b backend) {
	n := newNode(t, b)
	keys := auth.New(n.store.APIKeys(), auth.Options{Params: auth.Params{Time: 1, Memory: 64, Threads: 1}})
	h, err := server.New(server.Config{Log: n.log, Keys: keys, Store: n.store, Purges: purgingOf(n.store)})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()
	key := func(tenant, entity, perms string) string {
		ps, _ := auth.ParsePerms(perms)
		k, _, err := keys.Create(ctx, auth.Spec{Tenant: tenant, EntityURI: entity, Perms: ps})
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	do := func(k, method, path, body string) (int, map[string]any, string) {
		t.Helper()
		req, _ := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+k)
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		raw, _ := io.ReadAll(resp.Body)
		var m map[string]any
		json.Unmarshal(raw, &m)
		return resp.StatusCode, m, string(raw)
	}
	writerA, writerB := key("acme", "urn:svc:a", "audit.write"), key("globex", "urn:svc:b", "audit.write")
	readerA, readerB := key("acme", "urn:aud:a", "audit.read"), key("globex", "urn:aud:b", "audit.read")
	admin := key("default", "urn:admin", "admin")
	const id = "0196a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b"
	withID := func(source string) string {
		return `{"id":"` + id + `","event_type":"fact_write","entity_uri":"urn:u","source":"` + source + `"}`
	}

	// Tenant A stores the id, then a few more events so its seq is not B's next.
	status, evA, raw := do(writerA, "POST", "/v1/audit/events", withID("acme-secret"))
	if status != 201 {
		t.Fatalf("A stores %s: %d %s", id, status, raw)
	}
	for range 3 {
		if status, _, raw := do(writerA, "POST", "/v1/audit/events", `{"event_type":"fact_write","entity_uri":"urn:u"}`); status != 201 {
			t.Fatalf("A: %d %s", status, raw)
		}
	}

	// B sends the same id with other content: its own new event.
	status, evB, raw := do(writerB, "POST", "/v1/audit/events", withID("globex"))
	if status != 201 || evB["tenant_id"] != "globex" || evB["source"] != "globex" || evB["seq"] == evA["seq"] {
		t.Fatalf("B sends A's id: %d %s; want 201 with B's own new event", status, raw)
	}
	if strings.Contains(raw, "acme") {
		t.Fatalf("B's answer mentions A: %s", raw)
	}
	// B's re-send is B's event again; B's conflict names B's seq only.
	if status, again, raw := do(writerB, "POST", "/v1/audit/events", withID("globex")); status >= 300 || again["seq"] != evB["seq"] {
		t.Fatalf("B re-sends: %d %s; want B's event (seq %v)", status, raw, evB["seq"])
	}
	status, _, raw = do(writerB, "POST", "/v1/audit/events", withID("changed"))
	seqB := jsonNumber(evB["seq"])
	if status != 409 || !strings.Contains(raw, "(seq "+seqB+")") || strings.Contains(raw, "(seq "+jsonNumber(evA["seq"])+")") {
		t.Fatalf("B's conflict: %d %s; want 409 naming B's seq %s only", status, raw, seqB)
	}
	// A's event is untouched, and A's re-send is still A's.
	if status, again, raw := do(writerA, "POST", "/v1/audit/events", withID("acme-secret")); status >= 300 || again["seq"] != evA["seq"] {
		t.Fatalf("A re-sends: %d %s", status, raw)
	}

	// Reads by id: each tenant its own event.
	for _, tc := range []struct {
		key, path, tenant string
		status            int
	}{
		{readerA, "/v1/audit/events/" + id, "acme", 200},
		{readerB, "/v1/audit/events/" + id, "globex", 200},
		{readerB, "/v1/audit/events/" + strings.ToUpper(id), "globex", 200},
		{admin, "/v1/audit/events/" + id + "?tenant_id=acme", "acme", 200},
		{admin, "/v1/audit/events/" + id + "?tenant_id=globex", "globex", 200},
		{admin, "/v1/audit/events/" + id, "", 404}, // the admin key's own tenant has no such id
		{readerB, "/v1/audit/events/" + id + "?tenant_id=acme", "", 403},
		{readerB, "/v1/audit/events/" + id + "?tenant_id=globex", "globex", 200},
		{readerA, "/v1/audit/events/abc", "", 400},
		{readerA, "/v1/audit/events/" + id + "?colour=red", "", 400},
		{admin, "/v1/audit/events/" + id + "?tenant_id=Not%20A%20Tenant!", "", 400},
	} {
		status, body, raw := do(tc.key, "GET", tc.path, "")
		if status != tc.status || tc.status == 200 && (body["tenant_id"] != tc.tenant || body["id"] != id) {
			t.Errorf("GET %s: %d %s; want %d of tenant %q", tc.path, status, raw, tc.status, tc.tenant)
		}
	}
	if status, body, _ := do(readerA, "GET", "/v1/audit/events/abc", ""); status != 400 || body["error"].(map[string]any)["code"] != "invalid_id" {
		t.Errorf("malformed id: %d %v, want 400 invalid_id", status, body)
	}
}

// jsonNumber writes a decoded JSON number as the API wrote it.
func jsonNumber(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
