package merkle

import (
	"fmt"
	"math/bits"

	"github.com/transparency-dev/merkle/proof"

	"github.com/stigaudit/stigaudit/core/auditerr"
)

// Nodes says which stored tree nodes a proof is built from, and how to turn
// their hashes into the proof (see Rehash). It is proof.Nodes of
// transparency-dev/merkle; its IDs field lists the nodes to fetch.
type Nodes = proof.Nodes

// NodeReader fetches the stored hashes of the given tree nodes, in the order
// of ids. It is how a host lends its storage to ProveInclusion and
// ProveConsistency (for SQL, one query on tree_nodes(level, idx)).
type NodeReader func(ids []NodeID) ([][]byte, error)

// InclusionNodes returns the tree nodes an inclusion proof for leaf index in
// the tree of the given size is built from. It requires index < size; other
// values are refused with an error wrapping auditerr.ErrInvalidParameter.
func InclusionNodes(index, size uint64) (Nodes, error) {
	if index >= size {
		return Nodes{}, auditerr.Errorf(auditerr.ErrInvalidParameter, "seq %d is not in a tree of size %d", index, size)
	}
	n, err := proof.Inclusion(index, size)
	if err != nil {
		return Nodes{}, auditerr.Errorf(auditerr.ErrInvalidParameter, "inclusion proof for seq %d in tree of size %d: %v", index, size, err)
	}
	return n, nil
}

// ConsistencyNodes returns the tree nodes a consistency proof from the tree
// of size1 to the tree of size2 is built from. It requires size1 <= size2;
// other values are refused with an error wrapping
// auditerr.ErrInvalidParameter. The proof is empty when size1 is 0 or equal
// to size2.
func ConsistencyNodes(size1, size2 uint64) (Nodes, error) {
	if size1 > size2 {
		return Nodes{}, auditerr.Errorf(auditerr.ErrInvalidParameter, "consistency from size %d to the smaller size %d", size1, size2)
	}
	n, err := proof.Consistency(size1, size2)
	if err != nil {
		return Nodes{}, auditerr.Errorf(auditerr.ErrInvalidParameter, "consistency proof from %d to %d: %v", size1, size2, err)
	}
	return n, nil
}

// Rehash turns the fetched hashes of n.IDs (same order, same length) into
// the RFC 6962 proof: an ephemeral node on the right edge of the tree, which
// no host stores, is recomputed from the fetched nodes under it. fetched is
// not modified. Errors wrap auditerr.ErrInvalidInput.
func Rehash(n Nodes, fetched [][]byte) ([][]byte, error) {
	if len(fetched) != len(n.IDs) {
		return nil, auditerr.Errorf(auditerr.ErrInvalidInput, "proof needs %d tree nodes, got %d", len(n.IDs), len(fetched))
	}
	for i, h := range fetched {
		if len(h) != HashSize {
			id := n.IDs[i]
			if h == nil {
				return nil, auditerr.Errorf(auditerr.ErrInvalidInput, "tree node (level %d, index %d) is missing", id.Level, id.Index)
			}
			return nil, auditerr.Errorf(auditerr.ErrInvalidInput, "tree node (level %d, index %d) has %d bytes, want %d", id.Level, id.Index, len(h), HashSize)
		}
	}
	p, err := n.Rehash(append([][]byte(nil), fetched...), HashChildren)
	if err != nil {
		return nil, auditerr.Errorf(auditerr.ErrInvalidInput, "build proof: %v", err)
	}
	return p, nil
}

// Inclusion turns the hashes of the nodes named by InclusionNodes(index,
// size), fetched in that order, into the inclusion proof (the audit path,
// leaf to root).
func Inclusion(index, size uint64, fetched [][]byte) ([][]byte, error) {
	n, err := InclusionNodes(index, size)
	if err != nil {
		return nil, err
	}
	return Rehash(n, fetched)
}

// Consistency turns the hashes of the nodes named by ConsistencyNodes(size1,
// size2), fetched in that order, into the consistency proof.
func Consistency(size1, size2 uint64, fetched [][]byte) ([][]byte, error) {
	n, err := ConsistencyNodes(size1, size2)
	if err != nil {
		return nil, err
	}
	return Rehash(n, fetched)
}

// ProveInclusion builds the inclusion proof for leaf index in the tree of the
// given size, fetching the nodes it needs with one call to read. Errors of
// read are returned wrapped, keeping their codes.
func ProveInclusion(index, size uint64, read NodeReader) ([][]byte, error) {
	n, err := InclusionNodes(index, size)
	if err != nil {
		return nil, err
	}
	return prove(n, read)
}

// ProveConsistency builds the consistency proof from the tree of size1 to the
// tree of size2, fetching the nodes it needs with at most one call to read.
func ProveConsistency(size1, size2 uint64, read NodeReader) ([][]byte, error) {
	n, err := ConsistencyNodes(size1, size2)
	if err != nil {
		return nil, err
	}
	return prove(n, read)
}

func prove(n Nodes, read NodeReader) ([][]byte, error) {
	if len(n.IDs) == 0 {
		return [][]byte{}, nil
	}
	fetched, err := read(n.IDs)
	if err != nil {
		return nil, fmt.Errorf("read %d tree nodes: %w", len(n.IDs), err)
	}
	return Rehash(n, fetched)
}

func checkProofHashes(p [][]byte) error {
	for i, h := range p {
		if len(h) != HashSize {
			return auditerr.Errorf(auditerr.ErrInvalidProof, "proof hash %d has %d bytes, want %d", i, len(h), HashSize)
		}
	}
	return nil
}

// The verifiers below are RFC 9162 §2.1.3.2 and §2.1.4.2 in the
// formulation of transparency-dev/merkle's proof package, on [32]byte
// values: this package's own code, so that the WebAssembly module links
// neither that package's fmt-built errors nor fmt. TestVerifiersMatchLibrary
// holds them to the library, the reference tests to RFC 6962.

// decompose splits the inclusion proof of leaf index in a tree of size
// into its inner part (the levels below the point where the paths to
// index and to size-1 part) and its border part (the right border above).
func decompose(index, size uint64) (inner, border int) {
	inner = bits.Len64(index ^ (size - 1))
	border = bits.OnesCount64(index >> uint(inner))
	return inner, border
}

func toHash(b []byte) [HashSize]byte { return [HashSize]byte(b) }

// chainInner hashes seed up the inner proof, on the side index says.
func chainInner(seed [HashSize]byte, p [][]byte, index uint64) [HashSize]byte {
	for i, h := range p {
		if index>>uint(i)&1 == 0 {
			seed = NodeHash(seed, toHash(h))
		} else {
			seed = NodeHash(toHash(h), seed)
		}
	}
	return seed
}

// chainInnerRight hashes seed up the inner proof, only with its left
// siblings.
func chainInnerRight(seed [HashSize]byte, p [][]byte, index uint64) [HashSize]byte {
	for i, h := range p {
		if index>>uint(i)&1 == 1 {
			seed = NodeHash(toHash(h), seed)
		}
	}
	return seed
}

// chainBorderRight hashes seed up the border, every sibling on the left.
func chainBorderRight(seed [HashSize]byte, p [][]byte) [HashSize]byte {
	for _, h := range p {
		seed = NodeHash(toHash(h), seed)
	}
	return seed
}

// RootFromInclusion returns the root that an inclusion proof for leaf at
// index in a tree of size leads to. It requires index < size and a proof of
// the length RFC 6962 prescribes for them; otherwise the error wraps
// auditerr.ErrInvalidProof.
func RootFromInclusion(leaf [HashSize]byte, index, size uint64, p [][]byte) ([HashSize]byte, error) {
	if index >= size {
		return [HashSize]byte{}, auditerr.Errorf(auditerr.ErrInvalidProof, "seq %d is not in a tree of size %d", index, size)
	}
	if err := checkProofHashes(p); err != nil {
		return [HashSize]byte{}, err
	}
	inner, border := decompose(index, size)
	if len(p) != inner+border {
		return [HashSize]byte{}, auditerr.Errorf(auditerr.ErrInvalidProof, "inclusion proof for seq %d in tree of size %d: wrong proof size %d, want %d", index, size, len(p), inner+border)
	}
	return chainBorderRight(chainInner(leaf, p[:inner], index), p[inner:]), nil
}

// VerifyInclusion checks that leaf is leaf index of the tree of the given
// size whose root is root, by the RFC 6962 audit path proof. A nil error
// means the proof verifies; every failure wraps auditerr.ErrInvalidProof.
func VerifyInclusion(leaf [HashSize]byte, index, size uint64, p [][]byte, root [HashSize]byte) error {
	got, err := RootFromInclusion(leaf, index, size, p)
	if err != nil {
		return err
	}
	if got != root {
		return auditerr.Errorf(auditerr.ErrInvalidProof, "inclusion proof for seq %d in tree of size %d leads to root %x, want %x", index, size, got, root)
	}
	return nil
}

// VerifyConsistency checks that the tree of size1 with root1 is a prefix of
// the tree of size2 with root2, by the RFC 6962 consistency proof. For
// size1 == 0 the proof must be empty and root1 must be EmptyRoot; for
// size1 == size2 the proof must be empty and the roots equal. A nil error
// means the proof verifies; every failure wraps auditerr.ErrInvalidProof.
func VerifyConsistency(size1, size2 uint64, p [][]byte, root1, root2 [HashSize]byte) error {
	if size1 > size2 {
		return auditerr.Errorf(auditerr.ErrInvalidProof, "consistency from size %d to the smaller size %d", size1, size2)
	}
	if size1 == 0 && root1 != emptyRoot {
		return auditerr.Errorf(auditerr.ErrInvalidProof, "root %x of size 0 is not the empty root", root1)
	}
	if err := checkProofHashes(p); err != nil {
		return err
	}
	bad := func(what string, args ...any) error {
		return auditerr.Errorf(auditerr.ErrInvalidProof, "consistency proof from %d to %d: "+what, append([]any{size1, size2}, args...)...)
	}
	switch {
	case size1 == size2:
		if len(p) > 0 {
			return bad("size1=size2, but proof is not empty")
		}
		if root1 != root2 {
			return mismatch(size1, size2, "second", root1, root2)
		}
		return nil
	case size1 == 0:
		if len(p) > 0 {
			return bad("expected empty proof, but got %d components", len(p))
		}
		return nil
	case len(p) == 0:
		return bad("empty proof")
	}
	inner, border := decompose(size1-1, size2)
	shift := bits.TrailingZeros64(size1)
	inner -= shift // shift < inner when size1 < size2
	// The proof starts with the root of the subtree of size 2^shift,
	// unless size1 is that very 2^shift.
	seed, start := toHash(p[0]), 1
	if size1 == 1<<uint(shift) {
		seed, start = root1, 0
	}
	if len(p) != start+inner+border {
		return bad("wrong proof size %d, want %d", len(p), start+inner+border)
	}
	p = p[start:]
	mask := (size1 - 1) >> uint(shift)
	if got := chainBorderRight(chainInnerRight(seed, p[:inner], mask), p[inner:]); got != root1 {
		return mismatch(size1, size2, "first", got, root1)
	}
	if got := chainBorderRight(chainInner(seed, p[:inner], mask), p[inner:]); got != root2 {
		return mismatch(size1, size2, "second", got, root2)
	}
	return nil
}

func mismatch(size1, size2 uint64, which string, got, want [HashSize]byte) error {
	return auditerr.Errorf(auditerr.ErrInvalidProof, "consistency proof from %d to %d leads to %s root %x, want %x", size1, size2, which, got, want)
}
