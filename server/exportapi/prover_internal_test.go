package exportapi

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"reflect"
	"testing"

	"github.com/transparency-dev/merkle/compact"
	"github.com/transparency-dev/merkle/rfc6962"

	"github.com/stigaudit/stigaudit/core/auditerr"
	"github.com/stigaudit/stigaudit/core/merkle"
	"github.com/stigaudit/stigaudit/hostfns"
	"github.com/stigaudit/stigaudit/server/tlog"
)

// memTree is a tlog.Tree in memory, counting reads.
type memTree struct {
	nodes map[merkle.NodeID][]byte
	size  int64
	reads int
}

func newMemTree(n int) *memTree {
	t := &memTree{nodes: map[merkle.NodeID][]byte{}, size: int64(n)}
	rf := &compact.RangeFactory{Hash: rfc6962.DefaultHasher.HashChildren}
	r := rf.NewEmptyRange(0)
	for i := range n {
		var b [8]byte
		binary.BigEndian.PutUint64(b[:], uint64(i))
		leaf := sha256.Sum256(b[:])
		t.nodes[merkle.NodeID{Level: 0, Index: uint64(i)}] = leaf[:]
		r.Append(leaf[:], func(id compact.NodeID, h []byte) { t.nodes[id] = h })
	}
	return t
}

func (t *memTree) Size(context.Context) (int64, error) { return t.size, nil }

func (t *memTree) LeafHashes(_ context.Context, from, to int64) ([][]byte, error) {
	t.reads++
	var out [][]byte
	for i := from; i < to && i < t.size; i++ {
		out = append(out, t.nodes[merkle.NodeID{Level: 0, Index: uint64(i)}])
	}
	return out, nil
}

func (t *memTree) ReadNodes(_ context.Context, ids []merkle.NodeID) ([][]byte, error) {
	t.reads++
	out := make([][]byte, len(ids))
	for i, id := range ids {
		h, ok := t.nodes[id]
		if !ok {
			return nil, auditerr.Errorf(auditerr.ErrNotFound, "node %v", id)
		}
		out[i] = h
	}
	return out, nil
}

var (
	_ tlog.Tree          = (*memTree)(nil)
	_ hostfns.TreeReader = (*memTree)(nil)
)

// TestBlockProver: the block prover answers exactly what tlog's prover
// answers, for every seq of trees of awkward sizes, dense and sparse, with
// far fewer reads on a dense walk.
func TestBlockProver(t *testing.T) {
	ctx := context.Background()
	for _, size := range []int{1, 2, 3, 255, 256, 257, 1000, 1 << 10, 3001} {
		tree := newMemTree(size)
		ref := tlog.NewFixedProver(tree, uint64(size))
		for _, step := range []int{1, 7, 300} {
			bp := newBlockProver(tree, uint64(size))
			tree.reads = 0
			proofs := 0
			for seq := 0; seq < size; seq += step {
				want, err := ref.Inclusion(ctx, uint64(seq), uint64(size))
				if err != nil {
					t.Fatal(err)
				}
				before := tree.reads
				got, err := bp.Inclusion(ctx, uint64(seq), uint64(size))
				if err != nil {
					t.Fatalf("size %d seq %d: %v", size, seq, err)
				}
				if !reflect.DeepEqual(got, want) {
					t.Fatalf("size %d seq %d:\n%+v\nwant\n%+v", size, seq, got, want)
				}
				_ = before
				proofs++
			}
			// tlog's prover made one read per proof; ours at most two.
			ours := tree.reads - proofs
			if ours > 2*proofs {
				t.Fatalf("size %d step %d: %d reads for %d proofs", size, step, ours, proofs)
			}
			if step == 1 && size >= 1000 && ours > size/64 {
				t.Fatalf("size %d, dense: %d reads for %d proofs", size, ours, proofs)
			}
		}
	}
}
