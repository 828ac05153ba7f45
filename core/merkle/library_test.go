package merkle

import (
	"testing"

	"github.com/transparency-dev/merkle/compact"
	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"
)

// TestTreeMatchesCompactRange: Tree reports the same nodes, in the same
// order, and has the same root and range hashes as transparency-dev's
// compact.Range after every append; ResumeTree continues alike.
func TestTreeMatchesCompactRange(t *testing.T) {
	leaves := testLeaves(7, 300)
	f := compact.RangeFactory{Hash: rfc6962.DefaultHasher.HashChildren}
	r := f.NewEmptyRange(0)
	var tr Tree
	type visited struct {
		id   NodeID
		hash [HashSize]byte
	}
	for i, leaf := range leaves {
		var want, got []visited
		if err := r.Append(leaf[:], func(id compact.NodeID, h []byte) { want = append(want, visited{id, toArray(h)}) }); err != nil {
			t.Fatal(err)
		}
		tr.AppendVisit(leaf, func(id NodeID, h [HashSize]byte) { got = append(got, visited{id, h}) })
		if len(got) != len(want) {
			t.Fatalf("leaf %d: visited %v, compact.Range %v", i, got, want)
		}
		for j := range got {
			if got[j] != want[j] {
				t.Fatalf("leaf %d: visited %v, compact.Range %v", i, got, want)
			}
		}
		root, err := r.GetRootHash(nil)
		if err != nil {
			t.Fatal(err)
		}
		if tr.Root() != toArray(root) || tr.Size() != r.End() {
			t.Fatalf("size %d: root %x, compact.Range %x", i+1, tr.Root(), root)
		}
		hs := tr.Hashes()
		if len(hs) != len(r.Hashes()) {
			t.Fatalf("size %d: %d range hashes, compact.Range %d", i+1, len(hs), len(r.Hashes()))
		}
		for j, h := range r.Hashes() {
			if hs[j] != toArray(h) {
				t.Fatalf("size %d: range hash %d differs", i+1, j)
			}
		}
		if i%37 == 0 {
			var raw [][]byte
			for _, h := range hs {
				raw = append(raw, append([]byte(nil), h[:]...))
			}
			back, err := ResumeTree(tr.Size(), raw)
			if err != nil {
				t.Fatal(err)
			}
			back.Append(leaves[0])
			again := tr
			again.hashes = append([][HashSize]byte(nil), tr.hashes...)
			again.Append(leaves[0])
			if back.Root() != again.Root() {
				t.Fatalf("size %d: resumed tree appends to another root", i+1)
			}
		}
	}
}

// TestVerifiersMatchLibrary: for every proof of trees up to 40 leaves and
// every way of spoiling one (a flipped bit, a hash too many or too few,
// another index, size or root), VerifyInclusion and VerifyConsistency
// accept exactly what transparency-dev's proof package accepts.
func TestVerifiersMatchLibrary(t *testing.T) {
	const n = 40
	leaves := testLeaves(11, n)
	_, s := buildTree(leaves)
	roots := make([][HashSize]byte, n+1)
	for i := range roots {
		roots[i] = refRoot(leaves[:i])
	}
	h := rfc6962.DefaultHasher
	spoil := func(p [][]byte) map[string][][]byte {
		out := map[string][][]byte{"as is": p, "extended": append(cloneProof(p), leaves[0][:])}
		if len(p) > 0 {
			out["truncated"] = cloneProof(p)[:len(p)-1]
			f := cloneProof(p)
			f[len(p)/2][3] ^= 4
			out["flipped"] = f
		}
		return out
	}
	for size := uint64(1); size <= n; size++ {
		for index := uint64(0); index < size; index++ {
			p, err := ProveInclusion(index, size, s.read)
			if err != nil {
				t.Fatal(err)
			}
			for name, q := range spoil(p) {
				for _, c := range []struct{ index, size uint64 }{{index, size}, {(index + 1) % size, size}, {index, size + 1}} {
					if c.size > n {
						continue
					}
					ours := VerifyInclusion(leaves[index], c.index, c.size, q, roots[c.size])
					lib := proof.VerifyInclusion(h, c.index, c.size, leaves[index][:], q, roots[c.size][:])
					if (ours == nil) != (lib == nil) {
						t.Fatalf("inclusion %d/%d %s as %d/%d: ours %v, library %v", index, size, name, c.index, c.size, ours, lib)
					}
				}
			}
		}
		for size1 := uint64(0); size1 <= size; size1++ {
			p, err := ProveConsistency(size1, size, s.read)
			if err != nil {
				t.Fatal(err)
			}
			for name, q := range spoil(p) {
				for _, c := range []struct{ size1, size2 uint64 }{{size1, size}, {size1 + 1, size}, {size1, size - 1}} {
					if c.size1 > c.size2 {
						continue
					}
					for _, r := range [][2][HashSize]byte{{roots[c.size1], roots[c.size2]}, {roots[c.size1], roots[size1]}, {roots[c.size2], roots[c.size2]}} {
						if c.size1 == 0 && r[0] != roots[0] {
							continue // refused before the library's rules apply
						}
						ours := VerifyConsistency(c.size1, c.size2, q, r[0], r[1])
						lib := proof.VerifyConsistency(h, c.size1, c.size2, q, r[0][:], r[1][:])
						if (ours == nil) != (lib == nil) {
							t.Fatalf("consistency %d→%d %s as %d→%d: ours %v, library %v", size1, size, name, c.size1, c.size2, ours, lib)
						}
					}
				}
			}
		}
	}
}
