package tlog

import (
	"context"
	"time"

	"github.com/stigaudit/stigaudit/core/auditerr"
	"github.com/stigaudit/stigaudit/core/event"
	"github.com/stigaudit/stigaudit/core/receipt"
)

// Receipts builds event receipts (docs/tamper-evidence.md#receipts, core/receipt): the event's
// canonical bytes, its inclusion proof and the checkpoint it leads to —
// the newest witnessed one when Witnessed is set, else the newest signed.
type Receipts struct {
	// Prover builds the inclusion proofs; required.
	Prover *Prover
	// Checkpointer gives the newest signed checkpoint; required.
	Checkpointer *Checkpointer
	// Witnessed, if set, gives the newest checkpoint that meets the witness
	// quorum, with its cosignatures, and its size.
	Witnessed func() (note []byte, size uint64, ok bool)
}

// Receipt returns e's receipt. An event not covered yet by the checkpoint
// receipts use (it is signed within about a second, witnessed soon after)
// is an error wrapping auditerr.ErrNotFound that says so; a purged event
// (its content is gone, so its bytes cannot be given) wraps
// auditerr.ErrPurged.
func (r *Receipts) Receipt(ctx context.Context, e *event.Event) ([]byte, error) {
	return r.receipt(ctx, e, r.Witnessed != nil)
}

// Witnessing reports whether receipts carry witnessed checkpoints.
func (r *Receipts) Witnessing() bool { return r.Witnessed != nil }

// Wait waits until e is covered by the newest signed checkpoint (witnessed:
// the newest witnessed one), or ctx ends (its error is returned), and
// returns e's receipt with that checkpoint. It polls the in-memory latest
// checkpoints every 20 ms: cheap, and well under the 1 s cadence.
func (r *Receipts) Wait(ctx context.Context, e *event.Event, witnessed bool) ([]byte, error) {
	t := time.NewTicker(20 * time.Millisecond)
	defer t.Stop()
	for {
		if r.covered(uint64(e.Seq), witnessed) {
			return r.receipt(ctx, e, witnessed)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-t.C:
		}
	}
}

func (r *Receipts) covered(seq uint64, witnessed bool) bool {
	if witnessed && r.Witnessed != nil {
		_, size, ok := r.Witnessed()
		return ok && seq < size
	}
	s, ok := r.Checkpointer.Latest()
	return ok && seq < s.Size
}

func (r *Receipts) receipt(ctx context.Context, e *event.Event, witnessed bool) ([]byte, error) {
	if e.EntityURI == "" {
		return nil, auditerr.Errorf(auditerr.ErrPurged, "the content of event seq %d was purged: its receipt cannot carry it", e.Seq)
	}
	var note []byte
	var size uint64
	if witnessed && r.Witnessed != nil {
		n, s, ok := r.Witnessed()
		if !ok || uint64(e.Seq) >= s {
			return nil, auditerr.Errorf(auditerr.ErrNotFound, "event seq %d is not covered by a witnessed checkpoint yet; retry in a few seconds", e.Seq)
		}
		note, size = n, s
	} else {
		s, ok := r.Checkpointer.Latest()
		if !ok || uint64(e.Seq) >= s.Size {
			return nil, auditerr.Errorf(auditerr.ErrNotFound, "event seq %d is not covered by a signed checkpoint yet; retry in a second", e.Seq)
		}
		note, size = s.Note, s.Size
	}
	proof, err := r.Prover.Inclusion(ctx, uint64(e.Seq), size)
	if err != nil {
		return nil, err
	}
	return receipt.Receipt{Event: event.AppendCanonical(nil, e), Index: uint64(e.Seq), Hashes: proof.Hashes, Checkpoint: note}.Marshal(), nil
}
