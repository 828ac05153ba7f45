package pgstore_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/transparency-dev/merkle/compact"

	"github.com/stigaudit/stigaudit/core/auditerr"
	"github.com/stigaudit/stigaudit/core/event"
	"github.com/stigaudit/stigaudit/hostfns"
	"github.com/stigaudit/stigaudit/hostfns/pgstore"
	"github.com/stigaudit/stigaudit/hostfns/pgstore/pgtest"
	"github.com/stigaudit/stigaudit/hostfns/storetest"
)

var ctx = context.Background()

func open(t testing.TB, dsn string, opts pgstore.Options) *pgstore.Store {
	t.Helper()
	s, err := pgstore.Open(ctx, dsn, opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestConformance(t *testing.T) {
	pgtest.DSN(t) // skip early, with the message, when there is no server
	storetest.Run(t, func(t *testing.T) hostfns.Store {
		return open(t, pgtest.DSN(t), pgstore.Options{})
	})
}

func TestConformanceNoGroupCommit(t *testing.T) {
	pgtest.DSN(t)
	storetest.Run(t, func(t *testing.T) hostfns.Store {
		return open(t, pgtest.DSN(t), pgstore.Options{MaxBatchEvents: 1})
	})
}

// TestConformanceSlowPath runs the suite with every group decided in Go
// under the head lock, the path that groups holding re-sent ids take.
func TestConformanceSlowPath(t *testing.T) {
	pgtest.DSN(t)
	storetest.Run(t, func(t *testing.T) hostfns.Store {
		return open(t, pgtest.DSN(t), pgstore.WithSlowPath(pgstore.Options{}))
	})
}

// TestReplicasShareOneLog appends through three stores on one schema, as
// three server replicas would: one log, seqs contiguous in commit order,
// each acknowledged seq holding the acknowledged event, idempotency across
// replicas, and a tree that proves it all.
func TestReplicasShareOneLog(t *testing.T) {
	dsn := pgtest.DSN(t)
	// One replica decides in Go, the others append through
	// stigaudit_append: both compute the tree, and must agree.
	replicas := []*pgstore.Store{
		open(t, dsn, pgstore.Options{MaxConns: 4}),
		open(t, dsn, pgstore.WithSlowPath(pgstore.Options{MaxConns: 4})),
		open(t, dsn, pgstore.Options{MaxConns: 4}),
	}
	const goroutines, calls = 24, 20
	var mu sync.Mutex
	acked := map[int64]string{}
	var wg sync.WaitGroup
	errs := make(chan error, goroutines)
	for g := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for c := range calls {
				s := replicas[(g+c)%len(replicas)]
				in := storetest.NewEvents((g*calls+c)*2, 1+c%2)
				out, err := s.Append(ctx, in)
				if err != nil {
					errs <- err
					return
				}
				mu.Lock()
				for i := range out {
					if prev, dup := acked[out[i].Seq]; dup {
						mu.Unlock()
						errs <- fmt.Errorf("seq %d acknowledged for %s and %s", out[i].Seq, prev, out[i].ID)
						return
					}
					acked[out[i].Seq] = out[i].ID
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	for _, s := range replicas {
		if n, err := s.Size(ctx); err != nil || n != int64(len(acked)) {
			t.Fatalf("Size = %d, %v; want %d", n, err, len(acked))
		}
	}
	for seq := range int64(len(acked)) {
		id, ok := acked[seq]
		if !ok {
			t.Fatalf("seq %d was never acknowledged: not contiguous", seq)
		}
		e, err := replicas[int(seq)%3].Get(ctx, tenantOf(id), id)
		if err != nil || e.Seq != seq {
			t.Fatalf("Get(%s) = seq %d, %v; acknowledged at %d", id, e.Seq, err, seq)
		}
	}
	// A re-send through another replica returns the stored event.
	first, err := replicas[0].Get(ctx, tenantOf(acked[0]), acked[0])
	if err != nil {
		t.Fatal(err)
	}
	resend := first
	resend.TS = "2027-01-01T00:00:00.000000Z"
	got, err := replicas[2].Append(ctx, []event.Event{resend})
	if err != nil || got[0].Seq != 0 || got[0].TS != first.TS {
		t.Fatalf("re-send through another replica = %+v, %v", got, err)
	}
	root := storetest.CheckTree(t, replicas[1])
	if other := storetest.CheckTree(t, replicas[2]); string(other) != string(root) {
		t.Fatalf("replicas serve different roots")
	}
}

// TestDatabaseRefusesChanges checks the database itself, not the store:
// whoever connects cannot edit, delete, truncate, leave a gap or store a
// node before its leaves.
func TestDatabaseRefusesChanges(t *testing.T) {
	dsn := pgtest.DSN(t)
	s := open(t, dsn, pgstore.Options{})
	if _, err := s.Append(ctx, storetest.NewEvents(0, 5)); err != nil {
		t.Fatal(err)
	}
	leaf := `'\x` + strings.Repeat("00", 32) + `'::bytea`
	insert := func(seq int) string {
		return fmt.Sprintf(`INSERT INTO events (seq, id, event_type, ts, tenant_id, entity_uri, outcome, leaf_hash)
			VALUES (%d, 'rogue-%d', 'fact_write', '2026-05-03T12:00:00.000000Z', 'acme', 'urn:x', 'success', %s)`, seq, seq, leaf)
	}
	for _, tc := range []struct {
		name string
		sql  []string
		want string
	}{
		{"update an event", []string{`UPDATE events SET outcome = 'denied' WHERE seq = 1`}, "append-only"},
		{"update no row", []string{`UPDATE events SET outcome = 'denied' WHERE seq = 99`}, "append-only"},
		{"delete an event", []string{`DELETE FROM events WHERE seq = 4`}, "append-only"},
		{"truncate events", []string{`TRUNCATE events`}, "append-only"},
		{"truncate everything", []string{`TRUNCATE events, tree_nodes, log_head`}, "append-only"},
		{"upsert an event", []string{insert(0)[:len(insert(0))] + ` ON CONFLICT (seq) DO UPDATE SET outcome = 'denied'`}, "append-only"},
		{"update a node", []string{`UPDATE tree_nodes SET hash = ` + leaf}, "append-only"},
		{"delete a node", []string{`DELETE FROM tree_nodes`}, "append-only"},
		{"delete the head", []string{`DELETE FROM log_head`}, "append-only"},
		{"move the head back", []string{`UPDATE log_head SET size = 2, compact_range = ` + leaf}, "cannot move back"},
		{"a second head", []string{`INSERT INTO log_head (id, size, compact_range) VALUES (FALSE, 0, '')`}, "log_head_id_check"},
		{"insert without the head", []string{insert(5)}, "log_head.size"},
		{"insert with a gap", []string{`UPDATE log_head SET size = 8, compact_range = ` + leaf, insert(7)}, "does not continue"},
		{"advance the head alone", []string{`UPDATE log_head SET size = 6, compact_range = ` + leaf + ` || ` + leaf}, "events end at 5"},
		{"a node before its leaves", []string{`INSERT INTO tree_nodes (level, idx, hash) VALUES (3, 0, ` + leaf + `)`}, "not stored"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := pgx.BeginFunc(ctx, mustConn(t, dsn), func(tx pgx.Tx) error {
				for _, q := range tc.sql {
					if _, err := tx.Exec(ctx, q); err != nil {
						return err
					}
				}
				return nil
			})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("%v: got %v, want an error mentioning %q", tc.sql, err, tc.want)
			}
		})
	}
	if n, err := s.Size(ctx); err != nil || n != 5 {
		t.Fatalf("Size = %d, %v after refused changes", n, err)
	}
	storetest.CheckTree(t, s)
	// The store carries on.
	if got, err := s.Append(ctx, storetest.NewEvents(5, 2)); err != nil || got[0].Seq != 5 {
		t.Fatalf("Append after refused changes = %v, %v", got, err)
	}
}

func mustConn(t *testing.T, dsn string) *pgx.Conn {
	t.Helper()
	c, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(ctx) })
	return c
}

// TestFailedCommitStoresNothing makes the database refuse inserts for a
// while: the Appends of that time fail with store_unavailable and leave
// nothing, and the log then goes on without a gap.
func TestFailedCommitStoresNothing(t *testing.T) {
	dsn := pgtest.DSN(t)
	s := open(t, dsn, pgstore.Options{})
	if _, err := s.Append(ctx, storetest.NewEvents(0, 3)); err != nil {
		t.Fatal(err)
	}
	c := mustConn(t, dsn)
	if _, err := c.Exec(ctx, `CREATE FUNCTION test_fail() RETURNS trigger LANGUAGE plpgsql AS $$
		BEGIN RAISE EXCEPTION 'injected failure'; END $$;
		CREATE TRIGGER test_fail BEFORE INSERT ON tree_nodes FOR EACH STATEMENT EXECUTE FUNCTION test_fail()`); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := s.Append(ctx, storetest.NewEvents(10+2*i, 2))
			if !errors.Is(err, auditerr.ErrStoreUnavailable) {
				t.Errorf("Append while inserts fail = %v, want store_unavailable", err)
			}
		}()
	}
	wg.Wait()
	if n, err := s.Size(ctx); err != nil || n != 3 {
		t.Fatalf("Size = %d, %v after failed commits; want 3", n, err)
	}
	if _, err := s.Get(ctx, storetest.NewEvent(10).Tenant, storetest.NewEvent(10).ID); !errors.Is(err, auditerr.ErrNotFound) {
		t.Fatalf("event of a failed commit: Get = %v", err)
	}
	if _, err := c.Exec(ctx, `DROP TRIGGER test_fail ON tree_nodes`); err != nil {
		t.Fatal(err)
	}
	got, err := s.Append(ctx, storetest.NewEvents(10, 2))
	if err != nil || got[0].Seq != 3 || got[1].Seq != 4 {
		t.Fatalf("Append after recovery = %v, %v; want seqs 3, 4", got, err)
	}
	storetest.CheckTree(t, s)
}

func TestAppendTx(t *testing.T) {
	dsn := pgtest.DSN(t)
	s := open(t, dsn, pgstore.Options{})
	if _, err := s.Append(ctx, storetest.NewEvents(0, 2)); err != nil {
		t.Fatal(err)
	}
	// Rolled back: nothing stays, and the seqs are given back.
	tx, err := s.DB().BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	got, err := s.AppendTx(ctx, tx, storetest.NewEvents(100, 3))
	if err != nil || got[0].Seq != 2 {
		t.Fatalf("AppendTx = %v, %v", got, err)
	}
	if err := tx.Rollback(); err != nil {
		t.Fatal(err)
	}
	// Committed with the caller's work, after an id conflict that left
	// the transaction usable.
	tx, err = s.DB().BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	conflict := storetest.NewEvent(1)
	conflict.Outcome = event.OutcomeDenied
	if _, err := s.AppendTx(ctx, tx, []event.Event{storetest.NewEvent(200), conflict}); !errors.Is(err, auditerr.ErrIDConflict) {
		t.Fatalf("AppendTx with a conflict = %v", err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO api_keys (key_id, tenant_id, entity_uri, perms, hash, created_at) VALUES ('k1', 'acme', 'urn:x', 'read', 'h', 'now')`); err != nil {
		t.Fatal(err)
	}
	got, err = s.AppendTx(ctx, tx, append(storetest.NewEvents(200, 2), storetest.NewEvent(0)))
	if err != nil || got[0].Seq != 2 || got[1].Seq != 3 || got[2].Seq != 0 {
		t.Fatalf("AppendTx = %v, %v", got, err)
	}
	// A second call in the same transaction continues after the first.
	got, err = s.AppendTx(ctx, tx, storetest.NewEvents(202, 1))
	if err != nil || got[0].Seq != 4 {
		t.Fatalf("second AppendTx = %v, %v", got, err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	// The writer carries on after rows it did not write.
	got, err = s.Append(ctx, storetest.NewEvents(300, 1))
	if err != nil || got[0].Seq != 5 {
		t.Fatalf("Append after AppendTx = %v, %v", got, err)
	}
	storetest.CheckTree(t, s)
}

func TestReopen(t *testing.T) {
	dsn := pgtest.DSN(t)
	s, err := pgstore.Open(ctx, dsn, pgstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Append(ctx, storetest.NewEvents(0, 7)); err != nil {
		t.Fatal(err)
	}
	root := storetest.CheckTree(t, s)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = open(t, dsn, pgstore.Options{})
	if got, err := s.Append(ctx, storetest.NewEvents(7, 1)); err != nil || got[0].Seq != 7 {
		t.Fatalf("Append after reopening = %v, %v", got, err)
	}
	if string(root) == string(storetest.CheckTree(t, s)) {
		t.Fatal("root did not change")
	}
}

// TestOpenChecksTheHead corrupts log_head's compact range (the one change
// the triggers cannot tell from a legitimate one): Open refuses the log.
func TestOpenChecksTheHead(t *testing.T) {
	dsn := pgtest.DSN(t)
	s := open(t, dsn, pgstore.Options{})
	if _, err := s.Append(ctx, storetest.NewEvents(0, 3)); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if _, err := mustConn(t, dsn).Exec(ctx, `UPDATE log_head SET compact_range = set_byte(compact_range, 0, get_byte(compact_range, 0) # 1)`); err != nil {
		t.Fatal(err)
	}
	if _, err := pgstore.Open(ctx, dsn, pgstore.Options{}); !errors.Is(err, auditerr.ErrVerifyFailed) {
		t.Fatalf("Open with a corrupt head = %v, want verification_failed", err)
	}
}

func TestSchemaTooNew(t *testing.T) {
	dsn := pgtest.DSN(t)
	open(t, dsn, pgstore.Options{}).Close()
	if _, err := mustConn(t, dsn).Exec(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES (999, 'future', 'x')`); err != nil {
		t.Fatal(err)
	}
	if _, err := pgstore.Open(ctx, dsn, pgstore.Options{}); !errors.Is(err, auditerr.ErrSchemaTooNew) {
		t.Fatalf("Open = %v, want schema_too_new", err)
	}
}

func TestOptionsSchema(t *testing.T) {
	dsn := pgtest.DSN(t)
	// A schema named in Options is created and used instead of the DSN's.
	c := mustConn(t, dsn)
	var base string
	if err := c.QueryRow(ctx, `SELECT current_schema()`).Scan(&base); err != nil {
		t.Fatal(err)
	}
	schema := base + "_opt"
	t.Cleanup(func() { c.Exec(ctx, `DROP SCHEMA IF EXISTS `+schema+` CASCADE`) })
	s := open(t, dsn, pgstore.Options{Schema: schema})
	if _, err := s.Append(ctx, storetest.NewEvents(0, 1)); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := c.QueryRow(ctx, `SELECT count(*) FROM `+schema+`.events`).Scan(&n); err != nil || n != 1 {
		t.Fatalf("events in %s: %d, %v", schema, n, err)
	}
}

func TestBadDSN(t *testing.T) {
	_, err := pgstore.Open(ctx, "postgres://user:secret@[::1", pgstore.Options{})
	if !errors.Is(err, auditerr.ErrInvalidConfig) || strings.Contains(err.Error(), "secret") {
		t.Fatalf("Open(bad URL) = %v, want invalid_config without the password", err)
	}
}

// TestReadersSeeOnlyTheDurablePrefix leaves three events committed but not
// marked durable (as after an append whose flush had not been confirmed
// when its writer died): no read shows them until a later mark covers them.
func TestReadersSeeOnlyTheDurablePrefix(t *testing.T) {
	dsn := pgtest.DSN(t)
	s := open(t, dsn, pgstore.Options{})
	if _, err := s.Append(ctx, storetest.NewEvents(0, 2)); err != nil {
		t.Fatal(err)
	}
	tx, err := s.DB().BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.AppendTx(ctx, tx, storetest.NewEvents(2, 3)); err != nil {
		t.Fatal(err)
	}
	if _, err := tx.ExecContext(ctx, `UPDATE log_durable SET size = 2 WHERE writer = 'tx'`); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	if n, err := s.Size(ctx); err != nil || n != 2 {
		t.Fatalf("Size = %d, %v; want the durable 2", n, err)
	}
	if p, err := s.Query(ctx, hostfns.Query{After: -1, Limit: 10}); err != nil || len(p.Events) != 2 || p.HasMore {
		t.Fatalf("Query = %d events (more: %v), %v; want 2", len(p.Events), p.HasMore, err)
	}
	if _, err := s.Get(ctx, storetest.NewEvent(3).Tenant, storetest.NewEvent(3).ID); !errors.Is(err, auditerr.ErrNotFound) {
		t.Fatalf("Get of an unmarked event = %v, want not_found", err)
	}
	if _, err := s.LeafHashes(ctx, 0, 3); !errors.Is(err, auditerr.ErrNotFound) {
		t.Fatalf("LeafHashes beyond the durable prefix = %v, want not_found", err)
	}
	if _, err := s.ReadNodes(ctx, []compact.NodeID{compact.NewNodeID(2, 0)}); !errors.Is(err, auditerr.ErrNotFound) {
		t.Fatalf("ReadNodes beyond the durable prefix = %v, want not_found", err)
	}
	// The next append goes on after them, and its mark covers them too.
	got, err := s.Append(ctx, storetest.NewEvents(5, 1))
	if err != nil || got[0].Seq != 5 {
		t.Fatalf("Append = %v, %v; want seq 5", got, err)
	}
	if n, err := s.Size(ctx); err != nil || n != 6 {
		t.Fatalf("Size = %d, %v; want 6", n, err)
	}
	storetest.CheckTree(t, s)
}

// tenantOf returns the tenant of the storetest event with this id.
func tenantOf(id string) string {
	var n int
	if _, err := fmt.Sscanf(id, "01900000-0000-7000-8000-%012x", &n); err != nil {
		panic(err)
	}
	return storetest.NewEvent(n).Tenant
}
