package exportapi

import (
	"context"
	"fmt"

	"github.com/transparency-dev/merkle/rfc6962"

	"github.com/stigaudit/stigaudit/core/auditerr"
	"github.com/stigaudit/stigaudit/core/merkle"
	"github.com/stigaudit/stigaudit/hostfns"
	"github.com/stigaudit/stigaudit/server/export"
)

// blockLevel sets the block a blockProver reads at once: the 2^blockLevel
// leaves under one node of that level.
const blockLevel = 8

// highNodes bounds the cached nodes above blockLevel.
const highNodes = 4096

// blockProver is an export.Prover for one tree size, made for exports,
// which ask for the proofs of increasing seqs: instead of one store read
// per proof (tlog.Prover), it reads a whole block of the tree at a time
// (its leaves, hashing the nodes above them in memory) and keeps the nodes
// above the block, which neighbouring proofs share: within a complete
// block every leaf's audit path ends the same way, so only its first
// proof is assembled from nodes. A dense export then costs about two reads
// per 2^blockLevel events; a sparse one at most two per event. It is not safe for concurrent
// use.
type blockProver struct {
	tree hostfns.TreeReader
	size uint64

	block  uint64   // index of the loaded block at blockLevel
	loaded bool     // whether block is loaded
	low    [][]byte // nodes of the loaded block: low[lowIndex(id)], nil beyond size
	// upper is the part of the audit path above a complete loaded block,
	// the same for each of its leaves; nil until the first proof in it.
	upper [][]byte
	high  map[merkle.NodeID][]byte
}

// NewProver returns an export.Prover of the tree of size events, for one
// export: it answers what tlog's Prover answers, reading a block of the
// tree at a time (see blockProver). Not safe for concurrent use.
func NewProver(tree hostfns.TreeReader, size uint64) export.Prover {
	return newBlockProver(tree, size)
}

func newBlockProver(tree hostfns.TreeReader, size uint64) *blockProver {
	return &blockProver{tree: tree, size: size, high: make(map[merkle.NodeID][]byte)}
}

// lowIndex places a node of the loaded block in low: level by level, from
// the leaves up.
func lowIndex(id merkle.NodeID) int {
	// Level l holds 2^(blockLevel-l) nodes; levels below it take
	// 2^(blockLevel+1) - 2^(blockLevel+1-l) slots.
	off := (1 << (blockLevel + 1)) - (1 << (blockLevel + 1 - id.Level))
	return off + int(id.Index&(1<<(blockLevel-id.Level)-1))
}

// inBlock reports whether id lies in block b (at or below blockLevel).
func inBlock(id merkle.NodeID, b uint64) bool {
	return id.Level <= blockLevel && id.Index>>(blockLevel-id.Level) == b
}

// load reads the leaf hashes of block b in one range read and computes
// the block's complete nodes above them (the nodes a store keeps, hashed
// as RFC 6962 does): cheaper than reading those nodes one by one. A tree
// node computed wrongly would make proofs that fail against the
// checkpoint, never proofs that pass for another log.
func (p *blockProver) load(ctx context.Context, b uint64) error {
	from := b << blockLevel
	to := min(from+1<<blockLevel, p.size)
	leaves, err := p.tree.LeafHashes(ctx, int64(from), int64(to))
	if err != nil {
		return err
	}
	if len(leaves) != int(to-from) {
		return auditerr.Errorf(auditerr.ErrStoreUnavailable, "the store returned %d leaves for %d", len(leaves), to-from)
	}
	if p.low == nil {
		p.low = make([][]byte, 1<<(blockLevel+1))
	}
	clear(p.low)
	copy(p.low, leaves)
	n := len(leaves)
	for l := uint(1); l <= blockLevel; l++ {
		below := lowIndex(merkle.NodeID{Level: l - 1, Index: 0})
		at := lowIndex(merkle.NodeID{Level: l, Index: 0})
		n /= 2 // complete nodes at this level
		for i := 0; i < n; i++ {
			p.low[at+i] = rfc6962.DefaultHasher.HashChildren(p.low[below+2*i], p.low[below+2*i+1])
		}
	}
	p.block, p.loaded, p.upper = b, true, nil
	return nil
}

// Inclusion returns the proof of seq in the tree of p's size.
func (p *blockProver) Inclusion(ctx context.Context, seq, size uint64) (merkle.InclusionProof, error) {
	if size != p.size {
		return merkle.InclusionProof{}, auditerr.Errorf(auditerr.ErrInvalidParameter, "this prover serves size %d, not %d", p.size, size)
	}
	if seq >= size {
		return merkle.InclusionProof{}, auditerr.Errorf(auditerr.ErrNotFound, "seq %d is not in the tree of size %d", seq, size)
	}
	b := seq >> blockLevel
	if !p.loaded || b != p.block {
		if err := p.load(ctx, b); err != nil {
			return merkle.InclusionProof{}, fmt.Errorf("exportapi: tree block %d: %w", b, err)
		}
	}
	leaf := p.low[lowIndex(merkle.NodeID{Level: 0, Index: seq})]
	if len(leaf) != merkle.HashSize {
		return merkle.InclusionProof{}, auditerr.Errorf(auditerr.ErrStoreUnavailable, "the store has no leaf hash for seq %d", seq)
	}
	complete := (b+1)<<blockLevel <= size
	if complete && p.upper != nil {
		// Inside a complete block the path climbs through the block's
		// own nodes, then joins the path every leaf of the block shares.
		hashes := make([][]byte, 0, blockLevel+len(p.upper))
		for l := uint(0); l < blockLevel; l++ {
			sib := merkle.NodeID{Level: l, Index: (seq >> l) ^ 1}
			hashes = append(hashes, p.low[lowIndex(sib)])
		}
		hashes = append(hashes, p.upper...)
		return merkle.InclusionProof{Seq: seq, TreeSize: size, LeafHash: [merkle.HashSize]byte(leaf), Hashes: hashes}, nil
	}
	nodes, err := merkle.InclusionNodes(seq, size)
	if err != nil {
		return merkle.InclusionProof{}, err
	}
	fetched := make([][]byte, len(nodes.IDs))
	var missing []int
	for i, id := range nodes.IDs {
		if inBlock(id, p.block) {
			fetched[i] = p.low[lowIndex(id)]
		} else if h, ok := p.high[id]; ok {
			fetched[i] = h
		} else {
			missing = append(missing, i)
		}
	}
	if len(missing) > 0 {
		ids := make([]merkle.NodeID, len(missing))
		for j, i := range missing {
			ids[j] = nodes.IDs[i]
		}
		hashes, err := p.tree.ReadNodes(ctx, ids)
		if err != nil {
			return merkle.InclusionProof{}, fmt.Errorf("exportapi: inclusion proof for seq %d: %w", seq, err)
		}
		if len(hashes) != len(ids) {
			return merkle.InclusionProof{}, auditerr.Errorf(auditerr.ErrStoreUnavailable, "the store returned %d nodes for %d", len(hashes), len(ids))
		}
		if len(p.high)+len(ids) > highNodes {
			clear(p.high)
		}
		for j, i := range missing {
			fetched[i] = hashes[j]
			p.high[ids[j]] = hashes[j]
		}
	}
	hashes, err := merkle.Rehash(nodes, fetched)
	if err != nil {
		return merkle.InclusionProof{}, fmt.Errorf("exportapi: inclusion proof for seq %d: %w", seq, err)
	}
	if complete && len(hashes) >= blockLevel {
		p.upper = hashes[blockLevel:len(hashes):len(hashes)]
	}
	return merkle.InclusionProof{Seq: seq, TreeSize: size, LeafHash: [merkle.HashSize]byte(leaf), Hashes: hashes}, nil
}
