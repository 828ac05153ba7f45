package tlog

import (
	"context"
	"fmt"

	"github.com/stigaudit/stigaudit/core/auditerr"
	"github.com/stigaudit/stigaudit/core/merkle"
)

// Prover builds inclusion and consistency proofs from the stored tree
// nodes: each proof is one read of O(log n) nodes. It only answers about
// trees up to the latest signed checkpoint, so that every proof it serves
// leads to a root a client can obtain signed (that checkpoint, or an older
// one). It is safe for concurrent use.
type Prover struct {
	tree  Tree
	bound func() uint64
}

// NewProver returns a Prover over tree, bounded by cp's latest checkpoint.
func NewProver(tree Tree, cp *Checkpointer) *Prover {
	return &Prover{tree: tree, bound: func() uint64 {
		if s, ok := cp.Latest(); ok {
			return s.Size
		}
		return 0
	}}
}

// NewFixedProver returns a Prover over tree bounded by one signed size, for
// a caller that holds the checkpoint already (an export).
func NewFixedProver(tree Tree, size uint64) *Prover {
	return &Prover{tree: tree, bound: func() uint64 { return size }}
}

// signedSize returns the size of the latest signed checkpoint.
func (p *Prover) signedSize() uint64 { return p.bound() }

// Inclusion returns the inclusion proof of the event at seq in the tree of
// size events; size 0 means the latest checkpoint's size. It is the
// function behind GET /v1/audit/proof/inclusion and, for event reads with
// ?proof=1, behind each event's "proof" member. Errors:
//
//   - size beyond the latest signed checkpoint: auditerr.ErrInvalidParameter
//     (nothing was signed at that size; fetch /v1/audit/checkpoint);
//   - seq >= size: auditerr.ErrNotFound (the tree has no such leaf: the
//     event is newer than the checkpoint, and will be covered within about
//     a second, or does not exist);
//   - the store failing: its error (store_unavailable).
//
// Proof.LeafHash is the stored leaf hash of the event.
func (p *Prover) Inclusion(ctx context.Context, seq, size uint64) (merkle.InclusionProof, error) {
	signed := p.signedSize()
	if size == 0 {
		size = signed
	}
	if size > signed {
		return merkle.InclusionProof{}, auditerr.Errorf(auditerr.ErrInvalidParameter,
			"size %d is beyond the latest signed checkpoint (%d events)", size, signed)
	}
	if seq >= size {
		return merkle.InclusionProof{}, auditerr.Errorf(auditerr.ErrNotFound,
			"seq %d is not in the tree of size %d (the latest checkpoint covers %d events; newer events are covered within about a second)", seq, size, signed)
	}
	nodes, err := merkle.InclusionNodes(seq, size)
	if err != nil {
		return merkle.InclusionProof{}, err
	}
	// The leaf itself rides in the same read.
	ids := append(make([]merkle.NodeID, 0, len(nodes.IDs)+1), merkle.NodeID{Level: 0, Index: seq})
	ids = append(ids, nodes.IDs...)
	hashes, err := p.tree.ReadNodes(ctx, ids)
	if err != nil {
		return merkle.InclusionProof{}, fmt.Errorf("tlog: inclusion proof for seq %d in size %d: %w", seq, size, err)
	}
	if len(hashes) != len(ids) || len(hashes[0]) != merkle.HashSize {
		return merkle.InclusionProof{}, auditerr.Errorf(auditerr.ErrStoreUnavailable, "tlog: the store returned %d nodes for %d", len(hashes), len(ids))
	}
	proof, err := merkle.Rehash(nodes, hashes[1:])
	if err != nil {
		return merkle.InclusionProof{}, fmt.Errorf("tlog: inclusion proof for seq %d in size %d: %w", seq, size, err)
	}
	return merkle.InclusionProof{Seq: seq, TreeSize: size, LeafHash: [merkle.HashSize]byte(hashes[0]), Hashes: proof}, nil
}

// Consistency returns the consistency proof from the tree of size from to
// the tree of size to. Both sizes
// must be at most that of the latest signed checkpoint and from <= to;
// otherwise the error wraps auditerr.ErrInvalidParameter.
func (p *Prover) Consistency(ctx context.Context, from, to uint64) (merkle.ConsistencyProof, error) {
	signed := p.signedSize()
	if to > signed {
		return merkle.ConsistencyProof{}, auditerr.Errorf(auditerr.ErrInvalidParameter,
			"to %d is beyond the latest signed checkpoint (%d events)", to, signed)
	}
	if from > to {
		return merkle.ConsistencyProof{}, auditerr.Errorf(auditerr.ErrInvalidParameter, "from %d is larger than to %d", from, to)
	}
	hashes, err := merkle.ProveConsistency(from, to, readerOf(ctx, p.tree))
	if err != nil {
		return merkle.ConsistencyProof{}, fmt.Errorf("tlog: consistency proof from %d to %d: %w", from, to, err)
	}
	return merkle.ConsistencyProof{From: from, To: to, Hashes: hashes}, nil
}
