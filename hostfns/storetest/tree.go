package storetest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"math/bits"
	"testing"

	"github.com/transparency-dev/merkle/compact"
	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"

	"github.com/stigaudit/stigaudit/hostfns"
)

// Root computes the RFC 6962 Merkle tree hash of the leaf hashes by the
// naive recursive definition (RFC 6962 §2.1), as an independent reference.
func Root(leaves [][]byte) []byte {
	switch len(leaves) {
	case 0:
		h := sha256.Sum256(nil)
		return h[:]
	case 1:
		return leaves[0]
	}
	k := 1 << (bits.Len(uint(len(leaves)-1)) - 1) // largest power of two < n
	return rfc6962.DefaultHasher.HashChildren(Root(leaves[:k]), Root(leaves[k:]))
}

// CheckTree verifies the Merkle tree a store serves, if it is a
// hostfns.TreeReader (otherwise it does nothing): the root folded from the
// stored compact range of the whole log equals Root of its leaf hashes, and
// inclusion proofs built from stored nodes for a sample of leaves, and a
// consistency proof from a sample of earlier sizes, verify against it. It
// returns the root (nil for other stores).
func CheckTree(t testing.TB, s hostfns.Store) []byte {
	t.Helper()
	tr, ok := s.(hostfns.TreeReader)
	if !ok {
		return nil
	}
	ctx := context.Background()
	size, err := s.Size(ctx)
	if err != nil {
		t.Fatalf("Size: %v", err)
	}
	leaves, err := tr.LeafHashes(ctx, 0, size)
	if err != nil {
		t.Fatalf("LeafHashes(0, %d): %v", size, err)
	}
	want := Root(leaves)
	if size == 0 {
		return want
	}
	usize := uint64(size)
	rf := &compact.RangeFactory{Hash: rfc6962.DefaultHasher.HashChildren}
	ids := compact.RangeNodes(0, usize, nil)
	hashes, err := tr.ReadNodes(ctx, ids)
	if err != nil {
		t.Fatalf("ReadNodes(compact range of %d): %v", size, err)
	}
	cr, err := rf.NewRange(0, usize, hashes)
	if err != nil {
		t.Fatalf("NewRange: %v", err)
	}
	got, err := cr.GetRootHash(nil)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("root from stored tree nodes %x, want %x (recomputed from %d leaves)", got, want, size)
	}
	for _, idx := range sample(usize) {
		nodes, err := proof.Inclusion(idx, usize)
		if err != nil {
			t.Fatal(err)
		}
		hs, err := tr.ReadNodes(ctx, nodes.IDs)
		if err != nil {
			t.Fatalf("ReadNodes(inclusion %d/%d): %v", idx, size, err)
		}
		p, err := nodes.Rehash(hs, rfc6962.DefaultHasher.HashChildren)
		if err != nil {
			t.Fatal(err)
		}
		if err := proof.VerifyInclusion(rfc6962.DefaultHasher, idx, usize, leaves[idx], p, want); err != nil {
			t.Fatalf("inclusion proof of %d in %d from stored nodes: %v", idx, size, err)
		}
	}
	for _, old := range sample(usize) {
		old++ // sizes 1..size
		nodes, err := proof.Consistency(old, usize)
		if err != nil {
			t.Fatal(err)
		}
		hs, err := tr.ReadNodes(ctx, nodes.IDs)
		if err != nil {
			t.Fatalf("ReadNodes(consistency %d→%d): %v", old, size, err)
		}
		p, err := nodes.Rehash(hs, rfc6962.DefaultHasher.HashChildren)
		if err != nil {
			t.Fatal(err)
		}
		if err := proof.VerifyConsistency(rfc6962.DefaultHasher, old, usize, p, Root(leaves[:old]), want); err != nil {
			t.Fatalf("consistency proof %d→%d from stored nodes: %v", old, size, err)
		}
	}
	return want
}

// sample returns up to ~20 indices in [0, n), including both ends.
func sample(n uint64) []uint64 {
	step := n/17 + 1
	var out []uint64
	for i := uint64(0); i < n; i += step {
		out = append(out, i)
	}
	return append(out, n-1)
}
