package merkle

import (
	"bytes"
	"testing"

	"github.com/stigaudit/stigaudit/core/jcs"
)

// TestAppendCanonicalJSON: the canonical form is the API form with its
// members sorted, byte for byte what RFC 8785 makes of it.
func TestAppendCanonicalJSON(t *testing.T) {
	for _, p := range []InclusionProof{
		{Seq: 0, TreeSize: 1, Hashes: [][]byte{}},
		{Seq: 5, TreeSize: 13, LeafHash: [HashSize]byte{1, 2, 3}, Hashes: [][]byte{bytes.Repeat([]byte{0xab}, 32), bytes.Repeat([]byte{7}, 32)}},
	} {
		want, err := jcs.Canonicalize(nil, p.AppendJSON(nil), jcs.Limits{})
		if err != nil {
			t.Fatal(err)
		}
		if got := p.AppendCanonicalJSON(nil); !bytes.Equal(got, want) {
			t.Errorf("AppendCanonicalJSON = %s, want %s", got, want)
		}
	}
}
