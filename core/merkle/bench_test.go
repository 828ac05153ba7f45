package merkle

import (
	"sync"
	"testing"
)

const benchLeaves = 1_000_000

var bench1M = sync.OnceValues(func() ([][HashSize]byte, *nodeStore) {
	leaves := testLeaves(42, benchLeaves)
	_, s := buildTree(leaves)
	return leaves, s
})

// BenchmarkTreeAppend measures the streaming builder: ns/op is per leaf.
func BenchmarkTreeAppend(b *testing.B) {
	leaves := testLeaves(1, 1<<16)
	var t Tree
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		t.Append(leaves[i&(1<<16-1)])
	}
	_ = t.Root()
}

// BenchmarkTreeAppendVisit is BenchmarkTreeAppend with every tree node
// reported, as a host that stores tree_nodes does.
func BenchmarkTreeAppendVisit(b *testing.B) {
	leaves := testLeaves(1, 1<<16)
	var t Tree
	var sink [HashSize]byte
	visit := func(_ NodeID, h [HashSize]byte) { sink = h }
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		t.AppendVisit(leaves[i&(1<<16-1)], visit)
	}
	_ = sink
}

// BenchmarkInclusion1M builds and verifies inclusion proofs in a tree of
// 1,000,000 leaves from an in-memory node map (what a host does per proof
// request, minus the SQL).
func BenchmarkInclusion1M(b *testing.B) {
	leaves, s := bench1M()
	const size = benchLeaves
	var tr Tree
	for _, l := range leaves {
		tr.Append(l)
	}
	root := tr.Root()
	b.ReportAllocs()
	for i := uint64(0); b.Loop(); i++ {
		index := (i * 7919) % size
		p, err := ProveInclusion(index, size, s.read)
		if err != nil {
			b.Fatal(err)
		}
		if err := VerifyInclusion(leaves[index], index, size, p, root); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkConsistency1M builds and verifies consistency proofs from a
// smaller size to 1,000,000 leaves.
func BenchmarkConsistency1M(b *testing.B) {
	leaves, s := bench1M()
	const size = benchLeaves
	roots := map[uint64][HashSize]byte{}
	var tr Tree
	for i, l := range leaves {
		tr.Append(l)
		if (i+1)%9973 == 0 || i+1 == size {
			roots[uint64(i+1)] = tr.Root()
		}
	}
	b.ReportAllocs()
	for i := uint64(1); b.Loop(); i++ {
		size1 := (i%100 + 1) * 9973
		p, err := ProveConsistency(size1, size, s.read)
		if err != nil {
			b.Fatal(err)
		}
		if err := VerifyConsistency(size1, size, p, roots[size1], roots[size]); err != nil {
			b.Fatal(err)
		}
	}
}
