package retention_test

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stigaudit/stigaudit"
	"github.com/stigaudit/stigaudit/core/auditerr"
	"github.com/stigaudit/stigaudit/core/event"
	"github.com/stigaudit/stigaudit/core/logverify"
	"github.com/stigaudit/stigaudit/core/merkle"
	"github.com/stigaudit/stigaudit/hostfns"
	"github.com/stigaudit/stigaudit/hostfns/pgstore"
	"github.com/stigaudit/stigaudit/hostfns/pgstore/pgtest"
	"github.com/stigaudit/stigaudit/hostfns/sqlitestore"
	"github.com/stigaudit/stigaudit/hostfns/sqlquery"
	"github.com/stigaudit/stigaudit/hostfns/storetest"
	"github.com/stigaudit/stigaudit/server"
	"github.com/stigaudit/stigaudit/server/auth"
	"github.com/stigaudit/stigaudit/server/retention"
	"github.com/stigaudit/stigaudit/server/tlog"
)

var ctx = context.Background()

// clock is a settable hostfns.Clock.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) set(t time.Time) {
	c.mu.Lock()
	c.now = t
	c.mu.Unlock()
}

var t0 = time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)

func TestParseDaysAndFloor(t *testing.T) {
	for _, tc := range []struct {
		in   string
		days int
		bad  bool
	}{
		{"400", 400, false}, {"400d", 400, false}, {" 90d ", 90, false}, {"off", 0, false}, {"0", 0, false},
		{"forever", 0, false}, {"-5", 0, true}, {"a year", 0, true}, {"", 0, true}, {"12h", 0, true},
		{"36525d", 36525, false}, {"36526d", 0, true}, {"99999999999d", 0, true}, {"99999999999999999999999d", 0, true},
	} {
		days, err := retention.ParseDays(tc.in)
		if tc.bad != (err != nil) || !tc.bad && days != tc.days {
			t.Errorf("ParseDays(%q) = %d, %v", tc.in, days, err)
		}
	}
	for _, tc := range []struct {
		p  retention.Policy
		ok bool
	}{
		{retention.Policy{Days: retention.DefaultDays}, true},
		{retention.Policy{Days: 90}, true},
		{retention.Policy{Days: 89}, false},
		{retention.Policy{Days: 7}, false},
		{retention.Policy{Days: 7, Override: true}, true},
		{retention.Policy{Days: 0}, true},
		{retention.Policy{Days: -1, Override: true}, false},
		{retention.Policy{Days: retention.MaxDays}, true},
		{retention.Policy{Days: retention.MaxDays + 1}, false},
	} {
		if err := tc.p.Check(); (err == nil) != tc.ok || err != nil && !errors.Is(err, auditerr.ErrInvalidConfig) {
			t.Errorf("%+v: %v", tc.p, err)
		}
	}
}

// dbStore is a store with its database: sqlitestore or pgstore.
type dbStore interface {
	hostfns.Store
	hostfns.Getter
	hostfns.TreeReader
	APIKeys() *sqlquery.KeyTable
}

// backend opens a new, empty store of one kind.
type backend struct {
	name string
	// open returns the store, its checkpoints, and the database opened
	// again on a connection of its own, as another process (a replica, an
	// intruder with database access) would.
	open func(t *testing.T, dir string) (dbStore, tlog.Checkpoints, *sql.DB)
	// blob32 is an SQL expression of a 32-byte value unlike any leaf hash.
	blob32 string
}

var backends = []backend{
	{
		name: "sqlite", blob32: "zeroblob(32)",
		open: func(t *testing.T, dir string) (dbStore, tlog.Checkpoints, *sql.DB) {
			path := filepath.Join(dir, "stigaudit.db")
			s, err := sqlitestore.Open(path, sqlitestore.Options{Synchronous: "NORMAL"})
			if err != nil {
				t.Fatal(err)
			}
			return s, s.Checkpoints(), rawDB(t, "sqlite", "file:"+path+"?_pragma=busy_timeout(5000)")
		},
	},
	{
		name: "postgres", blob32: `'\x` + strings.Repeat("00", 32) + `'::bytea`,
		open: func(t *testing.T, _ string) (dbStore, tlog.Checkpoints, *sql.DB) {
			dsn := pgtest.DSN(t)
			s, err := pgstore.Open(ctx, dsn, pgstore.Options{})
			if err != nil {
				t.Fatal(err)
			}
			return s, &memCheckpoints{}, rawDB(t, "pgx", dsn)
		},
	},
}

// onEachStore runs test as a subtest on each backend (PostgreSQL's skip
// without STIGAUDIT_TEST_PG_DSN).
func onEachStore(t *testing.T, test func(t *testing.T, b backend)) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) { test(t, b) })
	}
}

// memCheckpoints keeps signed checkpoints in memory: where they are
// stored is not what these tests are about.
type memCheckpoints struct {
	mu     sync.Mutex
	latest *tlog.Signed
}

func (m *memCheckpoints) Latest(context.Context) (tlog.Signed, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.latest == nil {
		return tlog.Signed{}, false, nil
	}
	return *m.latest, true, nil
}

func (m *memCheckpoints) Add(_ context.Context, s tlog.Signed, check func(latest *tlog.Signed) error) (tlog.Signed, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := check(m.latest); err != nil {
		return tlog.Signed{}, err
	}
	if m.latest != nil && m.latest.Size >= s.Size {
		return *m.latest, nil
	}
	m.latest = &s
	return s, nil
}

type node struct {
	b     backend
	dir   string
	store dbStore
	raw   *sql.DB // the database on a connection of the test's own
	log   *stigaudit.Log
	clock *clock
	key   *tlog.Key
	cp    *tlog.Checkpointer
}

func newNode(t *testing.T, b backend) *node {
	t.Helper()
	n := &node{b: b, dir: t.TempDir(), clock: &clock{now: t0}}
	var cps tlog.Checkpoints
	n.store, cps, n.raw = b.open(t, n.dir)
	var err error
	n.log, err = stigaudit.Open(stigaudit.Options{Store: n.store, Clock: n.clock})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.log.Close() })
	if n.key, err = tlog.LoadOrCreateKey(n.dir, "test", rand.Reader); err != nil {
		t.Fatal(err)
	}
	if n.cp, err = tlog.New(ctx, tlog.Config{Tree: n.store, Checkpoints: cps, Key: n.key}); err != nil {
		t.Fatal(err)
	}
	return n
}

// purger returns a Purger of n's log with pol.
func (n *node) purger(t *testing.T, pol retention.Policy) *retention.Purger {
	t.Helper()
	p, err := retention.New(retention.Config{Purging: purgingOf(n.store), Log: n.log, Policy: pol, Clock: n.clock})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// emit stores count events of varied content, one second apart from the
// clock's time.
func (n *node) emit(t *testing.T, count int) {
	t.Helper()
	base := n.clock.Now()
	for i := 0; i < count; i++ {
		n.clock.set(base.Add(time.Duration(i) * time.Second))
		d := event.Draft{
			Type: "key_rotation", Tenant: []string{"acme", "globex"}[i%2], EntityURI: fmt.Sprintf("urn:person:%d", i),
			OIDCSub: "alice@example.com", FactID: "fact-1", Source: "console", Scope: "keys:rotate", AttestedKeyID: "kid-9",
			HLC: fmt.Sprintf("%d.0", base.UnixMilli()), Detail: []byte(`{"secret":"s3cr3t","n":` + fmt.Sprint(i) + `}`),
		}
		if _, err := n.log.Emit(ctx, d); err != nil {
			t.Fatal(err)
		}
	}
}

// all returns every stored event, oldest first.
func (n *node) all(t *testing.T) []event.Event {
	t.Helper()
	return storetest.Stored(t, n.store)
}

// verify checks the stored log, up to the checkpoint's size, against
// checkpoint and older, taking a purged event's stored leaf hash as given,
// as a verifier must (unless trustPurged is false).
func (n *node) verify(t *testing.T, trustPurged bool, cp tlog.Signed, older ...[]byte) logverify.Report {
	t.Helper()
	v, err := logverify.New(logverify.Config{
		LeafHash:   func(e *event.Event) [merkle.HashSize]byte { return event.LeafHash(event.AppendCanonical(nil, e)) },
		Key:        n.key.Verifier,
		Checkpoint: cp.Note,
		Older:      older,
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range n.all(t) {
		if uint64(e.Seq) >= cp.Size {
			break
		}
		if trustPurged && retention.IsPurged(&e) {
			v.AddLeaf(e.Seq, e.LeafHash, e.LeafHash)
		} else {
			v.Add(&e)
		}
	}
	return v.Finish()
}

// TestPurgeKeepsProofs purges old events and verifies the whole log
// against checkpoints signed before and after.
func TestPurgeKeepsProofs(t *testing.T) { onEachStore(t, testPurgeKeepsProofs) }

func testPurgeKeepsProofs(t *testing.T, b backend) {
	n := newNode(t, b)
	n.emit(t, 300)                     // 2020
	n.clock.set(t0.AddDate(0, 0, 500)) // 500 days later
	n.emit(t, 20)
	before, err := n.cp.Sync(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if r := n.verify(t, false, before); !r.OK() {
		t.Fatalf("before the purge: %v", r.Err)
	}

	p := n.purger(t, retention.Policy{Days: 400})
	res, err := p.Purge(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if res.Purged() != 300 || len(res.Tenants) != 2 || res.Tenants[0].Tenant != "acme" || res.Tenants[0].Purged != 150 {
		t.Fatalf("purge result %+v", res)
	}
	evs := n.all(t)
	for _, e := range evs[:300] {
		if !retention.IsPurged(&e) || e.Emitter != "" || e.OIDCSub != "" || e.FactID != "" || e.Source != "" ||
			e.Scope != "" || e.AttestedKeyID != "" || e.HLC != "" || e.Detail != nil {
			t.Fatalf("seq %d not purged: %+v", e.Seq, e)
		}
		if e.ID == "" || e.TS == "" || e.Tenant == "" || e.Type != "key_rotation" || e.Outcome != "success" {
			t.Fatalf("seq %d lost a kept field: %+v", e.Seq, e)
		}
	}
	for _, e := range evs[300:320] {
		if retention.IsPurged(&e) || !strings.Contains(string(e.Detail), "s3cr3t") {
			t.Fatalf("young seq %d was purged", e.Seq)
		}
	}
	// The purge is recorded: per tenant a start before and an end after.
	for _, tenant := range []string{"acme", "globex"} {
		page, err := n.store.Query(ctx, hostfns.Query{Tenant: tenant, Types: []string{"admin_action"}, Order: hostfns.Ascending, After: -1, Limit: 10})
		if err != nil {
			t.Fatal(err)
		}
		if len(page.Events) != 2 {
			t.Fatalf("%s: %d admin_action events", tenant, len(page.Events))
		}
		var start, end map[string]any
		json.Unmarshal(page.Events[0].Detail, &start)
		json.Unmarshal(page.Events[1].Detail, &end)
		if start["phase"] != "start" || start["events"] != 150.0 || end["phase"] != "end" || end["purged"] != 150.0 ||
			end["start_id"] != page.Events[0].ID || start["cutoff"] != res.Cutoff {
			t.Fatalf("%s: recorded %v then %v", tenant, start, end)
		}
		if page.Events[0].Seq < 320 {
			t.Fatal("the purge was recorded after it happened")
		}
	}

	// The log still verifies: what the checkpoint signed before the purge
	// covers, and the whole log against a new checkpoint that covers the
	// purge's records, consistent with the old one.
	if r := n.verify(t, true, before); !r.OK() {
		t.Fatalf("after the purge, against the old checkpoint: %v", r.Err)
	}
	after, err := n.cp.Sync(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if r := n.verify(t, true, after, before.Note); !r.OK() {
		t.Fatalf("after the purge, against the new checkpoint and the old: %v", r.Err)
	}
	// The content is really gone: it no longer hashes to the leaves.
	if r := n.verify(t, false, after); r.OK() || r.FirstBadSeq != 0 {
		t.Fatalf("recomputing purged leaves: %+v", r)
	}

	// Purging again finds nothing and records nothing.
	count := len(n.all(t))
	if res, err := p.Purge(ctx); err != nil || res.Purged() != 0 || len(n.all(t)) != count {
		t.Fatalf("second purge: %+v %v", res, err)
	}

	// Once the young events (and the purge's own records) age out, the
	// next purge takes them, and only them.
	n.clock.set(t0.AddDate(0, 0, 500+401))
	res, err = p.Purge(ctx)
	if err != nil || res.Purged() != 24 || len(res.Tenants) != 2 || res.Tenants[0].FirstSeq != 300 || res.Tenants[1].Purged != 12 {
		t.Fatalf("purge after a year more: %+v %v", res, err)
	}
	evs = n.all(t)
	for _, e := range evs {
		if want := e.Seq < 324; retention.IsPurged(&e) != want {
			t.Fatalf("seq %d purged %v, want %v", e.Seq, !want, want)
		}
	}
	last, err := n.cp.Sync(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if r := n.verify(t, true, last, before.Note, after.Note); !r.OK() || last.Size != uint64(len(evs)) {
		t.Fatalf("after the second purge: %+v", r)
	}
}

// TestOnePurgeAtATime: replicas sharing a PostgreSQL log do not purge
// together; one that finds another purging skips its round.
func TestOnePurgeAtATime(t *testing.T) {
	n := newNode(t, backends[1])
	n.emit(t, 10)
	n.clock.set(t0.AddDate(0, 0, 500))
	conn, err := n.raw.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	const lock = `hashtextextended(current_schema() || '/stigaudit/retention', 0)`
	if _, err := conn.ExecContext(ctx, `SELECT pg_advisory_lock(`+lock+`)`); err != nil {
		t.Fatal(err)
	}
	p := n.purger(t, retention.Policy{Days: 400})
	if res, err := p.Purge(ctx); err != nil || len(res.Tenants) != 0 || len(n.all(t)) != 10 {
		t.Fatalf("a purge while another replica purges: %+v %v, %d events", res, err, len(n.all(t)))
	}
	if _, err := conn.ExecContext(ctx, `SELECT pg_advisory_unlock(`+lock+`)`); err != nil {
		t.Fatal(err)
	}
	if res, err := p.Purge(ctx); err != nil || res.Purged() != 10 {
		t.Fatalf("the purge after the other replica's: %+v %v", res, err)
	}
	// The purge released its lock: another replica may purge now.
	var ok bool
	if err := conn.QueryRowContext(ctx, `SELECT pg_try_advisory_lock(`+lock+`)`).Scan(&ok); err != nil || !ok {
		t.Fatalf("the purge lock is still held: %v %v", ok, err)
	}
}

// TestDatabaseAllowsOnlyThePurge: every other change to an event is
// refused by the database itself.
func TestDatabaseAllowsOnlyThePurge(t *testing.T) { onEachStore(t, testDatabaseAllowsOnlyThePurge) }

func testDatabaseAllowsOnlyThePurge(t *testing.T, b backend) {
	n := newNode(t, b)
	n.emit(t, 4)
	db := n.raw
	purge := `UPDATE events SET purged_at = '2030-01-01T00:00:00.000000Z', hlc = NULL, entity_uri = '', emitter = NULL,
		oidc_sub = NULL, fact_id = NULL, source = '', attested_key_id = NULL, scope = NULL, detail = NULL`
	insert := func(entity, purgedAt string) string {
		return `INSERT INTO events (seq, id, event_type, ts, tenant_id, entity_uri, source, outcome, leaf_hash, purged_at)
			VALUES (4, 'x', 'fact_write', '2020-01-01T00:00:00.000000Z', 'acme', '` + entity + `', '', 'success', ` + b.blob32 + `, ` + purgedAt + `)`
	}
	const appendOnly, live = "append-only", "cannot be purged"
	for _, tc := range []struct {
		name, sql string
		refused   string // what the refusal says; "" when allowed
	}{
		{"edit detail", `UPDATE events SET detail = '{"n":9}' WHERE seq = 0`, appendOnly},
		{"edit outcome", `UPDATE events SET outcome = 'denied' WHERE seq = 0`, appendOnly},
		{"purge but change the leaf", purge + `, leaf_hash = ` + b.blob32 + ` WHERE seq = 0`, appendOnly},
		{"purge but change ts", purge + `, ts = '2019-01-01T00:00:00.000000Z' WHERE seq = 0`, appendOnly},
		{"purge but change the tenant", purge + `, tenant_id = 'x' WHERE seq = 0`, appendOnly},
		{"purge but keep content", `UPDATE events SET purged_at = '2030-01-01T00:00:00.000000Z' WHERE seq = 0`, appendOnly},
		{"purge but keep the detail", strings.Replace(purge, ", detail = NULL", "", 1) + ` WHERE seq = 0`, appendOnly},
		{"purge before the event", strings.Replace(purge, "2030", "2000", 1) + ` WHERE seq = 0`, appendOnly},
		{"delete", `DELETE FROM events WHERE seq = 0`, appendOnly},
		{"insert purged", insert("", "'2030-01-01T00:00:00.000000Z'"), live},
		{"insert purged, naming an actor", insert("urn:x", "'2030-01-01T00:00:00.000000Z'"), live},
		{"insert with no actor", insert("", "NULL"), live},
		{"the purge", purge + ` WHERE seq = 0`, ""},
		{"purge twice", purge + ` WHERE seq = 0`, appendOnly},
		{"un-purge", `UPDATE events SET purged_at = NULL, entity_uri = 'urn:x' WHERE seq = 0`, appendOnly},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := db.ExecContext(ctx, tc.sql)
			if tc.refused == "" && err != nil || tc.refused != "" && (err == nil || !strings.Contains(err.Error(), tc.refused)) {
				t.Fatalf("err = %v, want refused %q", err, tc.refused)
			}
		})
	}
	evs := n.all(t)
	if len(evs) != 4 || !retention.IsPurged(&evs[0]) || retention.IsPurged(&evs[1]) {
		t.Fatalf("after the refused changes: %+v", evs)
	}
}

// TestRecordConfigOnceAcrossReplicas: replicas of a PostgreSQL log that
// start together with a new setting record it once.
func TestRecordConfigOnceAcrossReplicas(t *testing.T) {
	n := newNode(t, backends[1])
	const replicas = 8
	var wg sync.WaitGroup
	recorded := make(chan bool, replicas)
	start := make(chan struct{})
	for range replicas {
		p := n.purger(t, retention.Policy{Days: 400})
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			rec, err := p.RecordConfig(ctx)
			if err != nil {
				t.Error(err)
			}
			recorded <- rec
		}()
	}
	close(start)
	wg.Wait()
	close(recorded)
	count := 0
	for rec := range recorded {
		if rec {
			count++
		}
	}
	page, err := n.store.Query(ctx, hostfns.Query{Types: []string{"config_change"}, Order: hostfns.Ascending, After: -1, Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	if count != 1 || len(page.Events) != 1 {
		t.Fatalf("%d replicas said they recorded the setting, %d config_change events stored; want 1 and 1", count, len(page.Events))
	}
}

func TestRecordConfig(t *testing.T) { onEachStore(t, testRecordConfig) }

func testRecordConfig(t *testing.T, b backend) {
	n := newNode(t, b)
	count := func() int {
		page, err := n.store.Query(ctx, hostfns.Query{Types: []string{"config_change"}, Order: hostfns.Ascending, After: -1, Limit: 100})
		if err != nil {
			t.Fatal(err)
		}
		return len(page.Events)
	}
	for i, tc := range []struct {
		pol    retention.Policy
		record bool
	}{
		{retention.Policy{Days: 400}, true},
		{retention.Policy{Days: 400}, false},
		{retention.Policy{Days: 30, Override: true}, true},
		{retention.Policy{Days: 30, Override: true}, false},
		{retention.Policy{Days: 400}, true},
	} {
		p := n.purger(t, tc.pol)
		before := count()
		rec, err := p.RecordConfig(ctx)
		if err != nil || rec != tc.record || count()-before != map[bool]int{true: 1, false: 0}[tc.record] {
			t.Fatalf("start %d (%+v): recorded %v, %v", i, tc.pol, rec, err)
		}
	}
	if _, err := retention.New(retention.Config{Purging: purgingOf(n.store), Log: n.log, Policy: retention.Policy{Days: 30}}); !errors.Is(err, auditerr.ErrInvalidConfig) {
		t.Fatalf("30 days without the override: %v", err)
	}
}

// TestReadPurged: reading a purged event answers 410 with its leaf hash.
func TestReadPurged(t *testing.T) { onEachStore(t, testReadPurged) }

func testReadPurged(t *testing.T, b backend) {
	n := newNode(t, b)
	n.emit(t, 4)
	n.clock.set(t0.AddDate(1, 6, 0))
	n.emit(t, 2)
	if _, err := n.purger(t, retention.Policy{Days: 400}).Purge(ctx); err != nil {
		t.Fatal(err)
	}
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
	evs := n.all(t)
	auditor, reader, other := key("acme", "urn:a", "audit.read"), key("acme", "urn:person:0", "read"), key("globex", "urn:g", "audit.read")
	get := func(k, id string) (int, map[string]any) {
		req, _ := http.NewRequest("GET", srv.URL+"/v1/audit/events/"+id, nil)
		req.Header.Set("Authorization", "Bearer "+k)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		var m map[string]any
		json.Unmarshal(b, &m)
		return resp.StatusCode, m
	}
	purged := evs[0]
	for _, id := range []string{purged.ID, "0"} {
		status, body := get(auditor, id)
		ev, _ := body["event"].(map[string]any)
		if status != http.StatusGone || body["error"].(map[string]any)["code"] != "purged" ||
			ev["leaf_hash"] != merkle.Hex(purged.LeafHash) || ev["id"] != purged.ID || ev["purged_at"] == nil {
			t.Fatalf("purged event %s: %d %v", id, status, body)
		}
	}
	live := evs[4] // acme, urn:person:0, emitted after the jump
	if status, body := get(auditor, live.ID); status != 200 || body["leaf_hash"] != merkle.Hex(live.LeafHash) {
		t.Fatalf("live event: %d %v", status, body)
	}
	if status, _ := get(reader, live.ID); status != 200 {
		t.Fatalf("read key, own event: %d", status)
	}
	for _, tc := range []struct{ key, id string }{
		{reader, purged.ID}, // no longer names its actor
		{other, live.ID},    // another tenant
		{auditor, "99"},
		{auditor, "00000000-0000-7000-8000-000000000000"},
	} {
		if status, _ := get(tc.key, tc.id); status != 404 {
			t.Fatalf("%s: %d, want 404", tc.id, status)
		}
	}
}

// purgingOf is the store's SQL for purges.
func purgingOf(s dbStore) interface {
	retention.Purging
	PurgedAt(ctx context.Context, seq int64) (string, error)
} {
	switch s := s.(type) {
	case *sqlitestore.Store:
		return s.Purging()
	case *pgstore.Store:
		return s.Purging()
	}
	panic(fmt.Sprintf("no purging for %T", s))
}

// rawDB opens a database handle of the test's own, closed with the test.
func rawDB(t *testing.T, driver, dsn string) *sql.DB {
	t.Helper()
	db, err := sql.Open(driver, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}
