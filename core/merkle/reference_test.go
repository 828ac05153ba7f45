package merkle

import (
	"crypto/sha256"
	"encoding/binary"
	"math/bits"
)

// The functions in this file implement RFC 6962 §2.1 word for word, with
// recursion over leaf slices. They are slow and obviously correct, and the
// tests hold the package against them.

// refRoot is MTH(D[n]) for leaf hashes D.
func refRoot(leaves [][HashSize]byte) [HashSize]byte {
	switch len(leaves) {
	case 0:
		return sha256.Sum256(nil)
	case 1:
		return leaves[0]
	}
	k := split(len(leaves))
	return refNode(refRoot(leaves[:k]), refRoot(leaves[k:]))
}

func refNode(l, r [HashSize]byte) [HashSize]byte {
	b := append(append([]byte{1}, l[:]...), r[:]...)
	return sha256.Sum256(b)
}

// split is the largest power of two smaller than n (n >= 2).
func split(n int) int {
	return 1 << (bits.Len(uint(n-1)) - 1)
}

// refPath is PATH(m, D[n]).
func refPath(m int, leaves [][HashSize]byte) [][]byte {
	n := len(leaves)
	if n <= 1 {
		return [][]byte{}
	}
	k := split(n)
	if m < k {
		r := refRoot(leaves[k:])
		return append(refPath(m, leaves[:k]), r[:])
	}
	l := refRoot(leaves[:k])
	return append(refPath(m-k, leaves[k:]), l[:])
}

// refProof is PROOF(m, D[n]).
func refProof(m int, leaves [][HashSize]byte) [][]byte {
	if m == 0 || m == len(leaves) {
		return [][]byte{}
	}
	return refSubproof(m, leaves, true)
}

// refSubproof is SUBPROOF(m, D[n], b).
func refSubproof(m int, leaves [][HashSize]byte, b bool) [][]byte {
	n := len(leaves)
	if m == n {
		if b {
			return [][]byte{}
		}
		r := refRoot(leaves)
		return [][]byte{r[:]}
	}
	k := split(n)
	if m <= k {
		r := refRoot(leaves[k:])
		return append(refSubproof(m, leaves[:k], b), r[:])
	}
	l := refRoot(leaves[:k])
	return append(refSubproof(m-k, leaves[k:], false), l[:])
}

// testLeaves returns n deterministic leaf hashes derived from seed.
func testLeaves(seed uint64, n int) [][HashSize]byte {
	out := make([][HashSize]byte, n)
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], seed)
	for i := range out {
		binary.BigEndian.PutUint64(b[8:], uint64(i))
		out[i] = LeafHash(b[:])
	}
	return out
}

// nodeStore keeps every tree node reported by Tree.AppendVisit, per level:
// the node map a host would keep in tree_nodes.
type nodeStore struct {
	levels [][][HashSize]byte
}

func (s *nodeStore) put(id NodeID, h [HashSize]byte) {
	for uint(len(s.levels)) <= id.Level {
		s.levels = append(s.levels, nil)
	}
	if uint64(len(s.levels[id.Level])) != id.Index {
		panic("tree nodes reported out of order")
	}
	s.levels[id.Level] = append(s.levels[id.Level], h)
}

func (s *nodeStore) read(ids []NodeID) ([][]byte, error) {
	out := make([][]byte, len(ids))
	for i, id := range ids {
		if id.Level < uint(len(s.levels)) && id.Index < uint64(len(s.levels[id.Level])) {
			h := s.levels[id.Level][id.Index]
			out[i] = h[:]
		}
	}
	return out, nil
}

// buildTree appends leaves to a new Tree and returns it with its nodes.
func buildTree(leaves [][HashSize]byte) (*Tree, *nodeStore) {
	var t Tree
	s := &nodeStore{}
	for _, l := range leaves {
		t.AppendVisit(l, s.put)
	}
	return &t, s
}
