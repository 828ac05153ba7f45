package logverify

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"strings"
	"testing"

	"golang.org/x/mod/sumdb/note"

	"github.com/stigaudit/stigaudit/core/auditerr"
	"github.com/stigaudit/stigaudit/core/checkpoint"
	"github.com/stigaudit/stigaudit/core/event"
	"github.com/stigaudit/stigaudit/core/merkle"
)

// testHash stands in for event.LeafHash(event.AppendCanonical(nil, e)):
// any injective encoding of the content does for these tests.
func testHash(e *event.Event) [merkle.HashSize]byte {
	return merkle.LeafHash([]byte(fmt.Sprintf("%q|%q|%q|%q|%q", e.ID, e.Type, e.TS, e.EntityURI, e.Detail)))
}

func makeLog(n int) []event.Event {
	log := make([]event.Event, n)
	for i := range log {
		e := &log[i]
		e.Seq = int64(i)
		e.ID = fmt.Sprintf("0190f0c0-0000-7000-8000-%012d", i)
		e.Type = "fact_write"
		e.TS = "2026-05-03T12:00:00.000000Z"
		e.Tenant = "default"
		e.EntityURI = "agent:test"
		e.Outcome = "success"
		e.Detail = []byte(fmt.Sprintf(`{"n":%d}`, i))
		e.LeafHash = testHash(e)
	}
	return log
}

// world is a log as a server keeps it: events, their stored tree nodes, and
// a signing key.
type world struct {
	events []event.Event
	nodes  map[merkle.NodeID][merkle.HashSize]byte
	signer note.Signer
	key    note.Verifier
	// reads counts node reads, to hold the Verifier to its budget.
	reads int
}

func newWorld(t testing.TB, n int) *world {
	t.Helper()
	w := &world{events: makeLog(n), nodes: map[merkle.NodeID][merkle.HashSize]byte{}}
	var tr merkle.Tree
	for i := range w.events {
		tr.AppendVisit(w.events[i].LeafHash, func(id merkle.NodeID, h [merkle.HashSize]byte) { w.nodes[id] = h })
	}
	skey, vkey, err := checkpoint.GenerateKey(strings.NewReader(strings.Repeat("k", 64)), "stigaudit/test")
	if err != nil {
		t.Fatal(err)
	}
	w.signer, _ = checkpoint.NewSigner(skey)
	w.key, _ = checkpoint.NewVerifier(vkey)
	return w
}

// checkpointAt signs the root of the first size events as they are now.
func (w *world) checkpointAt(t testing.TB, size int) []byte {
	t.Helper()
	var tr merkle.Tree
	for i := 0; i < size; i++ {
		tr.Append(testHash(&w.events[i]))
	}
	return signRoot(t, w, size, tr.Root())
}

func signRoot(t testing.TB, w *world, size int, root [merkle.HashSize]byte) []byte {
	t.Helper()
	msg, err := checkpoint.Sign(checkpoint.Checkpoint{Origin: "stigaudit/test", Size: uint64(size), Root: root}, w.signer)
	if err != nil {
		t.Fatal(err)
	}
	return msg
}

func (w *world) read(ids []merkle.NodeID) ([][]byte, error) {
	w.reads++
	out := make([][]byte, len(ids))
	for i, id := range ids {
		if h, ok := w.nodes[id]; ok {
			out[i] = h[:]
		}
	}
	return out, nil
}

// rewrite replaces the content of event i and its leaf hash consistently,
// as an attacker with write access to the database would.
func (w *world) rewrite(i int, detail string) {
	w.events[i].Detail = []byte(detail)
	w.events[i].LeafHash = testHash(&w.events[i])
}

// swap exchanges the contents of events i and j, each keeping its seq.
func (w *world) swap(i, j int) {
	w.events[i], w.events[j] = w.events[j], w.events[i]
	w.events[i].Seq, w.events[j].Seq = int64(i), int64(j)
}

// rehashNodes recomputes the stored tree nodes below level top from the
// current events, as an attacker covering their tracks would.
func (w *world) rehashNodes(top uint) {
	var tr merkle.Tree
	for i := range w.events {
		tr.AppendVisit(w.events[i].LeafHash, func(id merkle.NodeID, h [merkle.HashSize]byte) {
			if id.Level < top {
				w.nodes[id] = h
			}
		})
	}
}

func run(t testing.TB, cfg Config, events []event.Event) Report {
	t.Helper()
	if cfg.LeafHash == nil {
		cfg.LeafHash = testHash
	}
	v, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	for i := range events {
		if v.Add(&events[i]) != nil {
			break
		}
	}
	return v.Finish()
}

func TestVerifierCatchesTampering(t *testing.T) {
	const n = 3000 // two complete chunks of 1024 and a partial one
	for _, tc := range []struct {
		name string
		// prepare signs what it wants to, then tampers; it returns the
		// config and the events to feed.
		prepare      func(t *testing.T, w *world) (Config, []event.Event)
		reason       string
		first, until int64
		wantText     string
	}{
		{"untouched log", func(t *testing.T, w *world) (Config, []event.Event) {
			return Config{Key: w.key, Checkpoint: w.checkpointAt(t, n), Nodes: w.read}, w.events
		}, "", -1, -1, ""},
		{"untouched log, export only", func(t *testing.T, w *world) (Config, []event.Event) {
			return Config{Key: w.key, Checkpoint: w.checkpointAt(t, n), Older: [][]byte{w.checkpointAt(t, 7), w.checkpointAt(t, 2048)}}, w.events
		}, "", -1, -1, ""},
		{"changed detail byte", func(t *testing.T, w *world) (Config, []event.Event) {
			cp := w.checkpointAt(t, n)
			w.events[1500].Detail[2] ^= 1
			return Config{Key: w.key, Checkpoint: cp}, w.events
		}, ReasonLeafMismatch, 1500, 1501, ""},
		{"deleted event", func(t *testing.T, w *world) (Config, []event.Event) {
			cp := w.checkpointAt(t, n)
			return Config{Key: w.key, Checkpoint: cp}, append(w.events[:700:700], w.events[701:]...)
		}, ReasonSeqGap, 700, 701, ""},
		{"duplicated event", func(t *testing.T, w *world) (Config, []event.Event) {
			cp := w.checkpointAt(t, n)
			return Config{Key: w.key, Checkpoint: cp}, append(w.events[:701:701], w.events[700:]...)
		}, ReasonSeqRepeated, 701, 702, ""},
		{"events out of order", func(t *testing.T, w *world) (Config, []event.Event) {
			cp := w.checkpointAt(t, n)
			w.events[10], w.events[11] = w.events[11], w.events[10]
			return Config{Key: w.key, Checkpoint: cp}, w.events
		}, ReasonSeqGap, 10, 11, ""},
		{"deleted last events", func(t *testing.T, w *world) (Config, []event.Event) {
			return Config{Key: w.key, Checkpoint: w.checkpointAt(t, n)}, w.events[:n-5]
		}, ReasonTruncated, n - 5, n - 4, ""},
		{"event appended beyond the checkpoint", func(t *testing.T, w *world) (Config, []event.Event) {
			return Config{Key: w.key, Checkpoint: w.checkpointAt(t, n-1)}, w.events
		}, ReasonBeyondCheckpoint, n - 1, n, ""},
		{"swapped events, export only", func(t *testing.T, w *world) (Config, []event.Event) {
			cp := w.checkpointAt(t, n)
			w.swap(100, 101)
			return Config{Key: w.key, Checkpoint: cp}, w.events
		}, ReasonRootMismatch, 0, n, "cannot be located from the events alone"},
		{"swapped events, export and older checkpoints", func(t *testing.T, w *world) (Config, []event.Event) {
			olds := [][]byte{w.checkpointAt(t, 1024), w.checkpointAt(t, 100)}
			cp := w.checkpointAt(t, n)
			w.swap(2100, 2101)
			return Config{Key: w.key, Checkpoint: cp, Older: olds}, w.events
		}, ReasonRootMismatch, 1024, n, ""},
		{"swapped events in a complete chunk, with stored nodes", func(t *testing.T, w *world) (Config, []event.Event) {
			cp := w.checkpointAt(t, n)
			w.swap(100, 101)
			return Config{Key: w.key, Checkpoint: cp, Nodes: w.read}, w.events
		}, ReasonTreeNodeMismatch, 100, 101, ""},
		{"swapped events in the last chunk, with stored nodes", func(t *testing.T, w *world) (Config, []event.Event) {
			cp := w.checkpointAt(t, n)
			w.swap(2500, 2999)
			return Config{Key: w.key, Checkpoint: cp, Nodes: w.read}, w.events
		}, ReasonRootMismatch, 2500, 2501, ""},
		{"content and leaf hash rewritten, with stored nodes", func(t *testing.T, w *world) (Config, []event.Event) {
			cp := w.checkpointAt(t, n)
			w.rewrite(1100, `{"n":"forged"}`)
			return Config{Key: w.key, Checkpoint: cp, Nodes: w.read}, w.events
		}, ReasonTreeNodeMismatch, 1100, 1101, ""},
		{"rewritten, stored leaves rewritten too", func(t *testing.T, w *world) (Config, []event.Event) {
			cp := w.checkpointAt(t, n)
			w.rewrite(1100, `{"n":"forged"}`)
			w.rehashNodes(1)
			return Config{Key: w.key, Checkpoint: cp, Nodes: w.read}, w.events
		}, ReasonTreeNodeMismatch, 1100, 1102, ""},
		{"rewritten, stored nodes rewritten below the chunk level", func(t *testing.T, w *world) (Config, []event.Event) {
			cp := w.checkpointAt(t, n)
			w.rewrite(1100, `{"n":"forged"}`)
			w.rehashNodes(chunkLevel)
			return Config{Key: w.key, Checkpoint: cp, Nodes: w.read}, w.events
		}, ReasonTreeNodeMismatch, 1024, 2048, ""},
		{"rewritten, every stored node rewritten", func(t *testing.T, w *world) (Config, []event.Event) {
			cp := w.checkpointAt(t, n)
			w.rewrite(1100, `{"n":"forged"}`)
			w.rehashNodes(64)
			return Config{Key: w.key, Checkpoint: cp, Nodes: w.read}, w.events
		}, ReasonRootMismatch, 0, n, "stored tree nodes were rewritten"},
		{"store without tree nodes", func(t *testing.T, w *world) (Config, []event.Event) {
			cp := w.checkpointAt(t, n)
			w.swap(5, 6)
			clear(w.nodes)
			return Config{Key: w.key, Checkpoint: cp, Nodes: w.read}, w.events
		}, ReasonRootMismatch, 0, n, "cannot be located from the events alone"},
		{"stored tree node altered, events intact", func(t *testing.T, w *world) (Config, []event.Event) {
			w.nodes[merkle.NodeID{Level: 3, Index: 260}] = sha256.Sum256(nil)
			return Config{Key: w.key, Checkpoint: w.checkpointAt(t, n), Nodes: w.read}, w.events
		}, ReasonTreeNodeMismatch, 2080, 2088, ""},
		{"swapped events, no checkpoint, stored nodes", func(t *testing.T, w *world) (Config, []event.Event) {
			w.swap(7, 8)
			return Config{Nodes: w.read}, w.events
		}, ReasonTreeNodeMismatch, 7, 8, ""},
		{"history rewritten and re-signed, older checkpoint", func(t *testing.T, w *world) (Config, []event.Event) {
			old := w.checkpointAt(t, 10)
			w.rewrite(3, `{"n":"rewritten"}`)
			return Config{Key: w.key, Checkpoint: w.checkpointAt(t, n), Older: [][]byte{old}}, w.events
		}, ReasonInconsistentHistory, 0, 10, ""},
		{"history rewritten and re-signed, older checkpoints narrow it", func(t *testing.T, w *world) (Config, []event.Event) {
			olds := [][]byte{w.checkpointAt(t, 100), w.checkpointAt(t, 200), w.checkpointAt(t, 300)}
			w.rewrite(150, `{"n":"rewritten"}`)
			return Config{Key: w.key, Checkpoint: w.checkpointAt(t, n), Older: olds}, w.events
		}, ReasonInconsistentHistory, 100, 200, "older checkpoint"},
		{"history rewritten and re-signed, older checkpoint and stored nodes", func(t *testing.T, w *world) (Config, []event.Event) {
			old := w.checkpointAt(t, 10)
			w.rewrite(3, `{"n":"rewritten"}`)
			return Config{Key: w.key, Checkpoint: w.checkpointAt(t, n), Older: [][]byte{old}, Nodes: w.read}, w.events
		}, ReasonInconsistentHistory, 3, 4, ""},
		{"forged checkpoint signature", func(t *testing.T, w *world) (Config, []event.Event) {
			cp := w.checkpointAt(t, n)
			forged := strings.Replace(string(cp), fmt.Sprintf("\n%d\n", n), fmt.Sprintf("\n%d\n", n+1), 1)
			return Config{Key: w.key, Checkpoint: []byte(forged)}, w.events
		}, ReasonBadCheckpoint, -1, -1, ""},
		{"checkpoint signed by another key", func(t *testing.T, w *world) (Config, []event.Event) {
			skey, _, _ := checkpoint.GenerateKey(strings.NewReader(strings.Repeat("x", 64)), "stigaudit/test")
			s, _ := checkpoint.NewSigner(skey)
			msg, _ := checkpoint.Sign(checkpoint.Checkpoint{Origin: "stigaudit/test", Size: n}, s)
			return Config{Key: w.key, Checkpoint: msg}, w.events
		}, ReasonBadCheckpoint, -1, -1, ""},
		{"older checkpoint larger than the checkpoint", func(t *testing.T, w *world) (Config, []event.Event) {
			return Config{Key: w.key, Checkpoint: w.checkpointAt(t, 10), Older: [][]byte{w.checkpointAt(t, 20)}}, w.events[:10]
		}, ReasonBadCheckpoint, -1, -1, ""},
		{"log shorter than an older checkpoint", func(t *testing.T, w *world) (Config, []event.Event) {
			return Config{Key: w.key, Older: [][]byte{w.checkpointAt(t, 20)}}, w.events[:15]
		}, ReasonTruncated, 15, 16, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t, n)
			cfg, events := tc.prepare(t, w)
			r := run(t, cfg, events)
			if r.Reason != tc.reason || r.FirstBadSeq != tc.first || r.BadUntil != tc.until {
				t.Fatalf("report: reason %q, bad seq [%d, %d), err %v; want %q [%d, %d)", r.Reason, r.FirstBadSeq, r.BadUntil, r.Err, tc.reason, tc.first, tc.until)
			}
			switch {
			case tc.reason == "":
				if r.Err != nil || !r.OK() {
					t.Fatalf("err = %v", r.Err)
				}
				if r.Size != n {
					t.Fatalf("size = %d, want %d", r.Size, n)
				}
				if r.Checkpoint == nil || r.Checkpoint.Root != r.Root {
					t.Fatalf("report root %x, checkpoint %+v", r.Root, r.Checkpoint)
				}
			case tc.reason == ReasonBadCheckpoint:
				if !errors.Is(r.Err, auditerr.ErrInvalidCheckpoint) {
					t.Fatalf("err = %v, want invalid_checkpoint", r.Err)
				}
			default:
				if !errors.Is(r.Err, auditerr.ErrVerifyFailed) {
					t.Fatalf("err = %v, want verification_failed", r.Err)
				}
				if want := fmt.Sprint(tc.first); !strings.Contains(r.Err.Error(), want) {
					t.Fatalf("error %q does not name seq %s", r.Err, want)
				}
			}
		})
	}
}

func TestHigherLevelNodeMismatchNamesItsRange(t *testing.T) {
	// With chunks of 4 leaves, rewrite leaf 9 and every stored node below
	// level 3: the level-2 chunks agree, the stored level-3 node [8, 16)
	// does not.
	w := newWorld(t, 40)
	cp := w.checkpointAt(t, 40)
	w.rewrite(9, `{"n":"x"}`)
	w.rehashNodes(3)
	v, err := New(Config{LeafHash: testHash, Key: w.key, Checkpoint: cp, Nodes: w.read})
	if err != nil {
		t.Fatal(err)
	}
	v.level = 2
	for i := range w.events {
		if v.Add(&w.events[i]) != nil {
			break
		}
	}
	r := v.Finish()
	if r.Reason != ReasonTreeNodeMismatch || r.FirstBadSeq != 8 || r.BadUntil != 16 {
		t.Fatalf("report %q [%d, %d): %v; want tree_node_mismatch [8, 16)", r.Reason, r.FirstBadSeq, r.BadUntil, r.Err)
	}
	if !strings.Contains(r.Err.Error(), "level 3, index 1") {
		t.Fatalf("error %q does not name the stored node", r.Err)
	}
}

func TestNodeReadBudget(t *testing.T) {
	const n = 10_000
	w := newWorld(t, n)
	r := run(t, Config{Key: w.key, Checkpoint: w.checkpointAt(t, n), Nodes: w.read}, w.events)
	if !r.OK() {
		t.Fatal(r.Err)
	}
	// One read per complete node at level >= 10, plus one for the tail.
	if max := 2*n/1024 + 1; w.reads > max {
		t.Fatalf("%d node reads for %d events, want at most %d", w.reads, n, max)
	}
}

func TestNodeReadFailure(t *testing.T) {
	w := newWorld(t, 2000)
	boom := auditerr.Errorf(auditerr.ErrStoreUnavailable, "disk on fire")
	r := run(t, Config{Nodes: func([]merkle.NodeID) ([][]byte, error) { return nil, boom }}, w.events)
	if r.Reason != ReasonNodesUnavailable || !errors.Is(r.Err, auditerr.ErrStoreUnavailable) || r.FirstBadSeq != -1 {
		t.Fatalf("report %q %d: %v", r.Reason, r.FirstBadSeq, r.Err)
	}
}

func TestEmptyLog(t *testing.T) {
	w := newWorld(t, 0)
	r := run(t, Config{Key: w.key, Checkpoint: w.checkpointAt(t, 0), Nodes: w.read}, nil)
	if !r.OK() || r.Size != 0 || r.Root != merkle.EmptyRoot() {
		t.Fatalf("empty log: %+v", r)
	}
}

func TestAddAfterFailureIsIgnored(t *testing.T) {
	w := newWorld(t, 10)
	v, err := New(Config{LeafHash: testHash})
	if err != nil {
		t.Fatal(err)
	}
	w.events[2].Detail = []byte(`{}`)
	var first error
	for i := range w.events {
		if err := v.Add(&w.events[i]); err != nil && first == nil {
			first = err
		}
	}
	r := v.Finish()
	if r.Err != first || r.Events != 3 || r.Size != 2 || r.FirstBadSeq != 2 {
		t.Fatalf("report after failure: %+v", r)
	}
	if again := v.Finish(); again.Err != r.Err || again.FirstBadSeq != r.FirstBadSeq {
		t.Fatal("Finish is not repeatable")
	}
}

func TestConfigErrors(t *testing.T) {
	if _, err := New(Config{Checkpoint: []byte("x")}); !errors.Is(err, auditerr.ErrInvalidConfig) {
		t.Fatalf("checkpoint without key: err = %v", err)
	}
	v, _ := New(Config{})
	if err := v.Add(&event.Event{}); !errors.Is(err, auditerr.ErrInvalidConfig) {
		t.Fatalf("Add without LeafHash: err = %v", err)
	}
}
