package web

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/stigaudit/stigaudit/core/catalog"
	"github.com/stigaudit/stigaudit/core/event"
	"github.com/stigaudit/stigaudit/server/api"
	"github.com/stigaudit/stigaudit/server/auth"
	"github.com/stigaudit/stigaudit/wasm"
)

// static holds the page: index.html and the files served under /web/.
//
//go:embed static
var static embed.FS

// Config configures New.
type Config struct {
	// Catalogue lists the event types the page offers in its filters and
	// composer; default catalog.Default(). Pass the server's own when it
	// was extended by configuration.
	Catalogue *catalog.Catalogue
	// Limits are the server's detail limits (--max-detail-bytes,
	// --max-detail-depth), which the page's core enforces too; a field of
	// zero or less means its default, as for event.Builder. Pass the
	// server's own (stigaudit.Log.Limits).
	Limits event.Limits
	// VerifierKey is the node's checkpoint verifier key
	// ("<name>+<hash>+<base64>", as `stigaudit keys checkpoint-key` prints
	// it), advertised to the page. Empty: the operator pastes it.
	VerifierKey string
}

// Paths of the page's routes (server/routes.go mounts them).
const (
	// PathLoader is the JS loader of the module.
	PathLoader = "/web/stigaudit.mjs"
	// PathConfig is the page's public configuration.
	PathConfig = "/web/config.json"
	// PathSession answers who the presented API key is.
	PathSession = "/web/session"
)

// ContentSecurityPolicy is sent with every answer of the page: scripts,
// styles, connections and workers from the server itself only, WebAssembly
// compilation allowed, nothing else. A page that holds an API key must not
// be able to talk to anyone but its server.
const ContentSecurityPolicy = "default-src 'none'; script-src 'self' 'wasm-unsafe-eval'; " +
	"style-src 'self'; img-src 'self'; connect-src 'self'; worker-src 'self'; " +
	"base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// Cache-Control values: revalidate (ETag) the page and its scripts, keep
// the content-addressed module for a year.
const (
	cacheRevalidate = "no-cache"
	cacheImmutable  = "public, max-age=31536000, immutable"
	cacheNever      = "no-store"
)

// asset is one file as served: its bytes, their gzip form when that is
// smaller, and a strong ETag of the uncompressed bytes.
type asset struct {
	ctype string
	cache string
	body  []byte
	gz    []byte        // nil: serve body; read only after ready is closed
	ready chan struct{} // closed once gz is final
	etag  string
}

func newAsset(name string, body []byte, cache string) *asset {
	sum := sha256.Sum256(body)
	a := &asset{ctype: contentType(name), cache: cache, body: body, ready: make(chan struct{}),
		etag: `"` + hex.EncodeToString(sum[:16]) + `"`}
	return a
}

// compress sets a.gz (when worth it) and marks the asset ready.
func (a *asset) compress(level int) {
	defer close(a.ready)
	if len(a.body) < 1024 {
		return
	}
	var b bytes.Buffer
	zw, err := gzip.NewWriterLevel(&b, level)
	if err != nil {
		return
	}
	if _, err := zw.Write(a.body); err != nil || zw.Close() != nil {
		return
	}
	if b.Len() < len(a.body) {
		a.gz = b.Bytes()
	}
}

func contentType(name string) string {
	switch path.Ext(name) {
	case ".mjs", ".js":
		return "text/javascript; charset=utf-8"
	case ".wasm":
		return "application/wasm"
	case ".html":
		return "text/html; charset=utf-8"
	case ".css":
		return "text/css; charset=utf-8"
	case ".svg":
		return "image/svg+xml"
	case ".json":
		return "application/json"
	}
	if t := mime.TypeByExtension(path.Ext(name)); t != "" {
		return t
	}
	return "application/octet-stream"
}

// Site is the page and its assets, what the handlers share; it is
// immutable once New returns (but for the module's gzip form, published
// through its ready channel).
type Site struct {
	index  *asset
	files  map[string]*asset // by name under /web/
	config *asset
}

// New builds the page and its assets (see the package doc). The module is
// gzip-compressed in a background goroutine; a request for it before that
// finishes waits for it.
func New(cfg Config) (*Site, error) {
	if cfg.Catalogue == nil {
		cfg.Catalogue = catalog.Default()
	}
	s := &Site{files: map[string]*asset{}}

	mod := wasm.Module()
	sum := sha256.Sum256(mod)
	wasmName := "stigaudit." + hex.EncodeToString(sum[:8]) + ".wasm"
	wasmURL := "/web/" + wasmName
	module := newAsset(wasmName, mod, cacheImmutable)
	s.files[wasmName] = module
	// The unhashed name is for tools; browsers get the hashed one.
	s.files["stigaudit.wasm"] = &asset{ctype: module.ctype, cache: cacheRevalidate, body: mod, ready: module.ready, etag: module.etag}

	var small []*asset
	add := func(name string, body []byte, cache string) *asset {
		a := newAsset(name, body, cache)
		small = append(small, a)
		return a
	}
	err := fs.WalkDir(static, "static", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		body, err := static.ReadFile(p)
		if err != nil {
			return err
		}
		name := strings.TrimPrefix(p, "static/")
		if name == "index.html" {
			body = bytes.ReplaceAll(body, []byte("{{WASM_URL}}"), []byte(wasmURL))
			s.index = add(name, body, cacheRevalidate)
			return nil
		}
		s.files[name] = add(name, body, cacheRevalidate)
		return nil
	})
	if err != nil {
		return nil, err
	}
	if s.index == nil {
		return nil, errors.New("web: static/index.html is missing")
	}
	s.files["stigaudit.mjs"] = add("stigaudit.mjs", wasm.Loader(), cacheRevalidate)

	conf, err := configJSON(cfg, wasmURL)
	if err != nil {
		return nil, fmt.Errorf("web: building %s: %w", PathConfig, err)
	}
	s.config = add("config.json", conf, cacheNever)

	for _, a := range small {
		a.compress(gzip.BestCompression)
	}
	go module.compress(gzip.DefaultCompression)

	return s, nil
}

// configJSON is the body of GET /web/config.json: the module's URL, the
// advertised verifier key, every event type (for the filters and the
// composer's hints) and "configure", the input of the module's configure
// export that makes the page's core accept exactly what the server does.
func configJSON(cfg Config, wasmURL string) ([]byte, error) {
	type eventType struct {
		Name     string   `json:"name"`
		Critical bool     `json:"critical"`
		Required []string `json:"required"`
	}
	type config struct {
		WASM        string          `json:"wasm"`
		VerifierKey string          `json:"verifier_key"`
		EventTypes  []eventType     `json:"event_types"`
		Configure   json.RawMessage `json:"configure"`
	}
	c := config{WASM: wasmURL, VerifierKey: cfg.VerifierKey, EventTypes: []eventType{}}
	for _, t := range cfg.Catalogue.Types() {
		et := eventType{Name: t.Name(), Critical: t.Critical(), Required: []string{}}
		for _, k := range t.Required() {
			et.Required = append(et.Required, k.Name)
		}
		c.EventTypes = append(c.EventTypes, et)
	}
	var err error
	if c.Configure, err = coreConfig(cfg.Catalogue, cfg.Limits); err != nil {
		return nil, err
	}
	return json.Marshal(c)
}

// coreConfig is the input of the module's configure export (docs/wasm-abi.md#configure) for a
// server with catalogue cat and detail limits lim:
//
//	{"catalogue":{"event_types":[...]},"max_detail_bytes":n,"max_detail_depth":n}
//
// The catalogue lists the operator-added types only, in the format of the
// server's --catalogue file, since the module extends its built-in
// catalogue with them exactly as the server did (catalog.Extend). That the
// result is cat again is checked here, so the page's core cannot silently
// disagree with the server about what it accepts.
func coreConfig(cat *catalog.Catalogue, lim event.Limits) ([]byte, error) {
	type opType struct {
		Name           string            `json:"name"`
		Critical       bool              `json:"critical"`
		RequiredDetail []json.RawMessage `json:"required_detail"`
	}
	type catalogue struct {
		EventTypes []opType `json:"event_types"`
	}
	type configure struct {
		Catalogue      catalogue `json:"catalogue"`
		MaxDetailBytes int       `json:"max_detail_bytes"`
		MaxDetailDepth int       `json:"max_detail_depth"`
	}
	def := event.DefaultLimits()
	c := configure{Catalogue: catalogue{EventTypes: []opType{}}, MaxDetailBytes: lim.MaxDetailBytes, MaxDetailDepth: lim.MaxDetailDepth}
	if c.MaxDetailBytes <= 0 {
		c.MaxDetailBytes = def.MaxDetailBytes
	}
	if c.MaxDetailDepth <= 0 {
		c.MaxDetailDepth = def.MaxDetailDepth
	}
	for _, t := range cat.Types() {
		if t.Family() != catalog.FamilyOperator {
			continue
		}
		ot := opType{Name: t.Name(), Critical: t.Critical(), RequiredDetail: []json.RawMessage{}}
		for _, k := range t.Required() {
			ot.RequiredDetail = append(ot.RequiredDetail, json.RawMessage(k.String()))
		}
		c.Catalogue.EventTypes = append(c.Catalogue.EventTypes, ot)
	}
	catJSON, err := json.Marshal(c.Catalogue)
	if err != nil {
		return nil, fmt.Errorf("encoding the operator's event types: %w", err)
	}
	again, err := catalog.Default().Extend(catJSON)
	if err != nil {
		return nil, fmt.Errorf("the operator's event types do not extend the built-in catalogue: %w", err)
	}
	if !sameCatalogue(again, cat) {
		return nil, errors.New("the built-in catalogue extended by the operator's event types is not the server's catalogue")
	}
	return json.Marshal(c)
}

// sameCatalogue reports whether a and b hold the same types: names,
// families, criticality and required keys.
func sameCatalogue(a, b *catalog.Catalogue) bool {
	ta, tb := a.Types(), b.Types()
	if len(ta) != len(tb) {
		return false
	}
	for i := range ta {
		x, y := ta[i], tb[i]
		if x.Name() != y.Name() || x.Family() != y.Family() || x.Critical() != y.Critical() {
			return false
		}
		kx, ky := x.Required(), y.Required()
		if len(kx) != len(ky) {
			return false
		}
		for j := range kx {
			if kx[j].String() != ky[j].String() {
				return false
			}
		}
	}
	return true
}

// Index is GET / (and HEAD): the page.
func (s *Site) Index(c echo.Context) error { return serve(c, s.index) }

// Config is GET /web/config.json (and HEAD): the page's public
// configuration.
func (s *Site) Config(c echo.Context) error { return serve(c, s.config) }

// File is GET /web/:name (and HEAD): a script, a style or the module.
func (s *Site) File(c echo.Context) error {
	a, ok := s.files[c.Param("name")]
	if !ok {
		return echo.ErrNotFound
	}
	return serve(c, a)
}

// serve writes a with its caching headers, as a 304 when the client holds
// the same ETag, and gzip-compressed when the client accepts it.
func serve(c echo.Context, a *asset) error {
	h := c.Response().Header()
	setSecurityHeaders(h)
	h.Set(echo.HeaderCacheControl, a.cache)
	h.Set("ETag", a.etag)
	h.Add(echo.HeaderVary, echo.HeaderAcceptEncoding)
	req := c.Request()
	if etagMatch(req.Header.Get("If-None-Match"), a.etag) {
		return c.NoContent(http.StatusNotModified)
	}
	body := a.body
	if acceptsGzip(req.Header.Get(echo.HeaderAcceptEncoding)) {
		select {
		case <-a.ready:
		case <-req.Context().Done():
			return req.Context().Err()
		}
		if a.gz != nil {
			h.Set(echo.HeaderContentEncoding, "gzip")
			body = a.gz
		}
	}
	return c.Blob(http.StatusOK, a.ctype, body)
}

func setSecurityHeaders(h http.Header) {
	h.Set(echo.HeaderContentSecurityPolicy, ContentSecurityPolicy)
	h.Set(echo.HeaderXContentTypeOptions, "nosniff")
	h.Set(echo.HeaderReferrerPolicy, "no-referrer")
	h.Set(echo.HeaderXFrameOptions, "DENY")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
}

// etagMatch reports whether an If-None-Match header names etag (weak
// comparison, as RFC 9110 asks for If-None-Match).
func etagMatch(header, etag string) bool {
	if header == "" {
		return false
	}
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimSpace(t)
		if t == "*" || strings.TrimPrefix(t, "W/") == etag {
			return true
		}
	}
	return false
}

// acceptsGzip reports whether an Accept-Encoding header admits gzip
// (named, with a q-value other than 0).
func acceptsGzip(header string) bool {
	for _, t := range strings.Split(header, ",") {
		name, params, _ := strings.Cut(t, ";")
		if !strings.EqualFold(strings.TrimSpace(name), "gzip") {
			continue
		}
		for _, p := range strings.Split(params, ";") {
			k, v, ok := strings.Cut(strings.TrimSpace(p), "=")
			if ok && strings.EqualFold(k, "q") {
				if q, err := strconv.ParseFloat(v, 64); err != nil || q == 0 {
					return false
				}
			}
		}
		return true
	}
	return false
}

// Session is GET /web/session, behind api.Authenticate: the principal of
// the presented key, so the page can fill in what the server will (tenant,
// emitter) and hide what the key may not do. Any valid key may ask.
func (s *Site) Session(c echo.Context) error {
	p := api.PrincipalOf(c)
	type answer struct {
		KeyID     string          `json:"key_id"`
		Tenant    string          `json:"tenant_id"`
		EntityURI string          `json:"entity_uri"`
		OIDCSub   *string         `json:"oidc_sub"`
		Perms     []string        `json:"perms"`
		Can       map[string]bool `json:"can"`
	}
	a := answer{KeyID: p.KeyID, Tenant: p.Tenant, EntityURI: p.EntityURI, Perms: []string{}, Can: map[string]bool{}}
	for _, q := range []auth.Perms{auth.PermAuditWrite, auth.PermRead, auth.PermAuditRead, auth.PermAdmin} {
		a.Can[q.String()] = p.Can(q)
	}
	if p.OIDCSub != "" {
		a.OIDCSub = &p.OIDCSub
	}
	if s := p.Perms.String(); s != "" {
		a.Perms = strings.Split(s, ",")
	}
	h := c.Response().Header()
	setSecurityHeaders(h)
	h.Set(echo.HeaderCacheControl, cacheNever)
	return c.JSON(http.StatusOK, a)
}
