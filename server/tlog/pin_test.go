package tlog_test

import (
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stigaudit/stigaudit/core/auditerr"
	"github.com/stigaudit/stigaudit/server/tlog"
)

// The checkpoint pinned beside the key outlives the database: a log that
// is gone, or behind what was signed, is refused even when the database's
// own checkpoints table went with it.
func TestPinOutlivesTheDatabase(t *testing.T) {
	for _, tc := range []struct {
		name   string
		damage func(t *testing.T, dir string)
		keep   int // events of the same history a new database gets back
	}{
		{"database deleted", func(t *testing.T, dir string) {
			removeDB(t, dir)
		}, 0},
		{"database restored from an older copy", func(t *testing.T, dir string) {
			removeDB(t, dir)
		}, 30},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			n := openNode(t, dir, tlog.Config{Pin: tlog.PinIn(dir)})
			n.append(45)
			signed := n.sync()
			n.close()
			tc.damage(t, dir)

			n2 := openNode(t, dir, tlog.Config{Pin: tlog.PinIn(dir)})
			n2.append(tc.keep)
			n2.close()
			n3 := openNode(t, dir, tlog.Config{Pin: tlog.PinIn(dir)})
			err := n3.cp.Err()
			if !errors.Is(err, auditerr.ErrVerifyFailed) {
				t.Fatalf("Err() = %v, want verification_failed", err)
			}
			for _, want := range []string{fmt.Sprintf("holds %d events", tc.keep), fmt.Sprintf("size %d with root %x", signed.Size, signed.Root), tlog.PinFile} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("refusal %q does not say %q", err, want)
				}
			}
			n3.append(50)
			if _, err := n3.cp.Sync(ctx); err == nil {
				t.Fatal("signed over a log that does not extend the pinned checkpoint")
			}
		})
	}
}

// A database that lost only its newest checkpoint rows (not its events)
// resumes from the pinned one, which it serves until it signs anew.
func TestPinAheadOfTheCheckpointsTable(t *testing.T) {
	dir := t.TempDir()
	n := openNode(t, dir, tlog.Config{Pin: tlog.PinIn(dir)})
	n.append(10)
	n.sync()
	n.append(10)
	second := n.sync()
	n.exec(`DROP TRIGGER checkpoints_no_delete`, fmt.Sprintf(`DELETE FROM checkpoints WHERE tree_size = %d`, second.Size))
	n.close()

	n2 := openNode(t, dir, tlog.Config{Pin: tlog.PinIn(dir)})
	if err := n2.cp.Err(); err != nil {
		t.Fatalf("refused a sound log: %v", err)
	}
	latest, ok := n2.cp.Latest()
	if !ok || latest.Size != second.Size || latest.Root != second.Root {
		t.Fatalf("latest after restart = %d %x, want the pinned %d %x", latest.Size, latest.Root, second.Size, second.Root)
	}
	n2.append(5)
	if s := n2.sync(); s.Size != 25 {
		t.Fatalf("signed size %d, want 25", s.Size)
	}
	pinned, ok, err := tlog.PinIn(dir).Load()
	if err != nil || !ok || pinned.Size != 25 {
		t.Fatalf("pin after signing: %d %v %v", pinned.Size, ok, err)
	}
}

func TestPinNeverMovesBack(t *testing.T) {
	dir := t.TempDir()
	n := openNode(t, dir, tlog.Config{Pin: tlog.PinIn(dir)})
	n.append(3)
	small := n.sync()
	n.append(3)
	big := n.sync()
	p := tlog.PinIn(dir)
	if err := p.Save(small); err != nil {
		t.Fatal(err)
	}
	got, _, _ := p.Load()
	if got.Size != big.Size {
		t.Fatalf("pin moved back to %d", got.Size)
	}
	forged := big
	forged.Root[0] ^= 1
	if err := p.Save(forged); !errors.Is(err, auditerr.ErrVerifyFailed) {
		t.Fatalf("Save of another root at the pinned size: %v", err)
	}
	if err := os.WriteFile(p.Path, []byte("not a checkpoint\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, _, err := p.Load(); !errors.Is(err, auditerr.ErrInvalidCheckpoint) {
		t.Fatalf("Load of a damaged pin: %v", err)
	}
}

func removeDB(t *testing.T, dir string) {
	t.Helper()
	for _, suffix := range []string{"", "-wal", "-shm"} {
		if err := os.Remove(filepath.Join(dir, "stigaudit.db"+suffix)); err != nil && !errors.Is(err, os.ErrNotExist) {
			t.Fatal(err)
		}
	}
}

// Readiness fails while the log grows and nothing is signed, and recovers
// with the next signature.
func TestReadyWhenSigningStalls(t *testing.T) {
	n := openNode(t, t.TempDir(), tlog.Config{StaleAfter: 50 * time.Millisecond})
	time.Sleep(60 * time.Millisecond)
	if err := n.cp.Ready(ctx); err != nil {
		t.Fatalf("an empty log is covered: %v", err)
	}
	n.append(3)
	err := n.cp.Ready(ctx)
	if !errors.Is(err, auditerr.ErrStoreUnavailable) || !strings.Contains(err.Error(), "holds 3 events but the latest checkpoint covers 0") {
		t.Fatalf("Ready with 3 unsigned events: %v", err)
	}
	n.sync()
	if err := n.cp.Ready(ctx); err != nil {
		t.Fatalf("Ready after signing: %v", err)
	}
}

func TestOriginIsUniqueAndKept(t *testing.T) {
	dir := t.TempDir()
	k, err := tlog.LoadOrCreateKeyFor(dir, tlog.KeyOptions{Node: "eu1", Rand: rand.Reader})
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`^stigaudit/eu1/[0-9a-f]{8}$`).MatchString(k.Origin) {
		t.Fatalf("generated origin %q", k.Origin)
	}
	other, err := tlog.LoadOrCreateKeyFor(t.TempDir(), tlog.KeyOptions{Node: "eu1", Rand: rand.Reader})
	if err != nil || other.Origin == k.Origin {
		t.Fatalf("two logs of one node share the origin %q (%v)", k.Origin, err)
	}
	again, err := tlog.LoadOrCreateKeyFor(dir, tlog.KeyOptions{Node: "eu1", Rand: rand.Reader})
	if err != nil || again.Origin != k.Origin || again.VerifierKey != k.VerifierKey {
		t.Fatalf("reloaded key: %v %v", again, err)
	}
	for _, o := range []tlog.KeyOptions{{Node: "eu2"}, {Node: "eu1", Origin: "audit.example.com/prod"}} {
		o.Rand = rand.Reader
		if _, err := tlog.LoadOrCreateKeyFor(dir, o); !errors.Is(err, auditerr.ErrInvalidConfig) {
			t.Errorf("existing key with %+v: %v", o, err)
		}
	}
	// An explicit origin names the log; a key made before origins were
	// generated keeps its "stigaudit/<node>".
	named, err := tlog.LoadOrCreateKeyFor(t.TempDir(), tlog.KeyOptions{Origin: "audit.example.com/prod", Rand: rand.Reader})
	if err != nil || named.Origin != "audit.example.com/prod" {
		t.Fatalf("--origin: %v %v", named, err)
	}
	legacy := t.TempDir()
	if _, err := tlog.LoadOrCreateKey(legacy, "", rand.Reader); err != nil {
		t.Fatal(err)
	}
	if k, err := tlog.LoadOrCreateKeyFor(legacy, tlog.KeyOptions{Rand: rand.Reader}); err != nil || k.Origin != "stigaudit/local" {
		t.Fatalf("legacy key: %v %v", k, err)
	}
	if _, err := tlog.LoadOrCreateKeyFor(t.TempDir(), tlog.KeyOptions{Origin: "has space", Rand: rand.Reader}); !errors.Is(err, auditerr.ErrInvalidConfig) {
		t.Fatalf("invalid origin: %v", err)
	}
}
