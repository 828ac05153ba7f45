package merkle

import (
	"github.com/stigaudit/stigaudit/core/auditerr"
	"github.com/transparency-dev/merkle/compact"
)

// Tree is a streaming Merkle tree builder: it takes leaf hashes in order and
// knows the root of the leaves so far. It keeps only the roots of the
// perfect subtrees that cover its leaves (a compact range, at most one per
// bit of the size), so memory stays O(log n) however many leaves are
// appended.
//
// The zero Tree is an empty tree ready to use. A Tree is not safe for
// concurrent use and must not be copied after first use.
type Tree struct {
	f     compact.RangeFactory
	r     *compact.Range
	visit func(id NodeID, hash [HashSize]byte)
	adapt compact.VisitFn
}

// ResumeTree returns a tree of size leaves from the hashes of the nodes
// named by RangeNodes(size), in that order: the way a host restores its tree
// from stored nodes after a restart. Errors wrap auditerr.ErrInvalidInput.
func ResumeTree(size uint64, hashes [][]byte) (*Tree, error) {
	t := &Tree{}
	t.init()
	for i, h := range hashes {
		if len(h) != HashSize {
			return nil, auditerr.Errorf(auditerr.ErrInvalidInput, "resume tree of size %d: hash %d has %d bytes, want %d", size, i, len(h), HashSize)
		}
	}
	r, err := t.f.NewRange(0, size, append([][]byte(nil), hashes...))
	if err != nil {
		return nil, auditerr.Errorf(auditerr.ErrInvalidInput, "resume tree of size %d: %v", size, err)
	}
	t.r = r
	return t, nil
}

// RangeNodes returns the IDs of the perfect subtrees that together cover the
// first size leaves, left to right: the nodes ResumeTree needs.
func RangeNodes(size uint64) []NodeID {
	return compact.RangeNodes(0, size, nil)
}

func (t *Tree) init() {
	if t.r != nil {
		return
	}
	t.f.Hash = HashChildren
	t.r = t.f.NewEmptyRange(0)
	t.adapt = func(id compact.NodeID, hash []byte) {
		t.visit(id, toArray(hash))
	}
}

// Size returns the number of leaves appended.
func (t *Tree) Size() uint64 {
	if t.r == nil {
		return 0
	}
	return t.r.End()
}

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
	t.init()
	h := make([]byte, HashSize)
	copy(h, leaf[:])
	var v compact.VisitFn
	if visit != nil {
		t.visit = visit
		v = t.adapt
	}
	// Append fails only on a corrupted range, which this type never builds.
	_ = t.r.Append(h, v)
	t.visit = nil
}

// Root returns the root hash of the leaves appended so far; for no leaves it
// is EmptyRoot. It costs one interior hash per set bit of Size.
func (t *Tree) Root() [HashSize]byte {
	if t.Size() == 0 {
		return emptyRoot
	}
	h, _ := t.r.GetRootHash(nil)
	return toArray(h)
}

// Hashes returns the roots of the perfect subtrees that cover the leaves,
// left to right, for the nodes named by RangeNodes(Size()). The slices are
// copies.
func (t *Tree) Hashes() [][HashSize]byte {
	if t.r == nil {
		return nil
	}
	hs := t.r.Hashes()
	out := make([][HashSize]byte, len(hs))
	for i, h := range hs {
		out[i] = toArray(h)
	}
	return out
}
