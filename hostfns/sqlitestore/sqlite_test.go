package sqlitestore_test

import (
	"context"
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stigaudit/stigaudit/core/auditerr"
	"github.com/stigaudit/stigaudit/core/event"
	"github.com/stigaudit/stigaudit/hostfns"
	"github.com/stigaudit/stigaudit/hostfns/sqlitestore"
	"github.com/stigaudit/stigaudit/hostfns/storetest"
	"github.com/stigaudit/stigaudit/internal/waitfor"
)

var ctx = context.Background()

func mustAppend(t testing.TB, s hostfns.Store, evs []event.Event) []event.Event {
	t.Helper()
	out, err := s.Append(ctx, evs)
	if err != nil {
		t.Fatalf("Append: %v", err)
	}
	return out
}

func size(t testing.TB, s hostfns.Store) int64 {
	t.Helper()
	n, err := s.Size(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// rawDB opens the file with a plain connection, as an attacker or a careless
// operator with the sqlite3 shell would.
func rawDB(t *testing.T, path string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?_busy_timeout=5000")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func TestDatabaseRefusesChanges(t *testing.T) {
	s, path := open(t, sqlitestore.Options{})
	mustAppend(t, s, storetest.NewEvents(0, 8)) // completes tree nodes up to level 3
	db := rawDB(t, path)
	leaf := strings.Repeat("ab", 32)
	tests := []struct {
		name, sql, want string
	}{
		{"update event", `UPDATE events SET outcome = 'denied' WHERE seq = 3`, "append-only"},
		{"update event detail", `UPDATE events SET detail = NULL`, "append-only"},
		{"delete event", `DELETE FROM events WHERE seq = 7`, "append-only"},
		{"delete all events", `DELETE FROM events`, "append-only"},
		{"update tree node", `UPDATE tree_nodes SET hash = zeroblob(32) WHERE level = 1 AND idx = 0`, "append-only"},
		{"delete tree node", `DELETE FROM tree_nodes`, "append-only"},
		{"insert with a gap", `INSERT INTO events (seq, id, event_type, ts, tenant_id, entity_uri, outcome, leaf_hash)
			VALUES (9, 'x', 'fact_write', '2026-05-03T12:00:00.000000Z', 'acme', 'urn:x', 'success', x'` + leaf + `')`, "max(seq)+1"},
		{"insert reusing a seq", `INSERT INTO events (seq, id, event_type, ts, tenant_id, entity_uri, outcome, leaf_hash)
			VALUES (2, 'x', 'fact_write', '2026-05-03T12:00:00.000000Z', 'acme', 'urn:x', 'success', x'` + leaf + `')`, "max(seq)+1"},
		{"insert without a seq", `INSERT INTO events (id, event_type, ts, tenant_id, entity_uri, outcome, leaf_hash)
			VALUES ('x', 'fact_write', '2026-05-03T12:00:00.000000Z', 'acme', 'urn:x', 'success', x'` + leaf + `')`, "max(seq)+1"},
		{"replace an event", `INSERT OR REPLACE INTO events (seq, id, event_type, ts, tenant_id, entity_uri, outcome, leaf_hash)
			VALUES (3, 'x', 'fact_write', '2026-05-03T12:00:00.000000Z', 'acme', 'urn:x', 'success', x'` + leaf + `')`, "max(seq)+1"},
		{"replace an event by id", `INSERT OR REPLACE INTO events (seq, id, event_type, ts, tenant_id, entity_uri, outcome, leaf_hash)
			SELECT 8, id, 'fact_write', ts, tenant_id, entity_uri, 'success', x'` + leaf + `' FROM events WHERE seq = 3`, "append-only"},
		{"insert without an actor", `INSERT INTO events (seq, id, event_type, ts, tenant_id, entity_uri, outcome, leaf_hash)
			VALUES (8, 'x', 'fact_write', '2026-05-03T12:00:00.000000Z', 'acme', '', 'success', x'` + leaf + `')`, "needs an entity_uri"},
		{"insert already purged", `INSERT INTO events (seq, id, event_type, ts, tenant_id, entity_uri, outcome, leaf_hash, purged_at)
			VALUES (8, 'x', 'fact_write', '2026-05-03T12:00:00.000000Z', 'acme', 'urn:x', 'success', x'` + leaf + `', '2026-05-04T00:00:00.000000Z')`, "cannot be purged"},
		{"tree node ahead of the leaves", `INSERT INTO tree_nodes (level, idx, hash) VALUES (1, 4, x'` + leaf + `')`, "not stored"},
		{"delete counts", `DELETE FROM stats_minutes`, "may only grow"},
		{"lower a count", `UPDATE stats_minutes SET n = n - 1`, "may only grow"},
		{"replace a tree node", `INSERT OR REPLACE INTO tree_nodes (level, idx, hash) VALUES (1, 0, x'` + leaf + `')`, "append-only"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := db.Exec(tc.sql)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Exec: %v, want an error containing %q", err, tc.want)
			}
		})
	}
	if got := size(t, s); got != 8 {
		t.Fatalf("size %d after refused changes, want 8", got)
	}
	storetest.CheckTree(t, s)
}

func TestTreeNodesAndReopen(t *testing.T) {
	s, path := open(t, sqlitestore.Options{})
	n := 0
	var appended []event.Event
	// Sizes on both sides of the 64 rows of one multi-row INSERT.
	for _, k := range []int{1, 2, 3, 5, 8, 13, 100, 1, 1, 250, 64, 63, 65, 128} {
		appended = append(appended, storetest.NewEvents(n, k)...)
		mustAppend(t, s, appended[n:])
		n += k
	}
	root := storetest.CheckTree(t, s)
	// Every event is stored, whole, at its place.
	stored := storetest.Stored(t, s)
	if len(stored) != n {
		t.Fatalf("%d events stored, %d appended", len(stored), n)
	}
	for i := range stored {
		want := appended[i]
		want.Seq = int64(i)
		if !reflect.DeepEqual(stored[i], want) {
			t.Fatalf("stored event %d:\n got %+v\nwant %+v", i, stored[i], want)
		}
	}
	// Exactly the perfect subtrees above the leaves are stored.
	want := 0
	for level := 1; 1<<level <= n; level++ {
		want += n >> level
	}
	var got int
	if err := s.DB().QueryRow(`SELECT count(*) FROM tree_nodes`).Scan(&got); err != nil {
		t.Fatal(err)
	}
	if got != want {
		t.Fatalf("tree_nodes has %d rows for %d leaves, want %d", got, n, want)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	// Reopen: the log, its tree and its seqs carry on.
	s, err := sqlitestore.Open(path, sqlitestore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if got := size(t, s); got != int64(n) {
		t.Fatalf("size after reopen %d, want %d", got, n)
	}
	if again := storetest.CheckTree(t, s); string(again) != string(root) {
		t.Fatal("root changed across close and reopen")
	}
	out := mustAppend(t, s, storetest.NewEvents(n, 3))
	if out[0].Seq != int64(n) {
		t.Fatalf("first seq after reopen %d, want %d", out[0].Seq, n)
	}
	storetest.CheckTree(t, s)
}

func TestFileAndOptions(t *testing.T) {
	_, path := open(t, sqlitestore.Options{})
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("database file mode %v, want 0600", fi.Mode().Perm())
	}
	di, err := os.Stat(filepath.Dir(path))
	if err != nil {
		t.Fatal(err)
	}
	if di.Mode().Perm() != 0o700 {
		t.Errorf("data directory mode %v, want 0700", di.Mode().Perm())
	}
	_, err = sqlitestore.Open(filepath.Join(t.TempDir(), "x.db"), sqlitestore.Options{Synchronous: "sometimes"})
	if !errors.Is(err, auditerr.ErrInvalidConfig) {
		t.Errorf("Open with synchronous=sometimes: %v, want invalid_config", err)
	}
}

func TestPragmas(t *testing.T) {
	for _, sync := range []struct {
		opt  string
		want int
	}{{"", 2}, {"NORMAL", 1}, {"extra", 3}} {
		s, _ := open(t, sqlitestore.Options{Synchronous: sync.opt})
		conn, err := s.DB().Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var mode string
		var level, busy, temp int
		conn.QueryRowContext(ctx, `PRAGMA journal_mode`).Scan(&mode)
		conn.QueryRowContext(ctx, `PRAGMA synchronous`).Scan(&level)
		conn.QueryRowContext(ctx, `PRAGMA busy_timeout`).Scan(&busy)
		conn.QueryRowContext(ctx, `PRAGMA temp_store`).Scan(&temp)
		conn.Close()
		if mode != "wal" || level != sync.want || busy != 5000 || temp != 2 {
			t.Errorf("Synchronous %q: journal_mode %s, synchronous %d, busy_timeout %d, temp_store %d; want wal, %d, 5000, 2 (memory)", sync.opt, mode, level, busy, temp, sync.want)
		}
	}
}

func TestSchemaTooNew(t *testing.T) {
	s, path := open(t, sqlitestore.Options{})
	s.Close()
	if _, err := rawDB(t, path).Exec(`INSERT INTO schema_migrations VALUES (9999, 'future', '2030-01-01T00:00:00.000000Z')`); err != nil {
		t.Fatal(err)
	}
	_, err := sqlitestore.Open(path, sqlitestore.Options{})
	if !errors.Is(err, auditerr.ErrSchemaTooNew) {
		t.Fatalf("Open of a database from the future: %v, want schema_too_new", err)
	}
}

func TestAppendTx(t *testing.T) {
	s, _ := open(t, sqlitestore.Options{})
	mustAppend(t, s, storetest.NewEvents(0, 3))

	// Commit: the caller's row and the events land together.
	tx, err := s.DB().BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(`INSERT INTO api_keys (key_id, tenant_id, entity_uri, perms, hash, created_at)
		VALUES ('k1', 'acme', 'urn:x', 'read', '$argon2id$stub', '2026-05-03T12:00:00Z')`); err != nil {
		t.Fatal(err)
	}
	out, err := s.AppendTx(ctx, tx, storetest.NewEvents(3, 2))
	if err != nil {
		t.Fatalf("AppendTx: %v", err)
	}
	if out[0].Seq != 3 || out[1].Seq != 4 {
		t.Fatalf("AppendTx seqs %d, %d; want 3, 4", out[0].Seq, out[1].Seq)
	}
	if got := size(t, s); got != 3 {
		t.Fatalf("size %d before the caller's commit, want 3", got)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	if got := size(t, s); got != 5 {
		t.Fatalf("size %d after the caller's commit, want 5", got)
	}
	// The writer notices and carries on after them.
	if out := mustAppend(t, s, storetest.NewEvents(5, 1)); out[0].Seq != 5 {
		t.Fatalf("Append after AppendTx got seq %d, want 5", out[0].Seq)
	}
	storetest.CheckTree(t, s)

	// Rollback: the events vanish with the caller's work.
	tx, err = s.DB().BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.AppendTx(ctx, tx, storetest.NewEvents(6, 4)); err != nil {
		t.Fatalf("AppendTx: %v", err)
	}
	if err := tx.Rollback(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get(ctx, storetest.NewEvent(6).Tenant, storetest.NewEvent(6).ID); !errors.Is(err, auditerr.ErrNotFound) {
		t.Fatalf("rolled-back event: Get = %v, want not_found", err)
	}
	if out := mustAppend(t, s, storetest.NewEvents(10, 1)); out[0].Seq != 6 {
		t.Fatalf("Append after a rolled-back AppendTx got seq %d, want 6", out[0].Seq)
	}

	// Idempotency and conflicts as for Append; a conflict writes nothing.
	tx, err = s.DB().BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	out, err = s.AppendTx(ctx, tx, storetest.NewEvents(4, 1))
	if err != nil || out[0].Seq != 4 {
		t.Fatalf("AppendTx re-send: %v, %v; want the stored seq 4", out, err)
	}
	changed := storetest.NewEvent(4)
	changed.Outcome = event.OutcomeDenied
	if _, err := s.AppendTx(ctx, tx, []event.Event{storetest.NewEvent(11), changed}); !errors.Is(err, auditerr.ErrIDConflict) {
		t.Fatalf("AppendTx conflict: %v, want id_conflict", err)
	}
	var n int
	if err := tx.QueryRow(`SELECT count(*) FROM events`).Scan(&n); err != nil || n != 7 {
		t.Fatalf("inside the transaction after a refused AppendTx: %d events (%v), want 7", n, err)
	}
	tx.Rollback()
	storetest.CheckTree(t, s)

	// The counts of stats_minutes commit and roll back with the events.
	var counted int
	if err := s.DB().QueryRow(`SELECT SUM(n) FROM stats_minutes`).Scan(&counted); err != nil || counted != 7 {
		t.Fatalf("stats_minutes counts %d events (%v), want the 7 committed", counted, err)
	}
}

// TestAppendTxConcurrent mixes callers' transactions with group commits.
func TestAppendTxConcurrent(t *testing.T) {
	s, _ := open(t, sqlitestore.Options{})
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for g := 0; g < 12; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 20; i++ {
				evs := storetest.NewEvents(int(next.Add(2)-2), 2)
				var err error
				if g < 3 { // these use their own transactions
					var tx *sql.Tx
					if tx, err = s.DB().BeginTx(ctx, nil); err == nil {
						if _, err = s.AppendTx(ctx, tx, evs); err == nil {
							err = tx.Commit()
						} else {
							tx.Rollback()
						}
					}
				} else {
					_, err = s.Append(ctx, evs)
				}
				if err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if got := size(t, s); got != 12*20*2 {
		t.Fatalf("size %d, want %d", got, 12*20*2)
	}
	storetest.CheckTree(t, s)
}

// TestGroupCommit checks that concurrent Appends share transactions, and
// that within one group a refused request fails alone.
func TestGroupCommit(t *testing.T) {
	var mu sync.Mutex
	var commits, maxReqs, events int
	s, _ := open(t, sqlitestore.Options{OnCommit: func(ev, reqs int, d time.Duration) {
		mu.Lock()
		defer mu.Unlock()
		commits++
		events += ev
		maxReqs = max(maxReqs, reqs)
	}})
	const appenders, each = 64, 10
	var wg sync.WaitGroup
	for g := 0; g < appenders; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; i++ {
				if _, err := s.Append(ctx, storetest.NewEvents(g*each+i, 1)); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	mu.Lock()
	defer mu.Unlock()
	t.Logf("%d events in %d commits, up to %d requests per commit", events, commits, maxReqs)
	if events != appenders*each {
		t.Fatalf("OnCommit counted %d events, want %d", events, appenders*each)
	}
	if maxReqs < 2 || commits >= appenders*each {
		t.Fatalf("no coalescing: %d commits for %d appends, at most %d requests each", commits, appenders*each, maxReqs)
	}
}

// TestRefusedRequestFailsAlone puts refused requests (an id conflict with
// a stored event, an unstorable event, a conflict between two requests of
// the group) in one group commit with good ones: only they fail, and the
// good ones are stored.
func TestRefusedRequestFailsAlone(t *testing.T) {
	// The requests must share one group: MaxWait gathers them, and a run
	// in which a loaded machine started them too far apart is repeated.
	for attempt := 1; ; attempt++ {
		if refusedFailAlone(t) {
			return
		}
		if attempt == 3 {
			t.Fatal("in 3 attempts the requests never shared one group commit")
		}
	}
}

// refusedFailAlone runs one attempt of TestRefusedRequestFailsAlone and
// reports whether all its requests were answered by one group commit.
func refusedFailAlone(t *testing.T) bool {
	var mu sync.Mutex
	var groups []int
	s, _ := open(t, sqlitestore.Options{
		MaxWait: 200 * time.Millisecond, // long enough to gather the requests below into one group
		OnCommit: func(ev, reqs int, d time.Duration) {
			mu.Lock()
			groups = append(groups, reqs)
			mu.Unlock()
		},
	})
	mustAppend(t, s, storetest.NewEvents(0, 1))
	mu.Lock()
	groups = nil
	mu.Unlock()

	conflict := storetest.NewEvent(0)
	conflict.Outcome = event.OutcomeDenied
	twinA, twinB := storetest.NewEvent(50), storetest.NewEvent(50)
	twinB.Outcome = event.OutcomeDenied
	calls := [][]event.Event{
		storetest.NewEvents(10, 3),                                             // fine
		{storetest.NewEvent(20), conflict},                                     // conflicts with a stored event
		storetest.NewEvents(30, 2),                                             // fine
		{storetest.NewEvent(40), {ID: "01900000-0000-7000-8000-0000000000ff"}}, // not storable
		{twinA}, // the same id as the next, other content:
		{twinB}, // whichever is second conflicts with the first
	}
	errs := make([]error, len(calls))
	var wg sync.WaitGroup
	for i, c := range calls {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = s.Append(ctx, c)
		}()
	}
	wg.Wait()
	mu.Lock()
	shared := len(groups) == 1 && groups[0] == len(calls)
	mu.Unlock()
	if !shared {
		t.Logf("group commits answered %v requests; want all %d in one: trying again", groups, len(calls))
		return false
	}
	if errs[0] != nil || errs[2] != nil {
		t.Fatalf("good requests failed: %v, %v", errs[0], errs[2])
	}
	if !errors.Is(errs[1], auditerr.ErrIDConflict) {
		t.Fatalf("conflicting request: %v, want id_conflict", errs[1])
	}
	if !errors.Is(errs[3], auditerr.ErrMissingField) {
		t.Fatalf("unstorable request: %v, want missing_field", errs[3])
	}
	if (errs[4] == nil) == (errs[5] == nil) || !errors.Is(errors.Join(errs[4], errs[5]), auditerr.ErrIDConflict) {
		t.Fatalf("twins: %v and %v, want exactly one id_conflict", errs[4], errs[5])
	}
	if got := size(t, s); got != 1+3+2+1 {
		t.Fatalf("size %d, want 7", got)
	}
	for _, n := range []int{20, 40} {
		if _, err := s.Get(ctx, storetest.NewEvent(n).Tenant, storetest.NewEvent(n).ID); !errors.Is(err, auditerr.ErrNotFound) {
			t.Fatalf("event %d of a refused request was stored: %v", n, err)
		}
	}
	storetest.CheckTree(t, s)
	return true
}

// TestFailedCommit makes the database refuse a group mid-transaction: every
// request of the group fails with store_unavailable, nothing is stored, and
// the store carries on afterwards with contiguous seqs and a correct tree.
func TestFailedCommit(t *testing.T) {
	// The three requests must share one group: MaxWait gathers them, and
	// a run in which a loaded machine started them too far apart (some
	// committed on their own) is repeated.
	for attempt := 1; ; attempt++ {
		if failedCommit(t) {
			return
		}
		if attempt == 3 {
			t.Fatal("in 3 attempts the requests never shared one group commit")
		}
	}
}

// failedCommit runs one attempt of TestFailedCommit and reports whether the
// three requests shared the failing group.
func failedCommit(t *testing.T) bool {
	s, path := open(t, sqlitestore.Options{MaxWait: 200 * time.Millisecond})
	mustAppend(t, s, storetest.NewEvents(0, 5))
	raw := rawDB(t, path)
	if _, err := raw.Exec(`CREATE TRIGGER test_boom BEFORE INSERT ON events WHEN NEW.event_type = 'boom'
		BEGIN SELECT RAISE(ABORT, 'injected failure'); END`); err != nil {
		t.Fatal(err)
	}
	boom := storetest.NewEvent(100)
	boom.Type = "boom"
	calls := [][]event.Event{storetest.NewEvents(10, 3), {boom}, storetest.NewEvents(20, 2)}
	errs := make([]error, len(calls))
	var wg sync.WaitGroup
	for i, c := range calls {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = s.Append(ctx, c)
		}()
	}
	wg.Wait()
	if !errors.Is(errs[1], auditerr.ErrStoreUnavailable) {
		t.Fatalf("the failing request: %v, want store_unavailable", errs[1])
	}
	if errs[0] == nil || errs[2] == nil {
		t.Logf("requests committed apart from the failing one (errors %v): trying again", errs)
		return false
	}
	for i, err := range errs {
		if !errors.Is(err, auditerr.ErrStoreUnavailable) {
			t.Fatalf("request %d of the failed group: %v, want store_unavailable", i, err)
		}
	}
	if got := size(t, s); got != 5 {
		t.Fatalf("size %d after the failed group, want 5: nothing of it is stored", got)
	}
	if _, err := raw.Exec(`DROP TRIGGER test_boom`); err != nil {
		t.Fatal(err)
	}
	out := mustAppend(t, s, storetest.NewEvents(30, 2))
	if out[0].Seq != 5 {
		t.Fatalf("after a failed commit the next seq is %d, want 5", out[0].Seq)
	}
	if out := mustAppend(t, s, []event.Event{boom}); out[0].Seq != 7 {
		t.Fatalf("re-sent event after the failure got seq %d, want 7", out[0].Seq)
	}
	storetest.CheckTree(t, s)
	return true
}

// TestBusyDatabase holds the write lock from outside: Appends fail with
// store_unavailable after BusyTimeout, and succeed once it is released.
func TestBusyDatabase(t *testing.T) {
	s, path := open(t, sqlitestore.Options{BusyTimeout: 100 * time.Millisecond})
	mustAppend(t, s, storetest.NewEvents(0, 2))
	raw := rawDB(t, path)
	conn, err := raw.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, `BEGIN IMMEDIATE`); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Append(ctx, storetest.NewEvents(2, 1)); !errors.Is(err, auditerr.ErrStoreUnavailable) {
		t.Fatalf("Append while another process holds the lock: %v, want store_unavailable", err)
	}
	if _, err := conn.ExecContext(ctx, `ROLLBACK`); err != nil {
		t.Fatal(err)
	}
	if out := mustAppend(t, s, storetest.NewEvents(2, 1)); out[0].Seq != 2 {
		t.Fatalf("seq %d after the lock was released, want 2", out[0].Seq)
	}
}

// TestCloseDrains closes the store while Appends are in flight: each one
// either succeeds, and is then stored, or fails with ErrClosed.
func TestCloseDrains(t *testing.T) {
	s, path := open(t, sqlitestore.Options{})
	var wg sync.WaitGroup
	var acked sync.Map
	var nAcked atomic.Int64
	var started sync.WaitGroup
	started.Add(16)
	for g := 0; g < 16; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			started.Done()
			for i := 0; ; i++ {
				e := storetest.NewEvent(g*1000 + i)
				_, err := s.Append(ctx, []event.Event{e})
				if errors.Is(err, auditerr.ErrClosed) {
					return
				}
				if err != nil {
					t.Errorf("Append during Close: %v", err)
					return
				}
				acked.Store(e.ID, e.Tenant)
				nAcked.Add(1)
			}
		}()
	}
	started.Wait()
	// Close while the appenders are going on, once they are under way.
	waitfor.Until(t, 10*time.Second, "16 appends acknowledged before Close", func() bool { return nAcked.Load() >= 16 })
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	s, err := sqlitestore.Open(path, sqlitestore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	count := 0
	acked.Range(func(k, tenant any) bool {
		count++
		if _, err := s.Get(ctx, tenant.(string), k.(string)); err != nil {
			t.Errorf("acknowledged %s: %v", k, err)
		}
		return true
	})
	if count == 0 {
		t.Fatal("nothing was acknowledged before Close")
	}
	if err := s.Ping(ctx); err != nil {
		t.Fatal(err)
	}
}

// TestTimeBoundsAcrossBlocks checks that the block-range index never hides
// an event whose ts is far from its neighbours' (a skewed emitter clock).
func TestTimeBoundsAcrossBlocks(t *testing.T) {
	s, path := open(t, sqlitestore.Options{})
	const n = 3000 // three blocks of 1024
	evs := storetest.NewEvents(0, n)
	evs[2500].TS = "2025-01-01T00:00:00.000000Z" // a year early, in the last block
	evs[10].TS = "2027-01-01T00:00:00.000000Z"   // a year late, in the first block
	for i := 0; i < n; i += 500 {
		mustAppend(t, s, evs[i:i+500])
	}
	tests := []struct {
		name string
		q    hostfns.Query
		want []int64 // seqs, in order
	}{
		{"until before everything else", hostfns.Query{Until: "2026-01-01T00:00:00.000000Z"}, []int64{2500}},
		{"since after everything else", hostfns.Query{Since: "2026-12-01T00:00:00.000000Z"}, []int64{10}},
		{"window around the early one", hostfns.Query{Since: "2024-12-31T00:00:00.000000Z", Until: "2025-01-02T00:00:00.000000Z", Order: hostfns.Descending}, []int64{2500}},
		{"empty window", hostfns.Query{Since: "2020-01-01T00:00:00.000000Z", Until: "2020-01-02T00:00:00.000000Z"}, nil},
		{"window of the first events", hostfns.Query{Since: evs[0].TS, Until: evs[4].TS}, []int64{0, 1, 2, 3}},
	}
	for _, tc := range tests {
		tc.q.Limit, tc.q.After = 100, -1
		p, err := s.Query(ctx, tc.q)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		var got []int64
		for _, e := range p.Events {
			got = append(got, e.Seq)
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("%s: seqs %v, want %v", tc.name, got, tc.want)
		}
	}
	// The index may widen, never narrow.
	raw := rawDB(t, path)
	for _, stmt := range []string{
		`UPDATE ts_blocks SET min_ts = '2026-06-01T00:00:00.000000Z' WHERE block = 2`,
		`UPDATE ts_blocks SET max_ts = '2020-01-01T00:00:00.000000Z' WHERE block = 0`,
		`DELETE FROM ts_blocks`,
	} {
		if _, err := raw.Exec(stmt); err == nil || !strings.Contains(err.Error(), "only widen") {
			t.Errorf("%s: %v, want refused", stmt, err)
		}
	}
}
