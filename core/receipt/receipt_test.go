package receipt_test

import (
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"testing"

	fproof "github.com/transparency-dev/formats/proof"
	"github.com/transparency-dev/merkle/compact"
	"github.com/transparency-dev/merkle/rfc6962"
	"golang.org/x/mod/sumdb/note"

	"github.com/stigaudit/stigaudit/core/auditerr"
	"github.com/stigaudit/stigaudit/core/checkpoint"
	"github.com/stigaudit/stigaudit/core/event"
	"github.com/stigaudit/stigaudit/core/merkle"
	"github.com/stigaudit/stigaudit/core/receipt"
)

// testLog is a small signed log: canonical events, their tree, a checkpoint.
type testLog struct {
	events [][]byte
	leaves [][32]byte
	note   []byte
	vkey   string
}

func newTestLog(t *testing.T, n int) *testLog {
	t.Helper()
	l := &testLog{}
	rf := &compact.RangeFactory{Hash: rfc6962.DefaultHasher.HashChildren}
	r := rf.NewEmptyRange(0)
	for i := range n {
		e := event.Event{ID: fmt.Sprintf("01900000-0000-7000-8000-%012x", i), Type: "fact_read", TS: "2026-12-07T10:00:00.000000Z",
			Tenant: "default", EntityURI: fmt.Sprintf("urn:test:%d", i), Outcome: event.OutcomeSuccess, Detail: []byte(`{"n":1}`)}
		c := event.AppendCanonical(nil, &e)
		l.events = append(l.events, c)
		leaf := event.LeafHash(c)
		l.leaves = append(l.leaves, leaf)
		if err := r.Append(leaf[:], nil); err != nil {
			t.Fatal(err)
		}
	}
	root, err := r.GetRootHash(nil)
	if err != nil {
		t.Fatal(err)
	}
	skey, vkey, err := checkpoint.GenerateKey(rand.Reader, "example.com/receipts")
	if err != nil {
		t.Fatal(err)
	}
	s, _ := checkpoint.NewSigner(skey)
	if l.note, err = checkpoint.Sign(checkpoint.Checkpoint{Origin: "example.com/receipts", Size: uint64(n), Root: [32]byte(root)}, s); err != nil {
		t.Fatal(err)
	}
	l.vkey = vkey
	return l
}

// read hashes the perfect subtrees (level, index) from the leaves.
func (l *testLog) read(ids []merkle.NodeID) ([][]byte, error) {
	var node func(level uint, index uint64) []byte
	node = func(level uint, index uint64) []byte {
		if level == 0 {
			return l.leaves[index][:]
		}
		return rfc6962.DefaultHasher.HashChildren(node(level-1, 2*index), node(level-1, 2*index+1))
	}
	out := make([][]byte, len(ids))
	for i, id := range ids {
		out[i] = node(id.Level, id.Index)
	}
	return out, nil
}

func (l *testLog) receipt(t *testing.T, i int) receipt.Receipt {
	t.Helper()
	hashes, err := merkle.ProveInclusion(uint64(i), uint64(len(l.events)), l.read)
	if err != nil {
		t.Fatal(err)
	}
	return receipt.Receipt{Event: l.events[i], Index: uint64(i), Hashes: hashes, Checkpoint: l.note}
}

func TestRoundTripAndVerify(t *testing.T) {
	l := newTestLog(t, 13)
	v, err := checkpoint.NewVerifier(l.vkey)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 13 {
		b := l.receipt(t, i).Marshal()
		if !bytes.HasPrefix(b, []byte(receipt.Header+"\nextra ")) {
			t.Fatalf("receipt %d starts %q", i, b[:40])
		}
		got, err := receipt.Verify(b, "", v)
		if err != nil {
			t.Fatalf("receipt %d: %v", i, err)
		}
		if got.Event.Seq != int64(i) || got.Event.LeafHash != l.leaves[i] || got.Checkpoint.Size != 13 {
			t.Fatalf("receipt %d verified as seq %d size %d", i, got.Event.Seq, got.Checkpoint.Size)
		}
		again, err := receipt.Parse(b)
		if err != nil || !bytes.Equal(again.Marshal(), b) {
			t.Fatalf("receipt %d does not round-trip: %v", i, err)
		}
	}
}

func TestTamperedReceiptsFail(t *testing.T) {
	l := newTestLog(t, 9)
	v, _ := checkpoint.NewVerifier(l.vkey)
	_, otherV, _ := checkpoint.GenerateKey(rand.Reader, "example.com/receipts")
	other, _ := checkpoint.NewVerifier(otherV)
	good := l.receipt(t, 5)
	for _, tc := range []struct {
		name   string
		mutate func(r *receipt.Receipt)
		v      note.Verifier
		want   error
	}{
		{"another event's bytes", func(r *receipt.Receipt) { r.Event = l.events[4] }, v, auditerr.ErrInvalidProof},
		{"a changed byte", func(r *receipt.Receipt) {
			r.Event = bytes.Replace(bytes.Clone(r.Event), []byte("urn:test:5"), []byte("urn:test:6"), 1)
		}, v, auditerr.ErrInvalidProof},
		{"another index", func(r *receipt.Receipt) { r.Index = 6 }, v, auditerr.ErrInvalidProof},
		{"an index beyond the tree", func(r *receipt.Receipt) { r.Index = 9 }, v, auditerr.ErrInvalidProof},
		{"a proof hash changed", func(r *receipt.Receipt) { r.Hashes[0] = bytes.Repeat([]byte{1}, 32) }, v, auditerr.ErrInvalidProof},
		{"a proof hash dropped", func(r *receipt.Receipt) { r.Hashes = r.Hashes[1:] }, v, auditerr.ErrInvalidProof},
		{"non-canonical event bytes", func(r *receipt.Receipt) { r.Event = append([]byte(" "), r.Event...) }, v, auditerr.ErrInvalidProof},
		{"no event", func(r *receipt.Receipt) { r.Event = nil }, v, auditerr.ErrInvalidProof},
		{"another key", func(r *receipt.Receipt) {}, other, auditerr.ErrInvalidCheckpoint},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := good
			r.Hashes = append([][]byte(nil), good.Hashes...)
			tc.mutate(&r)
			b := r.Marshal()
			if r.Event == nil { // Marshal always writes extra; drop it
				b = bytes.Replace(b, []byte("extra \n"), nil, 1)
			}
			_, err := receipt.Verify(b, "", tc.v)
			if !errors.Is(err, tc.want) {
				t.Fatalf("Verify = %v, want %v", err, tc.want)
			}
		})
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(receipt.Header + "\nextra e30=\nindex 0\n\nexample.com/x\n1\nAAAA\n"))
	f.Add([]byte(receipt.Header + "\nindex 01\n\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := receipt.Parse(b)
		if err != nil {
			if !errors.Is(err, auditerr.ErrInvalidProof) {
				t.Fatalf("Parse error without invalid_proof: %v", err)
			}
			return
		}
		if len(r.Hashes) > receipt.MaxHashes {
			t.Fatalf("%d hashes", len(r.Hashes))
		}
		if r.Event != nil {
			if _, err := receipt.Parse(r.Marshal()); err != nil {
				t.Fatalf("a parsed receipt does not parse again: %v", err)
			}
		}
	})
}

// The reference tlog-proof code (transparency-dev/formats) reads our
// receipts as we wrote them, and we read its.
func TestInteropWithFormats(t *testing.T) {
	l := newTestLog(t, 6)
	r := l.receipt(t, 3)
	var theirs fproof.TLogProof
	if err := theirs.Unmarshal(r.Marshal()); err != nil {
		t.Fatalf("formats cannot read our receipt: %v", err)
	}
	if theirs.Index != 3 || !bytes.Equal(theirs.ExtraData, r.Event) || !bytes.Equal(theirs.Checkpoint, r.Checkpoint) || len(theirs.Hashes) != len(r.Hashes) {
		t.Fatalf("formats read %+v", theirs)
	}
	ours, err := receipt.Parse(theirs.Marshal())
	if err != nil || !bytes.Equal(ours.Marshal(), r.Marshal()) {
		t.Fatalf("we cannot read formats' rendering: %v", err)
	}
}

// BenchmarkVerify is one receipt of a 1,024-event log (10 proof hashes)
// verified natively: parse, canonical check, leaf hash, inclusion, the
// log's Ed25519 signature.
//
//	go test -run '^$' -bench Verify ./core/receipt/
func BenchmarkVerify(b *testing.B) {
	t := &testing.T{}
	l := newTestLog(t, 1024)
	v, _ := checkpoint.NewVerifier(l.vkey)
	good := l.receipt(t, 700).Marshal()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := receipt.Verify(good, "", v); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "receipts/s")
}
