package merkle

import (
	"errors"
	"testing"

	"github.com/stigaudit/stigaudit/core/auditerr"
)

const fuzzMaxLeaves = 300

// FuzzVerifyInclusion builds a random tree, proves a random leaf from its
// stored nodes, and checks the proof against the naive RFC 6962 reference:
// it must equal PATH(m, D[n]), verify, and stop verifying when one bit of
// the proof or the leaf changes or the index is moved.
func FuzzVerifyInclusion(f *testing.F) {
	f.Add(uint64(0), uint16(8), uint16(5), uint16(3), uint16(1))
	f.Add(uint64(1), uint16(1), uint16(0), uint16(0), uint16(0))
	f.Add(uint64(2), uint16(21), uint16(20), uint16(100), uint16(7))
	f.Add(uint64(3), uint16(257), uint16(128), uint16(9), uint16(255))
	f.Fuzz(func(t *testing.T, seed uint64, size, index, flip, delta uint16) {
		n := int(size)%fuzzMaxLeaves + 1
		i := int(index) % n
		leaves := testLeaves(seed, n)
		_, s := buildTree(leaves)
		root := refRoot(leaves)
		p, err := ProveInclusion(uint64(i), uint64(n), s.read)
		if err != nil {
			t.Fatal(err)
		}
		if want := refPath(i, leaves); !equalProofs(p, want) {
			t.Fatalf("proof(%d, %d) = %x, reference %x", i, n, p, want)
		}
		if err := VerifyInclusion(leaves[i], uint64(i), uint64(n), p, root); err != nil {
			t.Fatalf("VerifyInclusion(%d, %d): %v", i, n, err)
		}
		// Flip one bit of the leaf or of a proof hash.
		bit := int(flip) % ((len(p) + 1) * HashSize * 8)
		leaf, bad := leaves[i], cloneProof(p)
		if k := bit / (HashSize * 8); k == len(p) {
			leaf[bit/8%HashSize] ^= 1 << (bit % 8)
		} else {
			bad[k][bit/8%HashSize] ^= 1 << (bit % 8)
		}
		if err := VerifyInclusion(leaf, uint64(i), uint64(n), bad, root); !errors.Is(err, auditerr.ErrInvalidProof) {
			t.Fatalf("bit %d flipped: err = %v, want invalid_proof", bit, err)
		}
		if j := (i + int(delta)%n) % n; j != i {
			if err := VerifyInclusion(leaves[i], uint64(j), uint64(n), p, root); !errors.Is(err, auditerr.ErrInvalidProof) {
				t.Fatalf("proof of %d verified as index %d: err = %v", i, j, err)
			}
		}
	})
}

// FuzzVerifyConsistency is FuzzVerifyInclusion for consistency proofs
// between two random sizes of a random tree.
func FuzzVerifyConsistency(f *testing.F) {
	f.Add(uint64(0), uint16(8), uint16(6), uint16(3))
	f.Add(uint64(1), uint16(1), uint16(1), uint16(0))
	f.Add(uint64(2), uint16(21), uint16(0), uint16(100))
	f.Add(uint64(3), uint16(257), uint16(128), uint16(9))
	f.Fuzz(func(t *testing.T, seed uint64, size2, size1, flip uint16) {
		n2 := int(size2) % (fuzzMaxLeaves + 1)
		n1 := int(size1) % (n2 + 1)
		leaves := testLeaves(seed, n2)
		_, s := buildTree(leaves)
		root1, root2 := refRoot(leaves[:n1]), refRoot(leaves)
		p, err := ProveConsistency(uint64(n1), uint64(n2), s.read)
		if err != nil {
			t.Fatal(err)
		}
		if want := refProof(n1, leaves); !equalProofs(p, want) {
			t.Fatalf("proof(%d, %d) = %x, reference %x", n1, n2, p, want)
		}
		if err := VerifyConsistency(uint64(n1), uint64(n2), p, root1, root2); err != nil {
			t.Fatalf("VerifyConsistency(%d, %d): %v", n1, n2, err)
		}
		if n1 == n2 {
			if n1 > 0 {
				other := root1
				other[0] ^= 1
				if err := VerifyConsistency(uint64(n1), uint64(n2), p, root1, other); !errors.Is(err, auditerr.ErrInvalidProof) {
					t.Fatalf("equal sizes with different roots verified: %v", err)
				}
			}
			return
		}
		// Flip one bit of root1, root2 or a proof hash. (Every tree extends
		// the empty tree, so for size1 = 0 only root1 is bound.)
		choices := len(p) + 2
		if n1 == 0 {
			choices = 1
		}
		bit := int(flip) % (choices * HashSize * 8)
		r1, r2, bad := root1, root2, cloneProof(p)
		switch k := bit / (HashSize * 8); k {
		case len(p):
			r1[bit/8%HashSize] ^= 1 << (bit % 8)
		case len(p) + 1:
			r2[bit/8%HashSize] ^= 1 << (bit % 8)
		default:
			bad[k][bit/8%HashSize] ^= 1 << (bit % 8)
		}
		if err := VerifyConsistency(uint64(n1), uint64(n2), bad, r1, r2); !errors.Is(err, auditerr.ErrInvalidProof) {
			t.Fatalf("bit %d flipped: err = %v, want invalid_proof", bit, err)
		}
	})
}
