package web_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/labstack/echo/v4"
	"golang.org/x/mod/sumdb/note"

	"github.com/stigaudit/stigaudit"
	"github.com/stigaudit/stigaudit/core/catalog"
	"github.com/stigaudit/stigaudit/core/event"
	"github.com/stigaudit/stigaudit/hostfns/sqlitestore"
	"github.com/stigaudit/stigaudit/server"
	"github.com/stigaudit/stigaudit/server/auth"
	"github.com/stigaudit/stigaudit/server/exportapi"
	"github.com/stigaudit/stigaudit/server/stream"
	"github.com/stigaudit/stigaudit/server/tlog"
	"github.com/stigaudit/stigaudit/web"
)

// node is the reference server as the binary wires it — the API, the
// tamper-evidence routes, the page — over a SQLite store in a temporary
// directory, behind httptest on 127.0.0.1.
type node struct {
	t        testing.TB
	URL      string
	log      *stigaudit.Log
	store    *sqlitestore.Store
	keys     *auth.Keys
	cp       *tlog.Checkpointer
	hub      *stream.Hub
	verifier string // the checkpoint verifier key

	admin, writer, reader string // API keys

	// tamper, when set, corrupts answers as a malicious or broken server
	// would (modes separated by commas): "proof" flips a hash of every
	// inclusion proof, "event" changes the content of every event in list
	// answers, "exportproof" and "listproof" flip a hash of every proof in
	// an export or a list with ?proof=1; "noexport" answers 404 for the
	// export route and "nolistproof" refuses ?proof=1.
	tamper atomic.Value
}

// nodeConfig tunes a test node; the zero value is the server's defaults.
type nodeConfig struct {
	// maxPending is the stream hub's queue per reader (a small one cuts
	// readers off soon, to test resuming).
	maxPending int
	// catalogue, when set, is an operator's --catalogue file: the node's
	// catalogue is the built-in one extended by it.
	catalogue string
	// limits are the node's detail limits (--max-detail-bytes,
	// --max-detail-depth); zero: the defaults.
	limits event.Limits
	// witnesses, when set, cosign every checkpoint the node serves (as a
	// server with a witness policy serves its witnessed checkpoint).
	witnesses []note.Signer
}

func newNode(t testing.TB, cfgs ...nodeConfig) *node {
	t.Helper()
	quiet := slog.New(slog.DiscardHandler)
	dir := t.TempDir()
	st, err := sqlitestore.Open(filepath.Join(dir, "stigaudit.db"), sqlitestore.Options{Synchronous: "NORMAL"})
	if err != nil {
		t.Fatal(err)
	}
	var cfg nodeConfig
	if len(cfgs) > 0 {
		cfg = cfgs[0]
	}
	hub := stream.NewHub(stream.HubOptions{MaxPending: cfg.maxPending})
	cat := catalog.Default()
	if cfg.catalogue != "" {
		if cat, err = cat.Extend([]byte(cfg.catalogue)); err != nil {
			st.Close()
			t.Fatal(err)
		}
	}
	l, err := stigaudit.Open(stigaudit.Options{Store: st, Catalogue: cat, Limits: cfg.limits, Logger: quiet, Observer: hub})
	if err != nil {
		st.Close()
		t.Fatal(err)
	}
	keys := auth.New(st.APIKeys(), auth.Options{Params: auth.Params{Time: 1, Memory: 64, Threads: 1}})
	key, err := tlog.LoadOrCreateKey(dir, "", rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	cp, err := tlog.New(context.Background(), tlog.Config{Tree: st, Checkpoints: st.Checkpoints(), Key: key,
		Interval: 200 * time.Millisecond, Poll: 50 * time.Millisecond, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	cp.Start()

	n := &node{t: t, log: l, store: st, keys: keys, cp: cp, hub: hub, verifier: key.VerifierKey}
	n.tamper.Store("")
	sc := server.Config{Log: l, Keys: keys, Store: st, Logger: quiet, Checkpointer: cp, ExportSigner: cp, Hub: hub,
		Web: &web.Config{VerifierKey: key.VerifierKey}}
	if len(cfg.witnesses) > 0 {
		sc.Witnessed = func() ([]byte, bool) {
			s, ok := cp.Latest()
			if !ok {
				return nil, false
			}
			body := s.Note[:bytes.Index(s.Note, []byte("\n\n"))+1]
			cosigned, err := note.Sign(&note.Note{Text: string(body)}, cfg.witnesses...)
			if err != nil {
				return nil, false
			}
			lines := cosigned[bytes.Index(cosigned, []byte("\n\n"))+2:]
			return append(append([]byte(nil), s.Note...), lines...), true
		}
	}
	h, err := server.New(sc)
	if err != nil {
		t.Fatal(err)
	}
	// The tamperer rewrites the server's answers from outside, as a
	// hostile proxy would.
	e := echo.New()
	e.Any("/*", echo.WrapHandler(h), n.tamperer)
	srv := httptest.NewServer(e)
	n.URL = srv.URL
	t.Cleanup(func() {
		srv.CloseClientConnections()
		srv.Close()
		cp.Stop(context.Background())
		hub.Close()
		l.Close()
	})
	n.admin = n.key("default", "urn:stigaudit:admin", "admin")
	n.writer = n.key("default", "agent:writer", "audit.write,read")
	n.reader = n.key("default", "agent:reader", "read")
	return n
}

func (n *node) key(tenant, entity, perms string) string {
	n.t.Helper()
	ps, err := auth.ParsePerms(perms)
	if err != nil {
		n.t.Fatal(err)
	}
	text, _, err := n.keys.Create(context.Background(), auth.Spec{Tenant: tenant, EntityURI: entity, OIDCSub: "sub-" + entity, Perms: ps})
	if err != nil {
		n.t.Fatal(err)
	}
	return text
}

// emit stores drafts as one batch.
func (n *node) emit(ds ...event.Draft) []event.Event {
	n.t.Helper()
	res, err := n.log.EmitBatch(context.Background(), ds)
	if err != nil {
		n.t.Fatal(err)
	}
	evs := make([]event.Event, 0, len(res))
	for _, r := range res {
		evs = append(evs, r.Event)
	}
	return evs
}

// sync signs a checkpoint covering every stored event now.
func (n *node) sync() tlog.Signed {
	n.t.Helper()
	s, err := n.cp.Sync(context.Background())
	if err != nil {
		n.t.Fatal(err)
	}
	return s
}

// seed stores count varied events: several types, principals and outcomes.
func (n *node) seed(count int) []event.Event {
	n.t.Helper()
	types := []struct{ typ, detail string }{
		{"fact_write", ""}, {"fact_read", ""}, {"admin_action", `{"action":"rotate"}`},
		{"quota_breach", `{"dimension":"writes","n":3}`}, {"auth_failed", ""},
	}
	outcomes := []string{"success", "success", "failure", "denied"}
	var all []event.Event
	for start := 0; start < count; start += 1000 {
		var ds []event.Draft
		for i := start; i < min(count, start+1000); i++ {
			ty := types[i%len(types)]
			d := event.Draft{Type: ty.typ, Tenant: "default", EntityURI: fmt.Sprintf("agent:%d", i%7),
				Emitter: "urn:stigaudit:admin", Outcome: outcomes[i%len(outcomes)], Source: "seed",
				FactID: fmt.Sprintf("fact-%d", i%11)}
			if i%7 == 0 {
				d.EntityURI = "agent:reader"
			}
			if ty.detail != "" {
				d.Detail = []byte(ty.detail)
			}
			ds = append(ds, d)
		}
		all = append(all, n.emit(ds...)...)
	}
	return all
}

// tamperer corrupts answers while n.tamper says so.
func (n *node) tamperer(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		modes, _ := n.tamper.Load().(string)
		has := func(m string) bool { return slices.Contains(strings.Split(modes, ","), m) }
		var mode string
		switch p := c.Request().URL.Path; {
		case p == exportapi.Route && has("noexport"):
			return c.JSONBlob(http.StatusNotFound, []byte(`{"error":{"code":"not_found","message":"no export here"}}`))
		case p == exportapi.Route && has("exportproof"):
			mode = "exportproof"
		case p == "/v1/audit" && c.QueryParams().Has("proof") && has("nolistproof"):
			return c.JSONBlob(http.StatusBadRequest, []byte(`{"error":{"code":"invalid_parameter","message":"this server does not serve proofs"}}`))
		case p == "/v1/audit" && c.QueryParams().Has("proof") && has("listproof"):
			mode = "listproof"
		case p == "/v1/audit/proof/inclusion" && has("proof"):
			mode = "proof"
		case p == "/v1/audit" && has("event"):
			mode = "event"
		default:
			return next(c)
		}
		rec := &recorder{header: http.Header{}, status: http.StatusOK}
		w := c.Response().Writer
		c.Response().Writer = rec
		err := next(c)
		c.Response().Writer = w
		if err != nil {
			return err
		}
		body := rec.body.Bytes()
		if rec.status == http.StatusOK {
			body = corrupt(mode, body)
		}
		for k, v := range rec.header {
			w.Header()[k] = v
		}
		w.Header().Del("Content-Length")
		w.WriteHeader(rec.status)
		_, err = w.Write(body)
		return err
	}
}

func corrupt(mode string, body []byte) []byte {
	if mode == "exportproof" {
		lines := bytes.Split(body, []byte("\n"))
		for i, l := range lines {
			var v map[string]any
			switch {
			case json.Unmarshal(l, &v) != nil || v["seq"] == nil:
			case v["proof"] != nil:
				p, _ := json.Marshal(v["proof"])
				lines[i] = bytes.Replace(l, p, corrupt("proof", p), 1)
			case i == 0: // a complete export: change one leaf, so the tree's root changes
				h := v["leaf_hash"].(string)
				lines[i] = bytes.Replace(l, []byte(h), []byte(strings.Repeat("0", len(h))), 1)
			}
		}
		return bytes.Join(lines, []byte("\n"))
	}
	var v map[string]any
	if json.Unmarshal(body, &v) != nil {
		return body
	}
	switch mode {
	case "proof":
		if hs, ok := v["hashes"].([]any); ok && len(hs) > 0 {
			h := hs[len(hs)-1].(string)
			hs[len(hs)-1] = h[:len(h)-1] + map[bool]string{true: "1", false: "0"}[h[len(h)-1] == '0']
		}
	case "listproof":
		for _, e := range v["events"].([]any) {
			if p, ok := e.(map[string]any)["proof"].(map[string]any); ok {
				b, _ := json.Marshal(p)
				json.Unmarshal(corrupt("proof", b), &p)
				e.(map[string]any)["proof"] = p
			}
		}
	case "event":
		if evs, ok := v["events"].([]any); ok {
			for _, e := range evs {
				e.(map[string]any)["outcome"] = "success"
				e.(map[string]any)["source"] = "rewritten"
			}
		}
	}
	b, _ := json.Marshal(v)
	return b
}

type recorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (r *recorder) Header() http.Header         { return r.header }
func (r *recorder) Write(b []byte) (int, error) { return r.body.Write(b) }
func (r *recorder) WriteHeader(s int)           { r.status = s }
func (r *recorder) Flush()                      {}

// --- the browser ---------------------------------------------------------

// chromium finds the browser: $STIGAUDIT_CHROMIUM, then the usual names.
func chromium() string {
	if p := os.Getenv("STIGAUDIT_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"/usr/bin/chromium", "chromium", "chromium-browser", "google-chrome", "headless-shell"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// browser is one headless Chromium whose every request goes through a
// recording proxy, loopback included, so a test can assert that nothing
// left 127.0.0.1.
type browser struct {
	ctx   context.Context
	proxy *recordingProxy
}

// newBrowser starts Chromium with a fresh profile. With proxied, every
// request goes through a recordingProxy (b.proxy); without, the browser
// talks to the server directly (for timings that should not include the
// proxy's hop).
func newBrowser(t testing.TB, width, height int, proxied bool) *browser {
	t.Helper()
	path := chromium()
	if path == "" {
		if os.Getenv("STIGAUDIT_REQUIRE_CHROMIUM") == "1" {
			t.Fatal("no Chromium found and STIGAUDIT_REQUIRE_CHROMIUM=1 (install it: apt-get install -y chromium)")
		}
		t.Skip("skipping the browser tests: no Chromium found (apt-get install -y chromium, or set STIGAUDIT_CHROMIUM)")
	}
	// The flags of the brief, and off (or pointed at the closed discard
	// port of loopback) everything that makes Chromium call Google on its
	// own: network time, autofill, the component updater (it asks even with
	// --disable-component-update) and the GAIA account check it makes on
	// every navigation. The proxy must see nothing but the page's requests.
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(width, height),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-domain-reliability", true),
		chromedp.Flag("no-pings", true),
		chromedp.Flag("disable-features", "Translate,NetworkTimeServiceQuerying,AutofillServerCommunication,"+
			"OptimizationHints,MediaRouter,DialMediaRouteProvider,CertificateTransparencyComponentUpdater,"+
			"InterestFeedContentSuggestions,PrivacySandboxSettings4,AccountConsistency,SigninInterceptBubbleV2"),
		chromedp.Flag("gaia-url", "http://127.0.0.1:9"),
		chromedp.Flag("component-updater", "url-source=http://127.0.0.1:9"),
	)
	var proxy *recordingProxy
	if proxied {
		proxy = newRecordingProxy(t)
		opts = append(opts,
			chromedp.Flag("proxy-server", "http://"+proxy.addr),
			chromedp.Flag("proxy-bypass-list", "<-loopback>"))
	}
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelC := chromedp.NewContext(actx)
	if err := chromedp.Do(ctx); err != nil {
		cancelC()
		cancelA()
		t.Fatalf("starting Chromium (%s): %v", path, err)
	}
	t.Cleanup(func() {
		cancelC()
		cancelA()
	})
	return &browser{ctx: ctx, proxy: proxy}
}

// recordingProxy is an HTTP proxy that records every URL the browser asks
// for and forwards only requests to loopback addresses. CONNECT (TLS) is
// recorded and refused.
type recordingProxy struct {
	addr string
	mu   sync.Mutex
	seen []string
}

func newRecordingProxy(t testing.TB) *recordingProxy {
	p := &recordingProxy{}
	rp := &httputil.ReverseProxy{
		Rewrite:       func(r *httputil.ProxyRequest) { r.Out.URL = r.In.URL; r.Out.Host = r.In.Host },
		FlushInterval: -1,
		Transport:     &http.Transport{MaxIdleConnsPerHost: 64, DisableCompression: true},
		ErrorLog:      nil,
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		target := r.URL.String()
		if r.Method == http.MethodConnect {
			target = "connect://" + r.Host
		}
		p.mu.Lock()
		p.seen = append(p.seen, target)
		p.mu.Unlock()
		host := r.URL.Hostname()
		if r.Method == http.MethodConnect || r.URL.Host == "" || !isLoopback(host) {
			http.Error(w, "the test proxy only forwards to 127.0.0.1", http.StatusForbidden)
			return
		}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	p.addr = srv.Listener.Addr().String()
	return p
}

func isLoopback(host string) bool {
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// requests returns the URLs requested so far.
func (p *recordingProxy) requests() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.seen...)
}

// offHost returns the requests that went anywhere but base's host.
func (p *recordingProxy) offHost(base string) []string {
	b, _ := url.Parse(base)
	var bad []string
	for _, s := range p.requests() {
		u, err := url.Parse(s)
		if err != nil || u.Host != b.Host || u.Scheme != "http" {
			bad = append(bad, s)
		}
	}
	return bad
}

// --- small helpers over chromedp ---------------------------------------------

func (b *browser) do(t testing.TB, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		t.Fatal(err)
	}
}

// eval evaluates a JavaScript expression (awaiting a promise) into T.
func eval[T any](t testing.TB, b *browser, expr string) T {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("%s: %v", expr, err)
	}
	return v
}

// waitFor polls a JavaScript predicate until it is truthy.
func (b *browser) waitFor(t testing.TB, what, predicate string, timeout time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, timeout)
	defer cancel()
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](predicate, chromedp.WithPollingInterval(10*time.Millisecond))); err != nil {
		dump, _ := chromedp.Run(b.ctx, chromedp.Evaluate[string](`document.querySelector('main').innerText.slice(0, 3000)`))
		t.Fatalf("waiting for %s (%s): %v\npage text:\n%s", what, predicate, err, dump)
	}
}

// screenshot saves the viewport as docs/img/<name>.png when
// STIGAUDIT_SCREENSHOTS=1, else into the test's temporary directory.
func (b *browser) screenshot(t testing.TB, name string) {
	t.Helper()
	buf, err := chromedp.Run(b.ctx, chromedp.CaptureScreenshot())
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if os.Getenv("STIGAUDIT_SCREENSHOTS") == "1" {
		dir = filepath.Join("..", "docs", "img")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, name+".png"), buf, 0o644); err != nil {
		t.Fatal(err)
	}
}

// js quotes s as a JavaScript string literal.
func js(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// httpGet fetches path from the node with an optional key.
func (n *node) get(path, key string, hdr ...string) (*http.Response, []byte) {
	n.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, n.URL+path, nil)
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	res, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		n.t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	return res, body
}

// contains reports whether s contains every one of subs.
func contains(s string, subs ...string) bool {
	for _, x := range subs {
		if !strings.Contains(s, x) {
			return false
		}
	}
	return true
}

// post sends body to the node's path with key and returns the status and
// the answer.
func (n *node) post(path, key, body string) (int, []byte) {
	n.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, n.URL+path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+key)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		n.t.Fatal(err)
	}
	defer res.Body.Close()
	answer, _ := io.ReadAll(res.Body)
	return res.StatusCode, answer
}

// errorCode is the code of an API error answer ({"error":{"code":...}}),
// "" for any other.
func errorCode(answer []byte) string {
	var e struct {
		Error struct {
			Code string `json:"code"`
		} `json:"error"`
	}
	_ = json.Unmarshal(answer, &e)
	return e.Error.Code
}
