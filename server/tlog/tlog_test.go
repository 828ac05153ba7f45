package tlog_test

import (
	"context"
	"crypto/rand"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stigaudit/stigaudit/core/auditerr"
	"github.com/stigaudit/stigaudit/core/checkpoint"
	"github.com/stigaudit/stigaudit/core/event"
	"github.com/stigaudit/stigaudit/core/jcs"
	"github.com/stigaudit/stigaudit/core/merkle"
	"github.com/stigaudit/stigaudit/hostfns/memstore"
	"github.com/stigaudit/stigaudit/hostfns/sqlitestore"
	"github.com/stigaudit/stigaudit/hostfns/storetest"
	"github.com/stigaudit/stigaudit/internal/waitfor"
	"github.com/stigaudit/stigaudit/server/tlog"
)

var (
	ctx   = context.Background()
	quiet = slog.New(slog.NewTextHandler(io.Discard, nil))
)

// testEvents returns storetest events from..from+n-1 with their real
// canonical leaf hashes, as the server stores them.
func testEvents(from, n int) []event.Event {
	evs := storetest.NewEvents(from, n)
	for i := range evs {
		if evs[i].Detail != nil {
			d, err := jcs.Canonicalize(nil, evs[i].Detail, jcs.Limits{})
			if err != nil {
				panic(err)
			}
			evs[i].Detail = d
		}
		evs[i].LeafHash = event.LeafHash(event.AppendCanonical(nil, &evs[i]))
	}
	return evs
}

// node is one data directory with a store, a key and a checkpointer.
type node struct {
	t     testing.TB
	dir   string
	store *sqlitestore.Store
	key   *tlog.Key
	cp    *tlog.Checkpointer
	next  int
}

func openNode(t testing.TB, dir string, cfg tlog.Config) *node {
	t.Helper()
	st, err := sqlitestore.Open(filepath.Join(dir, "stigaudit.db"), sqlitestore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	key, err := tlog.LoadOrCreateKey(dir, "", rand.Reader)
	if err != nil {
		st.Close()
		t.Fatal(err)
	}
	cfg.Tree, cfg.Checkpoints, cfg.Key = st, st.Checkpoints(), key
	if cfg.Logger == nil {
		cfg.Logger = quiet
	}
	cp, err := tlog.New(ctx, cfg)
	if err != nil {
		st.Close()
		t.Fatal(err)
	}
	size, _ := st.Size(ctx)
	n := &node{t: t, dir: dir, store: st, key: key, cp: cp, next: int(size)}
	t.Cleanup(func() { n.close() })
	return n
}

// raw opens the node's database file on a connection of its own, as
// another process with write access would (the tamperer of these tests);
// it is closed with the test.
func (n *node) raw() *sql.DB {
	n.t.Helper()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(n.dir, "stigaudit.db")+"?_pragma=busy_timeout(5000)")
	if err != nil {
		n.t.Fatal(err)
	}
	n.t.Cleanup(func() { db.Close() })
	return db
}

func (n *node) close() {
	if n.store != nil {
		n.cp.Stop(ctx)
		n.store.Close()
		n.store = nil
	}
}

// crash closes the store without stopping the checkpointer's signing.
func (n *node) crash() {
	if n.store != nil {
		n.store.Close()
		n.store = nil
	}
}

func (n *node) append(count int) {
	n.t.Helper()
	for count > 0 {
		k := min(count, 500)
		if _, err := n.store.Append(ctx, testEvents(n.next, k)); err != nil {
			n.t.Fatal(err)
		}
		n.next += k
		count -= k
	}
}

func (n *node) sync() tlog.Signed {
	n.t.Helper()
	s, err := n.cp.Sync(ctx)
	if err != nil {
		n.t.Fatal(err)
	}
	return s
}

// exec runs raw SQL on the database file behind the store's back, as an
// attacker with file access would.
func (n *node) exec(sqls ...string) {
	n.t.Helper()
	for _, q := range sqls {
		if _, err := n.raw().ExecContext(ctx, q); err != nil {
			n.t.Fatalf("%s: %v", q, err)
		}
	}
}

func TestKeyFile(t *testing.T) {
	dir := t.TempDir()
	k, err := tlog.LoadOrCreateKey(dir, "", rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	if k.Origin != "stigaudit/local" {
		t.Errorf("origin %q, want stigaudit/local", k.Origin)
	}
	st, err := os.Stat(filepath.Join(dir, tlog.KeyFile))
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("key file mode %#o, want 0600", st.Mode().Perm())
	}
	again, err := tlog.LoadOrCreateKey(dir, "local", rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	if again.VerifierKey != k.VerifierKey {
		t.Errorf("second start made a new key: %s, then %s", k.VerifierKey, again.VerifierKey)
	}
	// The derived verifier key opens what the signer signs.
	v, err := checkpoint.NewVerifier(k.VerifierKey)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(k.VerifierKey, "stigaudit/local+") || strings.Contains(k.VerifierKey, "PRIVATE") {
		t.Errorf("verifier key %q", k.VerifierKey)
	}
	msg, err := checkpoint.Sign(checkpoint.Checkpoint{Origin: k.Origin, Size: 3, Root: merkle.EmptyRoot()}, k.Signer)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := checkpoint.Open(msg, "", v); err != nil {
		t.Errorf("derived verifier key does not open a signed checkpoint: %v", err)
	}

	for _, tc := range []struct {
		name  string
		setup func(dir string)
		node  string
	}{
		{"another node's key", func(string) {}, "node-2"},
		{"key readable by others", func(dir string) { os.Chmod(filepath.Join(dir, tlog.KeyFile), 0o644) }, ""},
		{"garbage", func(dir string) {
			os.WriteFile(filepath.Join(dir, tlog.KeyFile), []byte("PRIVATE+KEY+x+00000000+AAAA\n"), 0o600)
		}, ""},
		{"invalid node name", func(string) {}, "a b"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := t.TempDir()
			if _, err := tlog.LoadOrCreateKey(d, "", rand.Reader); err != nil {
				t.Fatal(err)
			}
			tc.setup(d)
			if _, err := tlog.LoadOrCreateKey(d, tc.node, rand.Reader); err == nil {
				t.Fatal("accepted")
			}
		})
	}
}

func TestKeyCreatedOnceUnderRace(t *testing.T) {
	dir := t.TempDir()
	keys := make([]string, 8)
	var wg sync.WaitGroup
	for i := range keys {
		wg.Go(func() {
			k, err := tlog.LoadOrCreateKey(dir, "n1", rand.Reader)
			if err != nil {
				t.Error(err)
				return
			}
			keys[i] = k.VerifierKey
		})
	}
	wg.Wait()
	for _, k := range keys[1:] {
		if k != keys[0] {
			t.Fatalf("concurrent first starts made different keys: %v", keys)
		}
	}
	left, _ := filepath.Glob(filepath.Join(dir, "*.tmp*"))
	if len(left) > 0 {
		t.Errorf("temporary files left behind: %v", left)
	}
}

func TestCheckpointerSignsGrowthConsistently(t *testing.T) {
	var signed []tlog.Signed
	var mu sync.Mutex
	n := openNode(t, t.TempDir(), tlog.Config{OnSign: func(s tlog.Signed) { mu.Lock(); signed = append(signed, s); mu.Unlock() }})

	// An empty log gets a checkpoint of size 0 (the empty root).
	s0 := n.sync()
	if s0.Size != 0 || s0.Root != merkle.EmptyRoot() {
		t.Fatalf("first checkpoint: size %d root %x", s0.Size, s0.Root)
	}
	var want merkle.Tree
	for _, grow := range []int{1, 2, 5, 1000, 1, 37} {
		evs := testEvents(n.next, grow)
		n.append(grow)
		for _, e := range evs {
			want.Append(e.LeafHash)
		}
		s := n.sync()
		if s.Size != want.Size() || s.Root != want.Root() {
			t.Fatalf("checkpoint size %d root %x, want size %d root %x", s.Size, s.Root, want.Size(), want.Root())
		}
		c, err := checkpoint.Open(s.Note, "", n.key.Verifier)
		if err != nil {
			t.Fatal(err)
		}
		if c.Size != s.Size || c.Root != s.Root || c.Origin != "stigaudit/local" {
			t.Fatalf("note says %+v", c)
		}
	}
	// Nothing new: no new signature.
	before := len(signed)
	if s := n.sync(); s.Size != want.Size() || len(signed) != before {
		t.Fatalf("sync without growth signed again (%d -> %d)", before, len(signed))
	}
	// Every signature is stored, oldest to newest, and Latest agrees.
	rows, err := n.raw().QueryContext(ctx, `SELECT tree_size FROM checkpoints ORDER BY tree_size`)
	if err != nil {
		t.Fatal(err)
	}
	var sizes []uint64
	for rows.Next() {
		var s uint64
		rows.Scan(&s)
		sizes = append(sizes, s)
	}
	rows.Close()
	if len(sizes) != len(signed) {
		t.Fatalf("stored sizes %v, signed %d", sizes, len(signed))
	}
	for i := range sizes {
		if sizes[i] != signed[i].Size {
			t.Fatalf("stored sizes %v", sizes)
		}
	}
	// The table is append-only.
	for _, q := range []string{
		`UPDATE checkpoints SET note = 'x'`,
		`DELETE FROM checkpoints`,
		`INSERT INTO checkpoints VALUES (1, zeroblob(32), 'x', 'now')`,
		`INSERT OR REPLACE INTO checkpoints SELECT * FROM checkpoints WHERE tree_size = 1`,
		`INSERT INTO checkpoints VALUES (1000000, zeroblob(32), 'x', 'now')`,
	} {
		if _, err := n.raw().ExecContext(ctx, q); err == nil {
			t.Errorf("%s: accepted", q)
		}
	}
}

func TestCheckpointerRestartResumes(t *testing.T) {
	dir := t.TempDir()
	n := openNode(t, dir, tlog.Config{})
	n.append(10)
	first := n.sync()
	n.append(7) // not signed before the "crash"
	n.crash()

	n2 := openNode(t, dir, tlog.Config{})
	if err := n2.cp.Err(); err != nil {
		t.Fatal(err)
	}
	if got, ok := n2.cp.Latest(); !ok || got.Size != first.Size || string(got.Note) != string(first.Note) {
		t.Fatalf("restart loaded %+v, want the stored checkpoint of size %d", got, first.Size)
	}
	s := n2.sync()
	if s.Size != 17 {
		t.Fatalf("after restart signed size %d, want 17", s.Size)
	}
}

func TestStopSignsTheTail(t *testing.T) {
	dir := t.TempDir()
	n := openNode(t, dir, tlog.Config{Interval: time.Hour})
	n.cp.Start()
	n.append(3)
	if err := n.cp.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if s, _ := n.cp.Latest(); s.Size != 3 {
		t.Fatalf("after Stop the latest checkpoint covers %d events, want 3", s.Size)
	}
}

// TestBackgroundCadence: a configured Interval and Poll are honoured, on a
// fake clock (TestDefaultCadence pins the defaults the same way).
func TestBackgroundCadence(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		skey, _, err := checkpoint.GenerateKey(rand.Reader, "stigaudit/cadence")
		if err != nil {
			t.Fatal(err)
		}
		key, _ := tlog.ParseKey(skey)
		st := memstore.New()
		var mu sync.Mutex
		var times []time.Time
		cp, err := tlog.New(ctx, tlog.Config{Tree: st, Checkpoints: &memCheckpoints{}, Key: key, Logger: quiet,
			Interval: 200 * time.Millisecond, Poll: 10 * time.Millisecond,
			OnSign: func(s tlog.Signed) { mu.Lock(); times = append(times, time.Now()); mu.Unlock() }})
		if err != nil {
			t.Fatal(err)
		}
		cp.Start()
		next := 0
		for start := time.Now(); time.Since(start) < 1200*time.Millisecond; next++ {
			if _, err := st.Append(ctx, testEvents(next, 1)); err != nil {
				t.Fatal(err)
			}
			time.Sleep(5 * time.Millisecond)
			synctest.Wait()
		}
		// The last event is covered within Interval + Poll.
		time.Sleep(210 * time.Millisecond)
		synctest.Wait()
		if s, ok := cp.Latest(); !ok || s.Size != uint64(next) {
			t.Fatalf("size %d not covered within Interval + Poll (latest %d)", next, s.Size)
		}
		cp.Stop(ctx)
		mu.Lock()
		defer mu.Unlock()
		if len(times) < 6 || len(times) > 8 {
			t.Fatalf("%d signatures in 1.2 s of growth at a 200 ms interval", len(times))
		}
		for i := 1; i < len(times); i++ {
			if d := times[i].Sub(times[i-1]); d < 200*time.Millisecond {
				t.Errorf("signatures %d and %d only %v apart, interval 200ms", i-1, i, d)
			}
		}
	})
}

func waitCovered(t *testing.T, cp *tlog.Checkpointer, size uint64, within time.Duration) {
	t.Helper()
	waitfor.Until(t, within, fmt.Sprintf("a checkpoint covering size %d", size), func() bool {
		s, ok := cp.Latest()
		return ok && s.Size >= size
	})
}

// TestNeverSignsAFork damages the stored log in the ways a fork shows up
// and checks the checkpointer refuses, now and after a restart.
func TestNeverSignsAFork(t *testing.T) {
	for _, tc := range []struct {
		name   string
		damage func(n *node)
	}{
		{"tree nodes rewritten", func(n *node) {
			n.exec(`DROP TRIGGER tree_nodes_no_update`, `UPDATE tree_nodes SET hash = randomblob(32)`)
		}},
		// The checkpointer reads the O(log n) nodes on the tree's right
		// edge, so it sees a rewritten last leaf; a leaf inside a stored
		// subtree is for `stigaudit verify --db` to find.
		{"the last signed leaf rewritten", func(n *node) {
			n.exec(`DROP TRIGGER events_no_update`, `UPDATE events SET leaf_hash = randomblob(32) WHERE seq = 44`)
		}},
		{"signed events removed", func(n *node) {
			n.exec(`DROP TRIGGER events_no_delete`, `DROP TRIGGER tree_nodes_no_delete`,
				`DELETE FROM events WHERE seq >= 30`, `DELETE FROM tree_nodes WHERE ((idx + 1) << level) > 30`)
		}},
		{"stored checkpoint forged", func(n *node) {
			other, _, _ := checkpoint.GenerateKey(rand.Reader, "stigaudit/local")
			k, _ := tlog.ParseKey(other)
			s, _ := n.cp.Latest()
			forged, _ := checkpoint.Sign(s.Checkpoint, k.Signer)
			n.exec(`DROP TRIGGER checkpoints_no_update`)
			if _, err := n.raw().ExecContext(ctx, `UPDATE checkpoints SET note = ? WHERE tree_size = ?`, string(forged), s.Size); err != nil {
				t.Fatal(err)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			n := openNode(t, dir, tlog.Config{})
			n.append(45)
			signed := n.sync()
			tc.damage(n)
			n.close()

			// Restarted on the damaged file: refuses at once, says so on
			// readiness, and never signs.
			n2 := openNode(t, dir, tlog.Config{})
			if n2.cp.Err() == nil {
				n2.append(3)
				if _, err := n2.cp.Sync(ctx); err == nil {
					t.Fatal("signed a checkpoint over a damaged log")
				}
			}
			err := n2.cp.Err()
			if !errors.Is(err, auditerr.ErrVerifyFailed) {
				t.Fatalf("Err() = %v, want verification_failed", err)
			}
			if r := n2.cp.Ready(ctx); !errors.Is(r, auditerr.ErrStoreUnavailable) {
				t.Fatalf("Ready = %v, want store_unavailable (503)", r)
			}
			if _, err := n2.cp.Sync(ctx); err == nil {
				t.Fatal("Sync succeeded while refusing")
			}
			var count int
			n2.raw().QueryRowContext(ctx, `SELECT count(*) FROM checkpoints WHERE tree_size > ?`, signed.Size).Scan(&count)
			if count != 0 {
				t.Fatalf("%d checkpoints signed after the damage", count)
			}
		})
	}
}

// TestForkWhileRunning damages the tree under a running checkpointer.
func TestForkWhileRunning(t *testing.T) {
	n := openNode(t, t.TempDir(), tlog.Config{})
	n.append(64)
	n.sync()
	n.exec(`DROP TRIGGER tree_nodes_no_update`, `UPDATE tree_nodes SET hash = randomblob(32) WHERE level = 6`)
	n.append(10)
	if _, err := n.cp.Sync(ctx); !errors.Is(err, auditerr.ErrVerifyFailed) {
		t.Fatalf("Sync = %v, want verification_failed", err)
	}
	if n.cp.Ready(ctx) == nil {
		t.Fatal("ready while refusing")
	}
}

// TestTwoSigners runs a second checkpointer (as `stigaudit export` does)
// on the same database: both keep signing, and their checkpoints interleave
// consistently.
func TestTwoSigners(t *testing.T) {
	dir := t.TempDir()
	a := openNode(t, dir, tlog.Config{})
	b, err := tlog.New(ctx, tlog.Config{Tree: a.store, Checkpoints: a.store.Checkpoints(), Key: a.key, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	a.append(5)
	a.sync()
	a.append(5)
	if s, err := b.Sync(ctx); err != nil || s.Size != 10 {
		t.Fatalf("second signer: %v, size %d", err, s.Size)
	}
	a.append(5)
	if s := a.sync(); s.Size != 15 {
		t.Fatalf("first signer after the second: size %d", s.Size)
	}
	// b is behind; it adopts the stored latest when it is ahead.
	if s, err := b.Sync(ctx); err != nil || s.Size != 15 {
		t.Fatalf("second signer catching up: %v, size %d", err, s.Size)
	}
	if a.cp.Err() != nil || b.Err() != nil {
		t.Fatal(a.cp.Err(), b.Err())
	}
}

func TestProver(t *testing.T) {
	n := openNode(t, t.TempDir(), tlog.Config{})
	p := tlog.NewProver(n.store, n.cp)
	var checkpoints []tlog.Signed
	var leaves [][merkle.HashSize]byte
	for _, grow := range []int{1, 6, 9, 100, 27} {
		for _, e := range testEvents(n.next, grow) {
			leaves = append(leaves, e.LeafHash)
		}
		n.append(grow)
		checkpoints = append(checkpoints, n.sync())
	}
	latest := checkpoints[len(checkpoints)-1]
	for _, cp := range checkpoints {
		for seq := uint64(0); seq < cp.Size; seq += 1 + seq/7 {
			size := cp.Size
			if cp.Size == latest.Size && seq%2 == 0 {
				size = 0 // the default: latest
			}
			pr, err := p.Inclusion(ctx, seq, size)
			if err != nil {
				t.Fatalf("Inclusion(%d, %d): %v", seq, size, err)
			}
			if pr.LeafHash != leaves[seq] || pr.TreeSize != cp.Size {
				t.Fatalf("Inclusion(%d, %d): leaf %x size %d", seq, size, pr.LeafHash, pr.TreeSize)
			}
			if err := pr.Verify(cp.Root); err != nil {
				t.Fatalf("Inclusion(%d, %d) does not verify: %v", seq, cp.Size, err)
			}
		}
	}
	for i, a := range checkpoints {
		for _, b := range checkpoints[i:] {
			pr, err := p.Consistency(ctx, a.Size, b.Size)
			if err != nil {
				t.Fatal(err)
			}
			if err := pr.Verify(a.Root, b.Root); err != nil {
				t.Fatalf("Consistency(%d, %d): %v", a.Size, b.Size, err)
			}
		}
	}

	n.append(5) // stored, not signed yet
	for _, tc := range []struct {
		name      string
		call      func() error
		wantCode  *auditerr.Error
		wantInMsg string
	}{
		{"seq at size", func() error { _, err := p.Inclusion(ctx, 3, 3); return err }, auditerr.ErrNotFound, "not in the tree"},
		{"seq not signed yet", func() error { _, err := p.Inclusion(ctx, latest.Size, 0); return err }, auditerr.ErrNotFound, "within about a second"},
		{"size beyond the checkpoint", func() error { _, err := p.Inclusion(ctx, 0, latest.Size+1); return err }, auditerr.ErrInvalidParameter, "beyond"},
		{"to beyond the checkpoint", func() error { _, err := p.Consistency(ctx, 1, latest.Size+1); return err }, auditerr.ErrInvalidParameter, "beyond"},
		{"from after to", func() error { _, err := p.Consistency(ctx, 5, 4); return err }, auditerr.ErrInvalidParameter, "larger"},
	} {
		err := tc.call()
		if !errors.Is(err, tc.wantCode) || !strings.Contains(err.Error(), tc.wantInMsg) {
			t.Errorf("%s: %v, want %s mentioning %q", tc.name, err, tc.wantCode.Code, tc.wantInMsg)
		}
	}
}

// TestHammer appends from several goroutines while the checkpointer signs
// in the background and readers ask for proofs against whatever checkpoint
// is latest: every proof verifies, every checkpoint extends the previous.
func TestHammer(t *testing.T) {
	n := openNode(t, t.TempDir(), tlog.Config{Interval: 20 * time.Millisecond, Poll: 5 * time.Millisecond})
	p := tlog.NewProver(n.store, n.cp)
	n.cp.Start()
	var next atomic.Int64
	stop := make(chan struct{})
	var writers, readers sync.WaitGroup
	for w := 0; w < 4; w++ {
		writers.Go(func() {
			for i := 0; i < 60; i++ {
				k := int(next.Add(3)) - 3
				// Distinct ids; seqs are assigned by the store.
				if _, err := n.store.Append(ctx, testEvents(k, 3)); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	for r := 0; r < 3; r++ {
		readers.Go(func() {
			var prev tlog.Signed
			for {
				select {
				case <-stop:
					return
				default:
				}
				s, ok := n.cp.Latest()
				if !ok || s.Size == 0 {
					continue
				}
				if prev.Size > 0 && s.Size > prev.Size {
					c, err := p.Consistency(ctx, prev.Size, s.Size)
					if err != nil || c.Verify(prev.Root, s.Root) != nil {
						t.Errorf("consistency %d -> %d: %v", prev.Size, s.Size, err)
						return
					}
				}
				seq := uint64(time.Now().UnixNano()) % s.Size
				pr, err := p.Inclusion(ctx, seq, s.Size)
				if err != nil || pr.Verify(s.Root) != nil {
					t.Errorf("inclusion %d in %d: %v", seq, s.Size, err)
					return
				}
				prev = s
			}
		})
	}
	writers.Wait()
	waitCovered(t, n.cp, 720, 2*time.Second)
	close(stop)
	readers.Wait()
	if err := n.cp.Err(); err != nil {
		t.Fatal(err)
	}
}
