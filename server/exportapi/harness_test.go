package exportapi_test

import (
	"context"
	"crypto/rand"
	"database/sql"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/transparency-dev/merkle/compact"
	"github.com/transparency-dev/merkle/rfc6962"

	"github.com/stigaudit/stigaudit"
	"github.com/stigaudit/stigaudit/core/event"
	"github.com/stigaudit/stigaudit/hostfns"
	"github.com/stigaudit/stigaudit/hostfns/sqlitestore"
	"github.com/stigaudit/stigaudit/hostfns/storetest"
	"github.com/stigaudit/stigaudit/server"
	"github.com/stigaudit/stigaudit/server/auth"
	"github.com/stigaudit/stigaudit/server/redact"
	"github.com/stigaudit/stigaudit/server/tlog"
)

var ctx = context.Background()

// node is a reference server with the export routes over SQLite in a
// temporary directory.
type node struct {
	dir   string
	store *sqlitestore.Store
	log   *stigaudit.Log
	keys  *auth.Keys
	cp    *tlog.Checkpointer
	pol   *redact.Policy
	srv   *httptest.Server
}

type nodeOpts struct {
	fill           int      // events inserted with SQL before the server starts
	tenants        []string // tenants of the filled events, in turn; default acme, globex
	redactFields   string   // default redact.DefaultFields
	redactForKeyOf []string // entity URIs always redacted
}

func newNode(t testing.TB, o nodeOpts) *node {
	t.Helper()
	n := &node{dir: t.TempDir()}
	var err error
	n.store, err = sqlitestore.Open(filepath.Join(n.dir, "stigaudit.db"), sqlitestore.Options{Synchronous: "NORMAL"})
	if err != nil {
		t.Fatal(err)
	}
	if o.fill > 0 {
		if o.tenants == nil {
			o.tenants = []string{"acme", "globex"}
		}
		fill(t, rawSQLite(t, filepath.Join(n.dir, "stigaudit.db")), o.fill, o.tenants)
	}
	n.log, err = stigaudit.Open(stigaudit.Options{Store: n.store})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.log.Close() })
	n.keys = auth.New(n.store.APIKeys(), auth.Options{Params: auth.Params{Time: 1, Memory: 64, Threads: 1}})
	key, err := tlog.LoadOrCreateKey(n.dir, "test", rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	n.cp, err = tlog.New(ctx, tlog.Config{Tree: n.store, Checkpoints: n.store.Checkpoints(), Key: key})
	if err != nil {
		t.Fatal(err)
	}
	hasher, err := redact.LoadOrCreateSalt(n.dir, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	if o.redactFields == "" {
		o.redactFields = redact.DefaultFields
	}
	prof, err := redact.ParseProfile(o.redactFields)
	if err != nil {
		t.Fatal(err)
	}
	n.pol = redact.NewPolicy(hasher, prof, o.redactForKeyOf)
	srv, err := server.New(server.Config{Log: n.log, Keys: n.keys, Store: n.store, Checkpointer: n.cp, ExportSigner: n.cp, Redaction: n.pol})
	if err != nil {
		t.Fatal(err)
	}
	n.srv = httptest.NewServer(srv)
	t.Cleanup(n.srv.Close)
	return n
}

// key creates an API key.
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

// do sends a request with a Bearer key.
func (n *node) do(t testing.TB, method, path, key string, body io.Reader) *http.Response {
	t.Helper()
	req, err := http.NewRequest(method, n.srv.URL+path, body)
	if err != nil {
		t.Fatal(err)
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

// exportEvents returns the stored audit_export events, oldest first.
func (n *node) exportEvents(t testing.TB) []event.Event {
	t.Helper()
	return storetest.PageAll(t, n.log, hostfns.Query{Types: []string{"audit_export"}, Order: hostfns.Ascending, After: -1, Limit: hostfns.MaxQueryLimit})
}

// fillBase is the ts of the first filled event: well in the past, so that
// until=fillEnd separates filled events from those the tests emit.
var fillBase = time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)

// fillEnd is after every filled event (one per millisecond, at most 10^7).
const fillEnd = "2020-06-01T00:00:00Z"

// fillEvent is filled event number i: every field varies a little, and a
// few hold characters CSV must quote or guard.
func fillEvent(i int, tenants []string) event.Event {
	e := event.Event{
		Seq:       int64(i),
		ID:        fmt.Sprintf("01700000-0000-7000-8000-%012x", i),
		Type:      "fact_write",
		TS:        fillBase.Add(time.Duration(i) * time.Millisecond).Format(event.TSLayout),
		Tenant:    tenants[i%len(tenants)],
		EntityURI: fmt.Sprintf("urn:person:%d", i%97),
		OIDCSub:   fmt.Sprintf("sub-%d@example.com", i%89),
		FactID:    fmt.Sprintf("fact-%d", i%1000),
		Source:    "api",
		Outcome:   event.OutcomeSuccess,
	}
	switch i % 10 {
	case 2:
		e.Source = `=HYPERLINK("http://evil","x")`
	case 6:
		e.Source = "comma, \"quote\"\nnewline"
	case 3:
		e.Outcome = event.OutcomeDenied
		e.Scope = "facts:write"
	case 4:
		e.Detail = fmt.Appendf(nil, `{"key_id":"kid-%d","n":%d}`, i%7, i)
	}
	e.LeafHash = event.LeafHash(event.AppendCanonical(nil, &e))
	return e
}

// fill inserts n events into an empty log with SQL, in one transaction,
// with their tree nodes and ts blocks, as the store would have written
// them: much faster than appending a million events through the API.
// rawSQLite opens the SQLite file at path on a handle of the test's own,
// closed with the test: fill writes the rows the way a bulk import would.
func rawSQLite(t testing.TB, path string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func fill(t testing.TB, db *sql.DB, n int, tenants []string) {
	t.Helper()
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	// A large page cache for the fill (the indexes are written in random
	// order), given back at the end.
	if _, err := tx.ExecContext(ctx, `PRAGMA cache_size = -262144; PRAGMA temp_store = MEMORY`); err != nil {
		t.Fatal(err)
	}
	defer db.ExecContext(ctx, `PRAGMA cache_size = -2000; PRAGMA shrink_memory`)
	const rows = 64
	row := "(?" + strings.Repeat(",?", 15) + ")"
	insEvents, err := tx.PrepareContext(ctx, `INSERT INTO events (seq, id, event_type, ts, hlc, tenant_id, entity_uri, emitter,
		oidc_sub, fact_id, source, attested_key_id, scope, outcome, detail, leaf_hash) VALUES `+row+strings.Repeat(","+row, rows-1))
	if err != nil {
		t.Fatal(err)
	}
	insOne, err := tx.PrepareContext(ctx, `INSERT INTO events (seq, id, event_type, ts, hlc, tenant_id, entity_uri, emitter,
		oidc_sub, fact_id, source, attested_key_id, scope, outcome, detail, leaf_hash) VALUES `+row)
	if err != nil {
		t.Fatal(err)
	}
	insNode, err := tx.PrepareContext(ctx, `INSERT INTO tree_nodes (level, idx, hash) VALUES (?, ?, ?)`)
	if err != nil {
		t.Fatal(err)
	}
	insBlock, err := tx.PrepareContext(ctx, `INSERT INTO ts_blocks (block, min_ts, max_ts) VALUES (?, ?, ?)`)
	if err != nil {
		t.Fatal(err)
	}
	rf := &compact.RangeFactory{Hash: rfc6962.DefaultHasher.HashChildren}
	tree := rf.NewEmptyRange(0)
	// Tree nodes wait until the events they cover are inserted.
	type treeNode struct {
		id   compact.NodeID
		hash []byte
	}
	var nodes []treeNode
	visit := func(id compact.NodeID, h []byte) {
		if id.Level > 0 {
			nodes = append(nodes, treeNode{id, h})
		}
	}
	flushNodes := func() {
		for _, nd := range nodes {
			if _, err := insNode.ExecContext(ctx, nd.id.Level, nd.id.Index, nd.hash); err != nil {
				t.Fatal(err)
			}
		}
		nodes = nodes[:0]
	}
	null := func(s string) any {
		if s == "" {
			return nil
		}
		return s
	}
	args := make([]any, 0, rows*16)
	var minTS, maxTS string
	for i := 0; i < n; i++ {
		e := fillEvent(i, tenants)
		var detail any
		if e.Detail != nil {
			detail = string(e.Detail)
		}
		args = append(args, e.Seq, e.ID, e.Type, e.TS, null(e.HLC), e.Tenant, e.EntityURI, null(e.Emitter),
			null(e.OIDCSub), null(e.FactID), e.Source, null(e.AttestedKeyID), null(e.Scope), e.Outcome, detail, e.LeafHash[:])
		if len(args) == cap(args) {
			if _, err := insEvents.ExecContext(ctx, args...); err != nil {
				t.Fatal(err)
			}
			args = args[:0]
			flushNodes()
		}
		if err := tree.Append(e.LeafHash[:], visit); err != nil {
			t.Fatal(err)
		}
		if i%1024 == 0 {
			minTS, maxTS = e.TS, e.TS
		}
		minTS, maxTS = min(minTS, e.TS), max(maxTS, e.TS)
		if i%1024 == 1023 || i == n-1 {
			if _, err := insBlock.ExecContext(ctx, i/1024, minTS, maxTS); err != nil {
				t.Fatal(err)
			}
		}
	}
	for len(args) > 0 {
		if _, err := insOne.ExecContext(ctx, args[:16]...); err != nil {
			t.Fatal(err)
		}
		args = args[16:]
	}
	flushNodes()
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
}
