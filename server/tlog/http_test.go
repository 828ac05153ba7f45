package tlog_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stigaudit/stigaudit"
	"github.com/stigaudit/stigaudit/core/checkpoint"
	"github.com/stigaudit/stigaudit/core/event"
	"github.com/stigaudit/stigaudit/core/merkle"
	"github.com/stigaudit/stigaudit/server"
	"github.com/stigaudit/stigaudit/server/auth"
	"github.com/stigaudit/stigaudit/server/health"
	"github.com/stigaudit/stigaudit/server/tlog"
	"github.com/stigaudit/stigaudit/wasm"
)

type testServer struct {
	*node
	h    http.Handler
	log  *stigaudit.Log
	keys *auth.Keys
}

func newServer(t *testing.T) *testServer {
	t.Helper()
	n := openNode(t, t.TempDir(), tlog.Config{})
	l, err := stigaudit.Open(stigaudit.Options{Store: n.store, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	keys := auth.New(n.store.APIKeys(), auth.Options{Params: auth.Params{Time: 1, Memory: 64, Threads: 1}})
	srv, err := server.New(server.Config{Log: l, Keys: keys, Store: n.store, Logger: quiet, Checkpointer: n.cp,
		Ready: []health.Check{{Name: "checkpointer", Run: n.cp.Ready}}})
	if err != nil {
		t.Fatal(err)
	}
	return &testServer{node: n, h: srv, log: l, keys: keys}
}

func (s *testServer) key(tenant, entity, perms string) string {
	s.t.Helper()
	ps, err := auth.ParsePerms(perms)
	if err != nil {
		s.t.Fatal(err)
	}
	text, _, err := s.keys.Create(ctx, auth.Spec{Tenant: tenant, EntityURI: entity, Perms: ps})
	if err != nil {
		s.t.Fatal(err)
	}
	return text
}

func (s *testServer) emit(tenant, entity string) event.Event {
	s.t.Helper()
	e, err := s.log.Emit(ctx, event.Draft{Type: "fact_read", Tenant: tenant, EntityURI: entity, Detail: []byte(`{"k":"v"}`)})
	if err != nil {
		s.t.Fatal(err)
	}
	return e
}

type reply struct {
	status int
	ctype  string
	body   []byte
}

func (r reply) code() string {
	var v struct {
		Error struct{ Code string } `json:"error"`
	}
	json.Unmarshal(r.body, &v)
	return v.Error.Code
}

func (s *testServer) get(target, key string) reply {
	req := httptest.NewRequest(http.MethodGet, target, nil)
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	rec := httptest.NewRecorder()
	s.h.ServeHTTP(rec, req)
	b, _ := io.ReadAll(rec.Body)
	return reply{rec.Code, rec.Header().Get("Content-Type"), b}
}

func TestHTTPProofsVerifyNativelyAndInWasm(t *testing.T) {
	s := newServer(t)
	reader := s.key("acme", "urn:alice", "read")
	var evs []event.Event
	for i := 0; i < 21; i++ {
		evs = append(evs, s.emit("acme", "urn:alice"))
	}
	old := s.sync()
	for i := 0; i < 30; i++ {
		evs = append(evs, s.emit("acme", "urn:alice"))
	}
	latest := s.sync()

	// The checkpoint is served as the signed note, and opens with the
	// verifier key a client holds.
	r := s.get("/v1/audit/checkpoint", reader)
	if r.status != 200 || !strings.HasPrefix(r.ctype, "text/plain") || string(r.body) != string(latest.Note) {
		t.Fatalf("checkpoint: %d %s %q", r.status, r.ctype, r.body)
	}
	v, _ := checkpoint.NewVerifier(s.key_().VerifierKey)
	cp, err := checkpoint.Open(r.body, "", v)
	if err != nil || cp.Size != 51 {
		t.Fatalf("served checkpoint: %v, size %d", err, cp.Size)
	}

	rt, err := wasm.New(ctx, wasm.Config{PoolSize: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Close(ctx)

	for _, seq := range []int{0, 7, 20, 50} {
		r := s.get(fmt.Sprintf("/v1/audit/proof/inclusion?seq=%d", seq), reader)
		if r.status != 200 {
			t.Fatalf("inclusion %d: %d %s", seq, r.status, r.body)
		}
		var p merkle.InclusionProof
		if err := p.UnmarshalJSON(r.body); err != nil {
			t.Fatalf("inclusion %d: %v: %s", seq, err, r.body)
		}
		if p.Seq != uint64(seq) || p.TreeSize != cp.Size || p.LeafHash != evs[seq].LeafHash {
			t.Fatalf("inclusion %d: %s", seq, r.body)
		}
		if err := p.Verify(cp.Root); err != nil {
			t.Fatalf("inclusion %d does not verify natively: %v", seq, err)
		}
		if err := rt.VerifyInclusion(ctx, &p, cp.Root); err != nil {
			t.Fatalf("inclusion %d does not verify in wasm: %v", seq, err)
		}
	}
	// Against the older checkpoint, by size.
	r = s.get("/v1/audit/proof/inclusion?seq=3&size=21", reader)
	var p merkle.InclusionProof
	if err := p.UnmarshalJSON(r.body); err != nil || p.Verify(old.Root) != nil {
		t.Fatalf("inclusion in size 21: %s", r.body)
	}

	r = s.get("/v1/audit/proof/consistency?from=21", reader)
	var c merkle.ConsistencyProof
	if err := c.UnmarshalJSON(r.body); err != nil {
		t.Fatalf("consistency: %v %s", err, r.body)
	}
	if c.From != 21 || c.To != 51 {
		t.Fatalf("consistency: %s", r.body)
	}
	if err := c.Verify(old.Root, cp.Root); err != nil {
		t.Fatalf("consistency does not verify natively: %v", err)
	}
	if err := rt.VerifyConsistency(ctx, &c, old.Root, cp.Root); err != nil {
		t.Fatalf("consistency does not verify in wasm: %v", err)
	}
	if _, err := rt.VerifyCheckpoint(ctx, latest.Note, s.key_().VerifierKey); err != nil {
		t.Fatalf("checkpoint does not verify in wasm: %v", err)
	}
}

func (s *testServer) key_() *tlog.Key { return s.node.key }

func TestHTTPParametersAndAccess(t *testing.T) {
	s := newServer(t)
	alice := s.key("acme", "urn:alice", "read")
	auditor := s.key("acme", "urn:auditor", "audit.read")
	other := s.key("globex", "urn:alice", "audit.read")
	admin := s.key("default", "urn:admin", "admin")
	writer := s.key("acme", "urn:alice", "audit.write")
	s.emit("acme", "urn:alice") // 0
	s.emit("acme", "urn:bob")   // 1
	s.emit("globex", "urn:eve") // 2
	s.emit("acme", "urn:alice") // 3
	s.sync()
	s.emit("acme", "urn:alice") // 4: stored, not signed yet

	for _, tc := range []struct {
		target, key string
		status      int
		code        string
	}{
		{"/v1/audit/proof/inclusion?seq=0", alice, 200, ""},
		{"/v1/audit/proof/inclusion?seq=3&size=4", alice, 200, ""},
		{"/v1/audit/proof/inclusion?seq=1", alice, 404, "not_found"},   // bob's event
		{"/v1/audit/proof/inclusion?seq=2", alice, 404, "not_found"},   // another tenant
		{"/v1/audit/proof/inclusion?seq=1", auditor, 200, ""},          // audit.read: the whole tenant
		{"/v1/audit/proof/inclusion?seq=2", auditor, 404, "not_found"}, // but not another tenant
		{"/v1/audit/proof/inclusion?seq=2", other, 200, ""},
		{"/v1/audit/proof/inclusion?seq=2", admin, 200, ""},
		{"/v1/audit/proof/inclusion?seq=4", alice, 404, "not_found"}, // not covered yet
		{"/v1/audit/proof/inclusion?seq=3&size=3", alice, 404, "not_found"},
		{"/v1/audit/proof/inclusion?seq=0&size=5", alice, 400, "invalid_parameter"}, // nothing signed at 5
		{"/v1/audit/proof/inclusion?seq=0&size=0", alice, 400, "invalid_parameter"},
		{"/v1/audit/proof/inclusion", alice, 400, "invalid_parameter"},
		{"/v1/audit/proof/inclusion?seq=", alice, 400, "invalid_parameter"},
		{"/v1/audit/proof/inclusion?seq=-1", alice, 400, "invalid_parameter"},
		{"/v1/audit/proof/inclusion?seq=01", alice, 400, "invalid_parameter"},
		{"/v1/audit/proof/inclusion?seq=x", alice, 400, "invalid_parameter"},
		{"/v1/audit/proof/inclusion?seq=99999999999999999999", alice, 400, "invalid_parameter"},
		{"/v1/audit/proof/inclusion?seq=0&seq=1", alice, 400, "invalid_parameter"},
		{"/v1/audit/proof/inclusion?seq=0&tenant_id=acme", alice, 400, "invalid_parameter"},
		{"/v1/audit/proof/consistency?from=1", alice, 200, ""},
		{"/v1/audit/proof/consistency?from=0&to=4", alice, 200, ""},
		{"/v1/audit/proof/consistency?from=4&to=4", alice, 200, ""},
		{"/v1/audit/proof/consistency?from=3&to=2", alice, 400, "invalid_parameter"},
		{"/v1/audit/proof/consistency?from=1&to=5", alice, 400, "invalid_parameter"},
		{"/v1/audit/proof/consistency", alice, 400, "invalid_parameter"},
		{"/v1/audit/checkpoint?x=1", alice, 400, "invalid_parameter"},
		{"/v1/audit/checkpoint", "", 401, "unauthorized"},
		{"/v1/audit/checkpoint", writer, 403, "forbidden"},
		{"/v1/audit/proof/inclusion?seq=0", writer, 403, "forbidden"},
		{"/v1/audit/proof/consistency?from=0", "nope", 401, "unauthorized"},
	} {
		r := s.get(tc.target, tc.key)
		if r.status != tc.status || r.code() != tc.code {
			t.Errorf("GET %s: %d %s, want %d %s", tc.target, r.status, r.body, tc.status, tc.code)
		}
	}
}

func TestHTTPReadyzReportsARefusal(t *testing.T) {
	s := newServer(t)
	s.emit("acme", "urn:alice")
	s.sync()
	if r := s.get("/readyz", ""); r.status != 200 {
		t.Fatalf("readyz: %d %s", r.status, r.body)
	}
	s.exec(`DROP TRIGGER tree_nodes_no_update`)
	for i := 0; i < 4; i++ {
		s.emit("acme", "urn:alice")
	}
	s.exec(`UPDATE tree_nodes SET hash = randomblob(32)`)
	s.emit("acme", "urn:alice")
	if _, err := s.cp.Sync(ctx); err == nil {
		t.Fatal("signed over a rewritten tree")
	}
	r := s.get("/readyz", "")
	if r.status != 503 || !strings.Contains(string(r.body), "refuses to sign") {
		t.Fatalf("readyz while refusing: %d %s", r.status, r.body)
	}
	// Reads still work, and the last good checkpoint is still served.
	if r := s.get("/v1/audit/checkpoint", s.key("acme", "urn:alice", "read")); r.status != 200 {
		t.Fatalf("checkpoint while refusing: %d", r.status)
	}
}
