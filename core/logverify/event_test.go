package logverify

import (
	"testing"

	"github.com/stigaudit/stigaudit/core/event"
	"github.com/stigaudit/stigaudit/core/merkle"
)

// canonicalHasher is the LeafHash a real verifier passes: the event
// package's canonical form and leaf hash, with a reused buffer.
func canonicalHasher() func(e *event.Event) [merkle.HashSize]byte {
	var buf []byte
	return func(e *event.Event) [merkle.HashSize]byte {
		buf = event.AppendCanonical(buf[:0], e)
		return event.LeafHash(buf)
	}
}

func canonicalLog(n int) []event.Event {
	log := makeLog(n)
	h := canonicalHasher()
	for i := range log {
		log[i].LeafHash = h(&log[i])
	}
	return log
}

func TestWithEventCanonicalForm(t *testing.T) {
	log := canonicalLog(50)
	w := newWorld(t, 0)
	var tr merkle.Tree
	for i := range log {
		tr.Append(log[i].LeafHash)
	}
	cp := signRoot(t, w, 50, tr.Root())
	for _, tc := range []struct {
		name   string
		tamper func(log []event.Event)
		reason string
		first  int64
	}{
		{"untouched", func([]event.Event) {}, "", -1},
		{"detail byte changed", func(l []event.Event) { l[17].Detail[2] ^= 1 }, ReasonLeafMismatch, 17},
		{"outcome changed", func(l []event.Event) { l[30].Outcome = event.OutcomeDenied }, ReasonLeafMismatch, 30},
		{"seq changed", func(l []event.Event) { l[40].Seq = 41 }, ReasonSeqGap, 40},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := canonicalLog(50)
			tc.tamper(l)
			r := run(t, Config{LeafHash: canonicalHasher(), Key: w.key, Checkpoint: cp}, l)
			if r.Reason != tc.reason || r.FirstBadSeq != tc.first {
				t.Fatalf("report %q at %d: %v; want %q at %d", r.Reason, r.FirstBadSeq, r.Err, tc.reason, tc.first)
			}
		})
	}
}

// BenchmarkVerifyEvents is the whole offline verification of events in
// memory: canonical form, leaf hash, checks and tree (not the reading and
// decoding of an export or a database).
func BenchmarkVerifyEvents(b *testing.B) {
	const n = 100_000
	log := canonicalLog(n)
	w := newWorld(b, 0)
	var tr merkle.Tree
	for i := range log {
		tr.Append(log[i].LeafHash)
	}
	cp := signRoot(b, w, n, tr.Root())
	for b.Loop() {
		r := run(b, Config{LeafHash: canonicalHasher(), Key: w.key, Checkpoint: cp}, log)
		if !r.OK() {
			b.Fatal(r.Err)
		}
	}
	b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "events/s")
}
