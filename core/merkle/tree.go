package merkle

import (
	"github.com/transparency-dev/merkle/compact"

	"github.com/stigaudit/stigaudit/core/auditerr"
)

// Tree is a streaming Merkle tree builder: it takes leaf hashes in order and
// knows the root of the leaves so far. It keeps only the roots of the
// perfect subtrees that cover its leaves (a compact range, at most one per
// bit of the size), so memory stays O(log n) however many leaves are
// appended. It computes what transparency-dev/merkle's compact.Range
// computes (TestTreeMatchesCompactRange) with this package's own code, so
// that the WebAssembly module does not link that package's fmt-built
// errors.
//
// The zero Tree is an empty tree ready to use. A Tree is not safe for
// concurrent use and must not be copied after first use.
type Tree struct {
	size uint64
	// hashes are the roots of the perfect subtrees covering the leaves,
	// left to right: one per set bit of size, largest first.
	hashes [][HashSize]byte
}

// ResumeTree returns a tree of size leaves from the hashes of the nodes
// named by RangeNodes(size), in that order: the way a host restores its tree
// from stored nodes after a restart. Errors wrap auditerr.ErrInvalidInput.
func ResumeTree(size uint64, hashes [][]byte) (*Tree, error) {
	for i, h := range hashes {
		if len(h) != HashSize {
			return nil, auditerr.Errorf(auditerr.ErrInvalidInput, "resume tree of size %d: hash %d has %d bytes, want %d", size, i, len(h), HashSize)
		}
	}
	if want := rangeSize(size); len(hashes) != want {
		return nil, auditerr.Errorf(auditerr.ErrInvalidInput, "resume tree of size %d: invalid hashes: got %d values, want %d", size, len(hashes), want)
	}
	t := &Tree{size: size, hashes: make([][HashSize]byte, len(hashes), len(hashes)+1)}
	for i, h := range hashes {
		t.hashes[i] = toArray(h)
	}
	return t, nil
}

// rangeSize is the number of perfect subtrees covering size leaves.
func rangeSize(size uint64) int {
	n := 0
	for ; size != 0; size &= size - 1 {
		n++
	}
	return n
}

// RangeNodes returns the IDs of the perfect subtrees that together cover the
// first size leaves, left to right: the nodes ResumeTree needs.
func RangeNodes(size uint64) []NodeID {
	return compact.RangeNodes(0, size, nil)
}

// Size returns the number of leaves appended.
func (t *Tree) Size() uint64 { return t.size }

// Append adds the next leaf hash.
func (t *Tree) Append(leaf [HashSize]byte) {
	t.AppendVisit(leaf, nil)
}

// AppendVisit adds the next leaf hash and calls visit, when it is not nil,
// for every perfect subtree the leaf completes, lowest level first: the leaf
// itself at level 0, then each new interior node. These are the tree nodes
// a host stores to serve proofs later; each is reported exactly once over
// the life of the tree.
func (t *Tree) AppendVisit(leaf [HashSize]byte, visit func(id NodeID, hash [HashSize]byte)) {
	if visit != nil {
		visit(compact.NewNodeID(0, t.size), leaf)
	}
	// Each trailing one bit of the old size is a perfect subtree the new
	// leaf's completes: merge it with the last one kept.
	seed, index := leaf, t.size
	for level := uint(1); index&1 == 1; level++ {
		last := len(t.hashes) - 1
		seed = NodeHash(t.hashes[last], seed)
		t.hashes = t.hashes[:last]
		index >>= 1
		if visit != nil {
			visit(compact.NewNodeID(level, index), seed)
		}
	}
	t.hashes = append(t.hashes, seed)
	t.size++
}

// Root returns the root hash of the leaves appended so far; for no leaves it
// is EmptyRoot. It costs one interior hash per set bit of Size.
func (t *Tree) Root() [HashSize]byte {
	if t.size == 0 {
		return emptyRoot
	}
	h := t.hashes[len(t.hashes)-1]
	for i := len(t.hashes) - 2; i >= 0; i-- {
		h = NodeHash(t.hashes[i], h)
	}
	return h
}

// Hashes returns the roots of the perfect subtrees that cover the leaves,
// left to right, for the nodes named by RangeNodes(Size()). The slices are
// copies.
func (t *Tree) Hashes() [][HashSize]byte {
	if t.size == 0 {
		return nil
	}
	return append([][HashSize]byte(nil), t.hashes...)
}
