package logverify

import (
	"encoding/binary"
	"testing"

	"github.com/stigaudit/stigaudit/core/checkpoint"
	"github.com/stigaudit/stigaudit/core/merkle"
)

const benchEvents = 1_000_000

type levelStore struct{ levels [][][merkle.HashSize]byte }

func (s *levelStore) put(id merkle.NodeID, h [merkle.HashSize]byte) {
	for uint(len(s.levels)) <= id.Level {
		s.levels = append(s.levels, nil)
	}
	s.levels[id.Level] = append(s.levels[id.Level], h)
}

func (s *levelStore) read(ids []merkle.NodeID) ([][]byte, error) {
	out := make([][]byte, len(ids))
	for i, id := range ids {
		if id.Level < uint(len(s.levels)) && id.Index < uint64(len(s.levels[id.Level])) {
			out[i] = s.levels[id.Level][id.Index][:]
		}
	}
	return out, nil
}

// benchLog returns 1,000,000 leaf hashes, their stored nodes, and a signed
// checkpoint of them.
func benchLog(b *testing.B) ([][merkle.HashSize]byte, *levelStore, []byte, *world) {
	w := newWorld(b, 0)
	leaves := make([][merkle.HashSize]byte, benchEvents)
	s := &levelStore{}
	var tr merkle.Tree
	var buf [8]byte
	for i := range leaves {
		binary.BigEndian.PutUint64(buf[:], uint64(i))
		leaves[i] = merkle.LeafHash(buf[:])
		tr.AppendVisit(leaves[i], s.put)
	}
	cp, err := checkpoint.Sign(checkpoint.Checkpoint{Origin: "stigaudit/test", Size: benchEvents, Root: tr.Root()}, w.signer)
	if err != nil {
		b.Fatal(err)
	}
	return leaves, s, cp, w
}

// BenchmarkVerifier1M verifies a log of 1,000,000 events (leaf hashes
// already computed: this is the Merkle and bookkeeping part of an offline
// verify) against a checkpoint; events/s is the throughput.
func BenchmarkVerifier1M(b *testing.B) {
	leaves, s, cp, w := benchLog(b)
	for _, bc := range []struct {
		name  string
		nodes merkle.NodeReader
	}{
		{"export", nil},
		{"with-tree-nodes", s.read},
	} {
		b.Run(bc.name, func(b *testing.B) {
			for b.Loop() {
				v, err := New(Config{Key: w.key, Checkpoint: cp, Nodes: bc.nodes})
				if err != nil {
					b.Fatal(err)
				}
				for i, l := range leaves {
					if err := v.AddLeaf(int64(i), l, l); err != nil {
						b.Fatal(err)
					}
				}
				if r := v.Finish(); !r.OK() {
					b.Fatal(r.Err)
				}
			}
			b.ReportMetric(float64(benchEvents*b.N)/b.Elapsed().Seconds(), "events/s")
		})
	}
}
