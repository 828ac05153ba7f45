package web_test

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"

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
