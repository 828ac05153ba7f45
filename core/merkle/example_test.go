package merkle_test

import (
	"fmt"

	"github.com/stigaudit/stigaudit/core/merkle"
)

// A host appends leaves, stores every tree node it is told about, and later
// serves an inclusion proof from those nodes.
func Example() {
	stored := map[merkle.NodeID][merkle.HashSize]byte{} // tree_nodes(level, idx, hash)
	var tree merkle.Tree
	for i := 0; i < 5; i++ {
		leaf := merkle.LeafHash([]byte(fmt.Sprintf("event %d", i)))
		tree.AppendVisit(leaf, func(id merkle.NodeID, h [merkle.HashSize]byte) { stored[id] = h })
	}
	root := tree.Root()

	// GET /v1/audit/proof/inclusion?seq=2&size=5
	read := func(ids []merkle.NodeID) ([][]byte, error) { // one SELECT ... WHERE (level, idx) IN (...)
		out := make([][]byte, len(ids))
		for i, id := range ids {
			h := stored[id]
			out[i] = h[:]
		}
		return out, nil
	}
	hashes, err := merkle.ProveInclusion(2, 5, read)
	if err != nil {
		panic(err)
	}
	p := merkle.InclusionProof{Seq: 2, TreeSize: 5, LeafHash: stored[merkle.NodeID{Level: 0, Index: 2}], Hashes: hashes}
	fmt.Println(len(p.Hashes), "hashes")

	// The client checks it against the root of a checkpoint of size 5.
	fmt.Println(p.Verify(root))
	// Output:
	// 3 hashes
	// <nil>
}
