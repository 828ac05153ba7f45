package exportapi_test

import (
	"bytes"
	"encoding/json"
	"io"
	"strings"
	"testing"

	"github.com/stigaudit/stigaudit/core/event"
	"github.com/stigaudit/stigaudit/hostfns"
	"github.com/stigaudit/stigaudit/server/exportapi"
)

// clearValues are substrings of the redacted fields of filled events.
var clearValues = []string{"urn:person:", "@example.com", "kid-"}

func hashOf(t testing.TB, n *node, key, value string) string {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"value": value})
	resp := n.do(t, "POST", exportapi.HashRoute, key, bytes.NewReader(body))
	defer resp.Body.Close()
	var out struct{ Hash string }
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || resp.StatusCode != 200 {
		t.Fatalf("hash lookup: status %d, %v", resp.StatusCode, err)
	}
	return out.Hash
}

func TestExportRedacted(t *testing.T) {
	n := newNode(t, nodeOpts{fill: 3000, redactFields: "entity_uri,oidc_sub,detail.key_id", redactForKeyOf: []string{"urn:siem"}})
	auditor := n.key(t, "acme", "urn:auditor", "audit.read")
	siem := n.key(t, "acme", "urn:siem", "audit.read")
	admin := n.key(t, "ops", "urn:root", "admin")

	subHash := hashOf(t, n, admin, "sub-5@example.com")
	kidHash := hashOf(t, n, admin, "kid-3")
	var wantSub, wantKid int
	for i := 0; i < 3000; i += 2 { // acme's events
		e := fillEvent(i, []string{"acme", "globex"})
		if e.OIDCSub == "sub-5@example.com" {
			wantSub++
		}
		if bytes.Contains(e.Detail, []byte(`"kid-3"`)) {
			wantKid++
		}
	}
	for _, tc := range []struct {
		name, key, query string
	}{
		{"asked, csv", auditor, "format=csv&redact=hmac"},
		{"asked, ndjson", auditor, "format=ndjson&redact=hmac"},
		{"forced, csv", siem, "format=csv"},
		{"forced, ndjson", siem, "format=ndjson&redact=hmac"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp := n.do(t, "GET", "/v1/audit/export?until="+fillEnd+"&"+tc.query, tc.key, nil)
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 || resp.Header.Get(exportapi.HeaderRedacted) != "hmac" ||
				!strings.Contains(resp.Header.Get("Content-Disposition"), "_redacted.") {
				t.Fatalf("status %d, headers %v", resp.StatusCode, resp.Header)
			}
			for _, clear := range clearValues {
				if bytes.Contains(body, []byte(clear)) {
					t.Fatalf("the redacted export contains %q", clear)
				}
			}
			if got := bytes.Count(body, []byte(subHash)); got != wantSub {
				t.Fatalf("the hash of sub-5 is found %d times, want %d", got, wantSub)
			}
			if got := bytes.Count(body, []byte(kidHash)); got != wantKid {
				t.Fatalf("the hash of kid-3 is found %d times, want %d", got, wantKid)
			}
			if !bytes.Contains(body, []byte("fact-")) {
				t.Fatal("a field outside the profile was redacted")
			}
		})
	}

	// A clear export still has the values; a forced key cannot ask for one.
	resp := n.do(t, "GET", "/v1/audit/export?format=csv&until="+fillEnd, auditor, nil)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !bytes.Contains(body, []byte("@example.com")) {
		t.Fatal("a clear export lacks the clear values")
	}
	for _, q := range []string{"format=csv&redact=none", "format=csv&oidc_sub=sub-5@example.com"} {
		resp = n.do(t, "GET", "/v1/audit/export?"+q, siem, nil)
		resp.Body.Close()
		if resp.StatusCode != 403 {
			t.Fatalf("forced key, %s: status %d", q, resp.StatusCode)
		}
	}

	// The lookups are recorded, with the hash and never the value.
	page, err := n.log.Query(ctx, hostfns.Query{Types: []string{"admin_action"}, Order: hostfns.Ascending, After: -1, Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Events) != 2 || !bytes.Contains(page.Events[0].Detail, []byte(subHash)) || bytes.Contains(page.Events[0].Detail, []byte("sub-5")) {
		t.Fatalf("lookup records: %d, %s", len(page.Events), page.Events[0].Detail)
	}
	// Only admin may look up.
	resp = n.do(t, "POST", exportapi.HashRoute, auditor, strings.NewReader(`{"value":"x"}`))
	resp.Body.Close()
	if resp.StatusCode != 403 {
		t.Fatalf("hash lookup by audit.read: status %d", resp.StatusCode)
	}
	for _, bad := range []string{`{}`, `{"value":null}`, `{"value":""}`, `{"value":"x","other":1}`, `[1]`, `nope`} {
		resp = n.do(t, "POST", exportapi.HashRoute, admin, strings.NewReader(bad))
		resp.Body.Close()
		if resp.StatusCode != 400 {
			t.Fatalf("hash lookup %s: status %d", bad, resp.StatusCode)
		}
	}
	if h := hashOf(t, n, admin, "12"); h == hashOf(t, n, admin, "13") || len(h) != len(subHash) {
		t.Fatal("hash lookup of other values")
	}
}

// TestListRedacted: the list answers of package api are redacted for keys
// that are always redacted, and on request for others.
func TestListRedacted(t *testing.T) {
	n := newNode(t, nodeOpts{fill: 500, redactFields: "entity_uri,oidc_sub,detail.key_id", redactForKeyOf: []string{"urn:siem"}})
	if _, err := n.cp.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	auditor := n.key(t, "acme", "urn:auditor", "audit.read")
	siem := n.key(t, "acme", "urn:siem", "audit.read")
	admin := n.key(t, "acme", "urn:root", "admin")
	for _, tc := range []struct {
		name, key, path string
		status          int
		redacted        bool
	}{
		{"clear", auditor, "/v1/audit?limit=1000", 200, false},
		{"asked", auditor, "/v1/audit?limit=1000&redact=hmac", 200, true},
		{"asked none", auditor, "/v1/audit?limit=1000&redact=none", 200, false},
		{"forced", siem, "/v1/audit?limit=1000", 200, true},
		{"forced, facts", siem, "/v1/audit/facts/fact-4", 200, true},
		{"admin asks, admin route", admin, "/v1/admin/audit?limit=1000&redact=hmac&tenant_id=acme", 200, true},
		{"forced asks none", siem, "/v1/audit?redact=none", 403, false},
		{"forced filters a redacted field", siem, "/v1/audit?oidc_sub=sub-1@example.com", 403, false},
		{"forced filters a clear field", siem, "/v1/audit?outcome=success", 200, true},
		{"bad redact", auditor, "/v1/audit?redact=x", 400, false},
		{"forced, with proofs", siem, "/v1/audit?limit=1000&proof=1", 200, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp := n.do(t, "GET", tc.path, tc.key, nil)
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d: %s", resp.StatusCode, body)
			}
			if tc.status != 200 {
				return
			}
			var page struct {
				Events  []json.RawMessage
				HasMore bool `json:"has_more"`
			}
			if err := json.Unmarshal(body, &page); err != nil || len(page.Events) == 0 {
				t.Fatalf("answer %s: %v", body[:min(200, len(body))], err)
			}
			for _, raw := range page.Events {
				var withProof struct {
					Proof *struct {
						LeafHash string `json:"leaf_hash"`
					} `json:"proof"`
					LeafHash string `json:"leaf_hash"`
				}
				if err := json.Unmarshal(raw, &withProof); err != nil {
					t.Fatal(err)
				}
				if strings.Contains(tc.path, "proof=1") != (withProof.Proof != nil) ||
					withProof.Proof != nil && withProof.Proof.LeafHash != withProof.LeafHash {
					t.Fatalf("proof %+v in %s", withProof.Proof, raw)
				}
				e, err := event.ParseEvent(cutProofMember(raw))
				if err != nil {
					t.Fatal(err)
				}
				if e.Tenant != "acme" {
					t.Fatalf("tenant %s", e.Tenant)
				}
			}
			has := bytes.Contains(body, []byte("@example.com"))
			if has == tc.redacted {
				t.Fatalf("clear values present: %v, want redacted %v", has, tc.redacted)
			}
		})
	}
}

// TestListRedactedOnRequest: with no key always redacted, list answers are
// passed through untouched unless redact=hmac asks.
func TestListRedactedOnRequest(t *testing.T) {
	n := newNode(t, nodeOpts{fill: 100})
	key := n.key(t, "acme", "urn:auditor", "audit.read")
	for _, tc := range []struct {
		query    string
		redacted bool
	}{{"", false}, {"?redact=hmac", true}, {"?redact=none", false}} {
		resp := n.do(t, "GET", "/v1/audit"+tc.query, key, nil)
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || bytes.Contains(body, []byte("urn:person:")) == tc.redacted {
			t.Fatalf("%q: status %d, clear values present %v", tc.query, resp.StatusCode, !tc.redacted)
		}
	}
}

// cutProofMember removes the "proof" member of a list item.
func cutProofMember(raw []byte) []byte {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		return raw
	}
	delete(m, "proof")
	out, _ := json.Marshal(m)
	return out
}
