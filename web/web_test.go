package web_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/stigaudit/stigaudit/core/auditerr"
	"github.com/stigaudit/stigaudit/core/event"
	"github.com/stigaudit/stigaudit/wasm"
	"github.com/stigaudit/stigaudit/web"
)

// wasmURL reads the content-addressed module URL out of the page.
func wasmURL(t *testing.T, n *node) string {
	t.Helper()
	_, body := n.get("/", "")
	m := regexp.MustCompile(`name="stigaudit-wasm" content="([^"]+)"`).FindSubmatch(body)
	if m == nil {
		t.Fatalf("the page names no module:\n%s", body)
	}
	return string(m[1])
}

func TestPageHeaders(t *testing.T) {
	n := newNode(t)
	res, body := n.get("/", "")
	if res.StatusCode != http.StatusOK || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("GET / = %d %s", res.StatusCode, res.Header.Get("Content-Type"))
	}
	if bytes.Contains(body, []byte("{{")) {
		t.Error("the page has an unfilled placeholder")
	}
	csp := res.Header.Get("Content-Security-Policy")
	for _, want := range []string{"default-src 'none'", "connect-src 'self'", "script-src 'self' 'wasm-unsafe-eval'", "frame-ancestors 'none'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("CSP %q lacks %q", csp, want)
		}
	}
	if csp != web.ContentSecurityPolicy {
		t.Errorf("CSP = %q", csp)
	}
	if got := res.Header.Get("Cache-Control"); got != "no-cache" {
		t.Errorf("page Cache-Control = %q, want no-cache (revalidate)", got)
	}
	if head, _ := http.NewRequest(http.MethodHead, n.URL+"/", nil); head != nil {
		res, err := http.DefaultClient.Do(head)
		if err != nil || res.StatusCode != http.StatusOK || res.Header.Get("ETag") == "" {
			t.Errorf("HEAD / = %v %v", res.Status, err)
		}
	}
	// Nothing in the page points outside the server.
	if m := regexp.MustCompile(`(?i)(src|href)="(https?:)?//`).Find(body); m != nil {
		t.Errorf("the page loads from another origin: %s", m)
	}
}

func TestModuleServedCompressedAndImmutable(t *testing.T) {
	n := newNode(t)
	u := wasmURL(t, n)
	if !regexp.MustCompile(`^/web/stigaudit\.[0-9a-f]{16}\.wasm$`).MatchString(u) {
		t.Fatalf("module URL %q is not content-addressed", u)
	}
	res, gz := n.get(u, "", "Accept-Encoding", "gzip, deflate, br")
	if res.StatusCode != http.StatusOK {
		t.Fatalf("GET %s = %d", u, res.StatusCode)
	}
	h := res.Header
	if h.Get("Content-Type") != "application/wasm" || h.Get("Content-Encoding") != "gzip" {
		t.Fatalf("Content-Type %q, Content-Encoding %q", h.Get("Content-Type"), h.Get("Content-Encoding"))
	}
	if !strings.Contains(h.Get("Cache-Control"), "immutable") || !strings.Contains(h.Get("Cache-Control"), "max-age=31536000") {
		t.Errorf("Cache-Control = %q", h.Get("Cache-Control"))
	}
	if !strings.Contains(h.Get("Vary"), "Accept-Encoding") {
		t.Errorf("Vary = %q", h.Get("Vary"))
	}
	zr, err := gzip.NewReader(bytes.NewReader(gz))
	if err != nil {
		t.Fatal(err)
	}
	raw, err := io.ReadAll(zr)
	if err != nil || !bytes.Equal(raw, wasm.Module()) {
		t.Fatalf("the gzip body is not the module (%v)", err)
	}
	t.Logf("module %d bytes, %d gzip (%.0f%%)", len(raw), len(gz), 100*float64(len(gz))/float64(len(raw)))

	// A client that does not take gzip gets the bytes as they are.
	res, plain := n.get(u, "", "Accept-Encoding", "gzip;q=0, identity")
	if res.Header.Get("Content-Encoding") != "" || !bytes.Equal(plain, wasm.Module()) {
		t.Fatalf("identity answer: encoding %q, %d bytes", res.Header.Get("Content-Encoding"), len(plain))
	}
	// Revalidation with the strong ETag is a 304 without a body.
	etag := h.Get("ETag")
	if !regexp.MustCompile(`^"[0-9a-f]{32}"$`).MatchString(etag) {
		t.Fatalf("ETag = %q", etag)
	}
	res, body := n.get(u, "", "If-None-Match", etag)
	if res.StatusCode != http.StatusNotModified || len(body) != 0 {
		t.Fatalf("If-None-Match: %d, %d bytes", res.StatusCode, len(body))
	}
}

func TestLoaderAndAssets(t *testing.T) {
	n := newNode(t)
	res, body := n.get(web.PathLoader, "")
	if res.StatusCode != http.StatusOK || !bytes.Equal(body, wasm.Loader()) {
		t.Fatalf("GET %s = %d, %d bytes; want the wasm package's loader", web.PathLoader, res.StatusCode, len(body))
	}
	if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/javascript") {
		t.Errorf("loader Content-Type = %q", ct)
	}
	for _, name := range []string{"app.mjs", "worker.mjs", "verify.mjs", "style.css", "favicon.svg"} {
		res, _ := n.get("/web/"+name, "", "Accept-Encoding", "gzip")
		if res.StatusCode != http.StatusOK || res.Header.Get("ETag") == "" {
			t.Errorf("GET /web/%s = %d, ETag %q", name, res.StatusCode, res.Header.Get("ETag"))
		}
	}
	if res, _ := n.get("/web/nope.mjs", ""); res.StatusCode != http.StatusNotFound {
		t.Errorf("unknown asset: %d", res.StatusCode)
	}
}

func TestConfigAndSession(t *testing.T) {
	n := newNode(t)
	res, body := n.get(web.PathConfig, "")
	var cfg struct {
		WASM        string `json:"wasm"`
		VerifierKey string `json:"verifier_key"`
		EventTypes  []struct {
			Name     string   `json:"name"`
			Critical bool     `json:"critical"`
			Required []string `json:"required"`
		} `json:"event_types"`
	}
	if res.StatusCode != http.StatusOK || json.Unmarshal(body, &cfg) != nil {
		t.Fatalf("GET %s = %d %s", web.PathConfig, res.StatusCode, body)
	}
	if cfg.VerifierKey != n.verifier || cfg.WASM != wasmURL(t, n) || len(cfg.EventTypes) < 50 {
		t.Fatalf("config = %+v", cfg)
	}
	if res, _ := n.get(web.PathSession, ""); res.StatusCode != http.StatusUnauthorized {
		t.Errorf("session without a key: %d", res.StatusCode)
	}
	if res, _ := n.get(web.PathSession, "sa_wrong_key"); res.StatusCode != http.StatusUnauthorized {
		t.Errorf("session with a wrong key: %d", res.StatusCode)
	}
	res, body = n.get(web.PathSession, n.writer)
	var s struct {
		Tenant    string          `json:"tenant_id"`
		EntityURI string          `json:"entity_uri"`
		OIDCSub   *string         `json:"oidc_sub"`
		Perms     []string        `json:"perms"`
		Can       map[string]bool `json:"can"`
	}
	if res.StatusCode != http.StatusOK || json.Unmarshal(body, &s) != nil {
		t.Fatalf("session: %d %s", res.StatusCode, body)
	}
	if s.Tenant != "default" || s.EntityURI != "agent:writer" || s.OIDCSub == nil || !s.Can["audit.write"] || s.Can["audit.read"] || s.Can["admin"] {
		t.Fatalf("session = %s", body)
	}
	if res.Header.Get("Cache-Control") != "no-store" {
		t.Errorf("session Cache-Control = %q", res.Header.Get("Cache-Control"))
	}
}

// operatorCatalogue is an operator's --catalogue file: a critical type with
// a required key and a constrained one, and a best-effort type.
const operatorCatalogue = `{"event_types":[
	{"name":"billing.refund","critical":true,"required_detail":["amount",{"name":"currency","one_of":["EUR","USD"]}]},
	{"name":"billing.note","critical":false}]}`

// operatorNode is a node started with operatorCatalogue and detail limits
// smaller than the defaults.
func operatorNode(t *testing.T) *node {
	return newNode(t, nodeConfig{catalogue: operatorCatalogue, limits: event.Limits{MaxDetailBytes: 256, MaxDetailDepth: 4}})
}

// coreConfigure reads the "configure" member of the node's config.json.
func coreConfigure(t *testing.T, n *node) json.RawMessage {
	t.Helper()
	res, body := n.get(web.PathConfig, "")
	var cfg struct {
		Configure json.RawMessage `json:"configure"`
	}
	if res.StatusCode != http.StatusOK || json.Unmarshal(body, &cfg) != nil || cfg.Configure == nil {
		t.Fatalf("GET %s = %d %s: no configure member", web.PathConfig, res.StatusCode, body)
	}
	return cfg.Configure
}

// sameJSON fails unless got and want are the same JSON value.
func sameJSON(t *testing.T, what string, got []byte, want string) {
	t.Helper()
	var g, w any
	if err := json.Unmarshal(got, &g); err != nil {
		t.Fatalf("%s: %v in %s", what, err, got)
	}
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatalf("%s: the expected value: %v", what, err)
	}
	if !reflect.DeepEqual(g, w) {
		t.Errorf("%s =\n%s\nwant\n%s", what, got, want)
	}
}

// TestConfigConfiguresTheCore checks config.json's "configure": the
// operator-added types only (never the built-ins) and the server's detail
// limits; and that the module, configured with it, accepts and refuses
// exactly the drafts the server does, with the server's codes.
func TestConfigConfiguresTheCore(t *testing.T) {
	t.Run("defaults", func(t *testing.T) {
		sameJSON(t, "configure", coreConfigure(t, newNode(t)),
			`{"catalogue":{"event_types":[]},"max_detail_bytes":16384,"max_detail_depth":16}`)
	})

	n := operatorNode(t)
	conf := coreConfigure(t, n)
	sameJSON(t, "configure", conf, `{"catalogue":{"event_types":[
		{"name":"billing.note","critical":false,"required_detail":[]},
		{"name":"billing.refund","critical":true,"required_detail":["amount",{"name":"currency","one_of":["EUR","USD"]}]}]},
		"max_detail_bytes":256,"max_detail_depth":4}`)

	ctx := context.Background()
	rt, err := wasm.New(ctx, wasm.Config{PoolSize: 1, Configure: conf})
	if err != nil {
		t.Fatalf("the module refuses config.json's configure: %v", err)
	}
	defer rt.Close(ctx)
	draft := func(typ, detail string) string {
		d := `{"event_type":` + strconv.Quote(typ) + `,"tenant_id":"default","entity_uri":"agent:writer","emitter":"agent:writer","outcome":"success"`
		if detail != "" {
			d += `,"detail":` + detail
		}
		return d + "}"
	}
	for _, tc := range []struct {
		name, typ, detail, code string
	}{
		{"operator type", "billing.refund", `{"amount":"12.50","currency":"EUR"}`, ""},
		{"best-effort operator type", "billing.note", ``, ""},
		{"required key missing", "billing.refund", `{"currency":"EUR"}`, "missing_detail_key"},
		{"value not permitted", "billing.refund", `{"amount":1,"currency":"GBP"}`, "missing_detail_key"},
		{"unknown type", "billing.chargeback", ``, "unknown_event_type"},
		{"built-in type", "admin_action", `{"action":"rotate"}`, ""},
		{"detail over the server's size", "billing.note", `{"s":"` + strings.Repeat("x", 300) + `"}`, "detail_too_large"},
		{"detail over the server's depth", "billing.note", `{"a":{"b":{"c":{"d":{"e":1}}}}}`, "detail_too_deep"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := draft(tc.typ, tc.detail)
			_, err := rt.BuildEvent(ctx, []byte(d))
			core := string(auditerr.CodeOf(err))
			status, answer := n.post("/v1/audit/events", n.writer, d)
			server := errorCode(answer)
			if core != tc.code || server != tc.code {
				t.Errorf("core %q (%v), server %q (HTTP %d %s); want %q from both", core, err, server, status, answer, tc.code)
			}
		})
	}
}
