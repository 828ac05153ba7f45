package server_test

import (
	"context"
	"crypto/rand"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stigaudit/stigaudit"
	"github.com/stigaudit/stigaudit/core/event"
	"github.com/stigaudit/stigaudit/hostfns/sqlitestore"
	"github.com/stigaudit/stigaudit/server"
	"github.com/stigaudit/stigaudit/server/api"
	"github.com/stigaudit/stigaudit/server/auth"
	"github.com/stigaudit/stigaudit/server/redact"
	"github.com/stigaudit/stigaudit/server/stream"
	"github.com/stigaudit/stigaudit/server/tlog"
	"github.com/stigaudit/stigaudit/web"
)

// fullServer is a server with every part, over a SQLite log on disk.
func fullServer(t *testing.T) (*httptest.Server, *auth.Keys) {
	t.Helper()
	srv, keys, _ := fullServerSigning(t)
	return srv, keys
}

// fullServerSigning is fullServer with its checkpointer, not started.
func fullServerSigning(t testing.TB) (*httptest.Server, *auth.Keys, *tlog.Checkpointer) {
	t.Helper()
	dir := t.TempDir()
	quiet := slog.New(slog.DiscardHandler)
	st, err := sqlitestore.Open(filepath.Join(dir, "stigaudit.db"), sqlitestore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	hub := stream.NewHub(stream.HubOptions{})
	l, err := stigaudit.Open(stigaudit.Options{Store: st, Logger: quiet, Observer: hub})
	if err != nil {
		t.Fatal(err)
	}
	key, err := tlog.LoadOrCreateKey(dir, "", rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	cp, err := tlog.New(context.Background(), tlog.Config{Tree: st, Checkpoints: st.Checkpoints(), Key: key, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	// One event, signed: the reads have something to answer with.
	if _, err := l.Emit(context.Background(), event.Draft{Type: "fact_read", Tenant: "acme", EntityURI: "urn:test:read"}); err != nil { // the read key sees its own entity only
		t.Fatal(err)
	}
	if _, err := cp.Sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	hasher, err := redact.NewHasher(make([]byte, redact.SaltSize))
	if err != nil {
		t.Fatal(err)
	}
	prof, _ := redact.ParseProfile(redact.DefaultFields)
	keys := auth.New(st.APIKeys(), auth.Options{Params: auth.Params{Time: 1, Memory: 64, Threads: 1}})
	h, err := server.New(server.Config{
		Redaction: redact.NewPolicy(hasher, prof, nil),
		Log:       l, Keys: keys, Store: st, Logger: quiet,
		Checkpointer: cp, History: func() (tlog.History, error) { return tlog.HistoryOf(dir) },
		ExportSigner: cp, Hub: hub, Purges: st.Purging(), Stats: st, Web: &web.Config{VerifierKey: key.VerifierKey},
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(func() {
		srv.CloseClientConnections()
		hub.Close()
		srv.Close()
		l.Close()
		st.Close()
	})
	return srv, keys, cp
}

// TestRouteTable pins who may call each route of server/routes.go
// (docs/api.md): without a key a protected route is 401; with a key that
// lacks the route's permission, 403; with one that holds it, neither.
// Public routes answer without a key.
func TestRouteTable(t *testing.T) {
	srv, keys := fullServer(t)
	const none auth.Perms = 0
	anyKey := auth.Perms(1 << 7) // not a permission: any valid key
	routes := []struct {
		method, path string
		want         auth.Perms
	}{
		{"GET", "/healthz", none},
		{"GET", "/readyz", none},
		{"GET", "/", none},
		{"HEAD", "/", none},
		{"GET", web.PathConfig, none},
		{"GET", "/web/stigaudit.mjs", none},
		{"GET", web.PathSession, anyKey},
		{"POST", "/v1/audit/events", auth.PermAuditWrite},
		{"GET", "/v1/audit", auth.PermRead},
		{"GET", "/v1/audit/facts/f1", auth.PermRead},
		{"GET", "/v1/admin/audit", auth.PermAuditRead},
		{"GET", api.StatsRoute + "?since=2026-06-01T10:00:00Z&until=2026-06-01T11:00:00Z", auth.PermRead},
		{"GET", "/v1/audit/events/0190a5b8-8a5e-7cc0-9c1e-5f9c1d2e3f40", auth.PermRead},
		{"GET", "/v1/audit/events/0190a5b8-8a5e-7cc0-9c1e-5f9c1d2e3f40/receipt", auth.PermRead},
		{"GET", "/v1/audit/checkpoint", auth.PermRead},
		{"GET", "/v1/audit/proof/inclusion?seq=0", auth.PermRead},
		{"GET", "/v1/audit/proof/consistency?from=1", auth.PermRead},
		{"GET", "/v1/audit/verifier-keys", auth.PermRead},
		{"GET", tlog.TilesPrefix + "/checkpoint", auth.PermRead},
		{"GET", tlog.TilesPrefix + "/tile/0/000.p/1", auth.PermRead},
		{"GET", "/v1/audit/export", auth.PermAuditRead},
		{"POST", "/v1/audit/hash", auth.PermAdmin},
		{"GET", stream.Route, auth.PermAuditRead},
	}
	keyFor := map[auth.Perms]string{}
	for _, p := range []auth.Perms{auth.PermAuditWrite, auth.PermRead, auth.PermAuditRead, auth.PermAdmin} {
		text, _, err := keys.Create(context.Background(), auth.Spec{Tenant: "acme", EntityURI: "urn:test:" + p.String(), Perms: p})
		if err != nil {
			t.Fatal(err)
		}
		keyFor[p] = text
	}
	call := func(method, path, key string) int {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		req, err := http.NewRequestWithContext(ctx, method, srv.URL+path, strings.NewReader(`{"value":"agent:a"}`))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		if key != "" {
			req.Header.Set("Authorization", "Bearer "+key)
		}
		resp, err := srv.Client().Do(req) // a stream answers its headers first
		if err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	for _, r := range routes {
		code := call(r.method, r.path, "")
		switch {
		case r.want == none && (code == 401 || code == 403 || code == 404 || code == 405):
			t.Errorf("%s %s without a key: %d, want a public answer", r.method, r.path, code)
		case r.want != none && code != 401:
			t.Errorf("%s %s without a key: %d, want 401", r.method, r.path, code)
		}
		if r.want == none {
			continue
		}
		for p, key := range keyFor {
			code := call(r.method, r.path, key)
			allowed := r.want == anyKey || p.Has(r.want)
			switch {
			case allowed && (code == 401 || code == 403 || code == 404 && !strings.Contains(r.path, "/events/") || code == 405):
				t.Errorf("%s %s with a %s key: %d, want it served", r.method, r.path, p, code)
			case !allowed && code != 403:
				t.Errorf("%s %s with a %s key: %d, want 403", r.method, r.path, p, code)
			}
		}
	}
	if code := call("GET", "/v1/no/such/route", keyFor[auth.PermAdmin]); code != 404 {
		t.Errorf("an unknown route: %d, want 404", code)
	}
}
