package witness_test

import (
	"context"
	"crypto/rand"
	"fmt"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/stigaudit/stigaudit/core/checkpoint"
	"github.com/stigaudit/stigaudit/hostfns/memstore"
	"github.com/stigaudit/stigaudit/server/tlog"
	"github.com/stigaudit/stigaudit/server/witness"
)

// memShared is witness.Shared in memory: what the elected replica stored.
type memShared struct {
	mu   sync.Mutex
	note []byte
}

func (m *memShared) Save(_ context.Context, _ uint64, n []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.note = n
	return nil
}

func (m *memShared) Load(context.Context) ([]byte, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.note, m.note != nil, nil
}

// TestFollowerServesOnlyWhatItVerified: a replica that is not elected
// serves the witnessed checkpoint the elected one stored only once its own
// checkpointer has verified a tree at least that large (so the tiles and
// proofs for it are served too), and never one whose root disagrees with
// its own tree at the same size.
func TestFollowerServesOnlyWhatItVerified(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		csigner, cvkey := cosigKey(t, "witness.test/w1")
		p, err := witness.ParsePolicy([]byte(fmt.Sprintf("witness w1 %s http://w1.test\nquorum w1\n", cvkey)))
		if err != nil {
			t.Fatal(err)
		}
		lskey, _, _ := checkpoint.GenerateKey(rand.Reader, "example.com/log")
		key, _ := tlog.ParseKey(lskey)
		signed := func(size uint64, root byte) (tlog.Signed, []byte) {
			c := checkpoint.Checkpoint{Origin: key.Origin, Size: size}
			c.Root[0] = root
			n, err := checkpoint.Sign(c, key.Signer)
			if err != nil {
				t.Fatal(err)
			}
			cosigned, err := note.Sign(&note.Note{Text: string(c.Body())}, key.Signer, csigner)
			if err != nil {
				t.Fatal(err)
			}
			return tlog.Signed{Checkpoint: c, Note: n, Time: time.Now()}, cosigned
		}
		shared := &memShared{}
		w, err := witness.New(witness.Config{Policy: p, Tree: memstore.New(), Shared: shared, Active: func() bool { return false }})
		if err != nil {
			t.Fatal(err)
		}
		defer w.Close()
		wait := func() {
			time.Sleep(1100 * time.Millisecond) // a follower reads Shared once a second
			synctest.Wait()
		}
		s3, _ := signed(3, 1)
		s5, n5 := signed(5, 1)
		w.Submit(s3)
		shared.Save(context.Background(), 5, n5)
		wait()
		if c, ok := w.Latest(); ok {
			t.Fatalf("serves the witnessed checkpoint of size %d while its own tree is verified to size 3", c.Size)
		}
		w.Submit(s5)
		if c, ok := w.Latest(); !ok || c.Size != 5 || string(c.Note) != string(n5) {
			t.Fatalf("once its tree is verified to size 5, serves %v %d; want the stored witnessed checkpoint", ok, c.Size)
		}
		_, fork := signed(7, 2)
		s7, _ := signed(7, 1)
		w.Submit(s7)
		shared.Save(context.Background(), 7, fork)
		wait()
		if c, _ := w.Latest(); c.Size != 5 {
			t.Fatalf("serves a witnessed checkpoint of size %d whose root disagrees with its own tree", c.Size)
		}
	})
}
