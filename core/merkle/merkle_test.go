package merkle

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"testing"

	"github.com/stigaudit/stigaudit/core/auditerr"
)

func TestTreeMatchesReference(t *testing.T) {
	leaves := testLeaves(1, 130)
	var tr Tree
	if got := tr.Root(); got != EmptyRoot() {
		t.Fatalf("empty tree root = %x, want %x", got, EmptyRoot())
	}
	for n := 1; n <= len(leaves); n++ {
		tr.Append(leaves[n-1])
		if tr.Size() != uint64(n) {
			t.Fatalf("Size() = %d, want %d", tr.Size(), n)
		}
		if got, want := tr.Root(), refRoot(leaves[:n]); got != want {
			t.Fatalf("root of %d leaves = %x, want %x", n, got, want)
		}
	}
}

func TestAppendVisitReportsEveryPerfectSubtree(t *testing.T) {
	leaves := testLeaves(2, 37)
	_, s := buildTree(leaves)
	for level := range s.levels {
		width := 1 << level
		if got, want := len(s.levels[level]), len(leaves)/width; got != want {
			t.Errorf("level %d: %d nodes reported, want %d", level, got, want)
		}
		for i, h := range s.levels[level] {
			if want := refRoot(leaves[i*width : (i+1)*width]); h != want {
				t.Errorf("node (%d, %d) = %x, want %x", level, i, h, want)
			}
		}
	}
}

func TestResumeTree(t *testing.T) {
	leaves := testLeaves(3, 50)
	for _, size := range []int{0, 1, 2, 7, 8, 21, 32, 49} {
		t.Run(fmt.Sprint(size), func(t *testing.T) {
			_, s := buildTree(leaves[:size])
			hs, _ := s.read(RangeNodes(uint64(size)))
			tr, err := ResumeTree(uint64(size), hs)
			if err != nil {
				t.Fatal(err)
			}
			if got, want := tr.Root(), refRoot(leaves[:size]); got != want {
				t.Fatalf("resumed root = %x, want %x", got, want)
			}
			for _, l := range leaves[size:] {
				tr.Append(l)
			}
			if got, want := tr.Root(), refRoot(leaves); got != want {
				t.Fatalf("root after appending to resumed tree = %x, want %x", got, want)
			}
		})
	}
}

func TestResumeTreeRefusesBadInput(t *testing.T) {
	h := make([]byte, HashSize)
	for _, tc := range []struct {
		name   string
		size   uint64
		hashes [][]byte
	}{
		{"too few hashes", 3, [][]byte{h}},
		{"too many hashes", 4, [][]byte{h, h}},
		{"short hash", 1, [][]byte{h[:31]}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ResumeTree(tc.size, tc.hashes)
			if !errors.Is(err, auditerr.ErrInvalidInput) {
				t.Fatalf("err = %v, want invalid_input", err)
			}
		})
	}
}

func TestProofsMatchReference(t *testing.T) {
	leaves := testLeaves(4, 70)
	tr, s := buildTree(leaves)
	_ = tr
	for size := 1; size <= len(leaves); size++ {
		root := refRoot(leaves[:size])
		for index := 0; index < size; index++ {
			p, err := ProveInclusion(uint64(index), uint64(size), s.read)
			if err != nil {
				t.Fatalf("ProveInclusion(%d, %d): %v", index, size, err)
			}
			if want := refPath(index, leaves[:size]); !equalProofs(p, want) {
				t.Fatalf("ProveInclusion(%d, %d) = %x, want %x", index, size, p, want)
			}
			if err := VerifyInclusion(leaves[index], uint64(index), uint64(size), p, root); err != nil {
				t.Fatalf("VerifyInclusion(%d, %d): %v", index, size, err)
			}
		}
		for size1 := 0; size1 <= size; size1++ {
			p, err := ProveConsistency(uint64(size1), uint64(size), s.read)
			if err != nil {
				t.Fatalf("ProveConsistency(%d, %d): %v", size1, size, err)
			}
			if want := refProof(size1, leaves[:size]); !equalProofs(p, want) {
				t.Fatalf("ProveConsistency(%d, %d) = %x, want %x", size1, size, p, want)
			}
			if err := VerifyConsistency(uint64(size1), uint64(size), p, refRoot(leaves[:size1]), root); err != nil {
				t.Fatalf("VerifyConsistency(%d, %d): %v", size1, size, err)
			}
		}
	}
}

func equalProofs(a, b [][]byte) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !bytes.Equal(a[i], b[i]) {
			return false
		}
	}
	return true
}

func TestProofBuildingRefusesBadInput(t *testing.T) {
	h := make([]byte, HashSize)
	for _, tc := range []struct {
		name string
		call func() error
		want *auditerr.Error
	}{
		{"inclusion index = size", func() error { _, err := InclusionNodes(5, 5); return err }, auditerr.ErrInvalidParameter},
		{"inclusion in empty tree", func() error { _, err := InclusionNodes(0, 0); return err }, auditerr.ErrInvalidParameter},
		{"consistency size1 > size2", func() error { _, err := ConsistencyNodes(6, 5); return err }, auditerr.ErrInvalidParameter},
		{"too few fetched", func() error { _, err := Inclusion(0, 4, [][]byte{h}); return err }, auditerr.ErrInvalidInput},
		{"missing node", func() error { _, err := Inclusion(0, 2, [][]byte{nil}); return err }, auditerr.ErrInvalidInput},
		{"short node", func() error { _, err := Consistency(1, 2, [][]byte{h[:5]}); return err }, auditerr.ErrInvalidInput},
		{"reader fails", func() error {
			_, err := ProveInclusion(0, 2, func([]NodeID) ([][]byte, error) { return nil, auditerr.ErrStoreUnavailable })
			return err
		}, auditerr.ErrStoreUnavailable},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.call(); !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %s", err, tc.want.Code)
			}
		})
	}
}

func TestRehashDoesNotModifyFetched(t *testing.T) {
	leaves := testLeaves(5, 7)
	_, s := buildTree(leaves)
	n, err := InclusionNodes(0, 7)
	if err != nil {
		t.Fatal(err)
	}
	fetched, _ := s.read(n.IDs)
	before := append([][]byte(nil), fetched...)
	if _, err := Rehash(n, fetched); err != nil {
		t.Fatal(err)
	}
	if !equalProofs(fetched, before) {
		t.Fatal("Rehash modified the fetched slice")
	}
}

func TestVerifyInclusionRejectsCorruption(t *testing.T) {
	leaves := testLeaves(6, 21)
	_, s := buildTree(leaves)
	const index, size = 12, 21
	root := refRoot(leaves[:size])
	good, err := ProveInclusion(index, size, s.read)
	if err != nil {
		t.Fatal(err)
	}
	flip := func(i int) [][]byte {
		p := cloneProof(good)
		p[i][7] ^= 0x10
		return p
	}
	other := refRoot(leaves[:3])
	for _, tc := range []struct {
		name        string
		leaf        [HashSize]byte
		index, size uint64
		proof       [][]byte
		root        [HashSize]byte
	}{
		{"wrong leaf", leaves[13], index, size, good, root},
		{"index - 1", leaves[index], index - 1, size, good, root},
		{"index + 1", leaves[index], index + 1, size, good, root},
		{"size * 2", leaves[index], index, size * 2, good, root},
		{"size / 2", leaves[index], index, size / 2, good, root},
		{"index = size", leaves[index], size, size, good, root},
		{"wrong root", leaves[index], index, size, good, other},
		{"empty root", leaves[index], index, size, good, EmptyRoot()},
		{"first hash flipped", leaves[index], index, size, flip(0), root},
		{"last hash flipped", leaves[index], index, size, flip(len(good) - 1), root},
		{"hash dropped", leaves[index], index, size, good[:len(good)-1], root},
		{"hash added", leaves[index], index, size, append(cloneProof(good), other[:]), root},
		{"root prepended", leaves[index], index, size, append([][]byte{root[:]}, good...), root},
		{"short hash", leaves[index], index, size, append(cloneProof(good[:len(good)-1]), good[len(good)-1][:31]), root},
		{"empty proof", leaves[index], index, size, nil, root},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := VerifyInclusion(tc.leaf, tc.index, tc.size, tc.proof, tc.root)
			if !errors.Is(err, auditerr.ErrInvalidProof) {
				t.Fatalf("err = %v, want invalid_proof", err)
			}
		})
	}
	if err := VerifyInclusion(leaves[index], index, size, good, root); err != nil {
		t.Fatalf("the uncorrupted proof fails: %v", err)
	}
}

func TestVerifyConsistencyRejectsCorruption(t *testing.T) {
	leaves := testLeaves(7, 21)
	_, s := buildTree(leaves)
	const size1, size2 = 6, 21
	root1, root2 := refRoot(leaves[:size1]), refRoot(leaves[:size2])
	good, err := ProveConsistency(size1, size2, s.read)
	if err != nil {
		t.Fatal(err)
	}
	flip := func(i int) [][]byte {
		p := cloneProof(good)
		p[i][0] ^= 1
		return p
	}
	for _, tc := range []struct {
		name         string
		size1, size2 uint64
		proof        [][]byte
		root1, root2 [HashSize]byte
	}{
		{"size1 - 1", size1 - 1, size2, good, root1, root2},
		{"size1 + 1", size1 + 1, size2, good, root1, root2},
		{"size2 * 2", size1, size2 * 2, good, root1, root2},
		// A proof does not bind size2 by itself (the proof for 6→21 has
		// the shape of one for 6→20); the signed root of size2 does.
		{"size2 - 1 with its root", size1, size2 - 1, good, root1, refRoot(leaves[:size2-1])},
		{"size1 > size2", size2, size1, good, root2, root1},
		{"swapped roots", size1, size2, good, root2, root1},
		{"wrong root1", size1, size2, good, root2, root2},
		{"wrong root2", size1, size2, good, root1, root1},
		{"empty proof", size1, size2, nil, root1, root2},
		{"hash flipped", size1, size2, flip(1), root1, root2},
		{"hash dropped", size1, size2, good[1:], root1, root2},
		{"hash added", size1, size2, append(cloneProof(good), root1[:]), root1, root2},
		{"equal sizes, different roots", size1, size1, nil, root1, root2},
		{"equal sizes, non-empty proof", size1, size1, good[:1], root1, root1},
		{"size 0 with non-empty root", 0, size2, nil, root1, root2},
		{"size 0 with a proof", 0, size2, good, EmptyRoot(), root2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := VerifyConsistency(tc.size1, tc.size2, tc.proof, tc.root1, tc.root2)
			if !errors.Is(err, auditerr.ErrInvalidProof) {
				t.Fatalf("err = %v, want invalid_proof", err)
			}
		})
	}
	for _, ok := range []struct {
		size1, size2 uint64
		proof        [][]byte
		root1, root2 [HashSize]byte
	}{
		{size1, size2, good, root1, root2},
		{0, size2, nil, EmptyRoot(), root2},
		{size1, size1, nil, root1, root1},
		{0, 0, nil, EmptyRoot(), EmptyRoot()},
	} {
		if err := VerifyConsistency(ok.size1, ok.size2, ok.proof, ok.root1, ok.root2); err != nil {
			t.Errorf("VerifyConsistency(%d, %d) of a good proof: %v", ok.size1, ok.size2, err)
		}
	}
}

func cloneProof(p [][]byte) [][]byte {
	out := make([][]byte, len(p))
	for i, h := range p {
		out[i] = append([]byte(nil), h...)
	}
	return out
}

func TestParseHash(t *testing.T) {
	const lower = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
	for _, tc := range []struct {
		in      string
		wantErr bool
	}{
		{lower, false},
		{"E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855", false},
		{lower[:62], true},
		{lower + "00", true},
		{"g" + lower[1:], true},
		{"", true},
	} {
		h, err := ParseHash(tc.in)
		if tc.wantErr {
			if !errors.Is(err, auditerr.ErrInvalidField) {
				t.Errorf("ParseHash(%q) err = %v, want invalid_field", tc.in, err)
			}
			continue
		}
		if err != nil || h != EmptyRoot() || Hex(h) != lower {
			t.Errorf("ParseHash(%q) = %x, %v", tc.in, h, err)
		}
	}
}

func TestLeafHashIsRFC6962(t *testing.T) {
	// RFC 6962 leaf of the empty string: SHA-256(0x00).
	want, _ := hex.DecodeString("6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d")
	if got := LeafHash(nil); !bytes.Equal(got[:], want) {
		t.Fatalf("LeafHash(\"\") = %x, want %x", got, want)
	}
}
