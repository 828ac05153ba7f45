package export

import (
	"context"
	"fmt"

	"github.com/stigaudit/stigaudit/core/auditerr"
	"github.com/stigaudit/stigaudit/core/event"
	"github.com/stigaudit/stigaudit/core/merkle"
	"github.com/stigaudit/stigaudit/hostfns"
)

// Format writes one export format. Write calls Begin once, Event for each
// event in seq order, then End once; an error from any of them ends the
// export.
type Format interface {
	// Begin writes what precedes the events (a CSV header, say).
	Begin() error
	// Event writes one event. proof is its inclusion proof in the tree of
	// the trailer's checkpoint, or nil in a complete export.
	Event(e *event.Event, proof *merkle.InclusionProof) error
	// End writes what follows the events and flushes.
	End(t Trailer) error
}

// Trailer is what ends an export.
type Trailer struct {
	// Checkpoint is the signed note of the checkpoint that covers the
	// exported events: every event has seq < its size.
	Checkpoint []byte
	// Filtered is true when the export holds a selection of the events
	// below the checkpoint's size (each then carries its proof), false
	// when it holds all of them.
	Filtered bool
}

// Source is where events are read from: a hostfns.Store, or a stigaudit.Log.
type Source interface {
	Query(ctx context.Context, q hostfns.Query) (hostfns.Page, error)
}

// Prover builds inclusion proofs (tlog.Prover implements it).
type Prover interface {
	Inclusion(ctx context.Context, seq, size uint64) (merkle.InclusionProof, error)
}

// Options select what Write exports.
type Options struct {
	// Filter selects events like a read: Tenant ("" for every tenant),
	// Types, EntityURI, ... Since, Until. Its Order, After and Limit are
	// ignored: an export is always oldest first.
	Filter hostfns.Query
	// From is the first seq to export (a resumed export); 0 starts at the
	// beginning.
	From int64
	// Checkpoint is the signed checkpoint the export ends with; only events
	// with seq below its size are exported. Required.
	Checkpoint []byte
	// Size is the tree size of Checkpoint.
	Size uint64
	// Prover builds each event's inclusion proof; required when Filtered.
	Prover Prover
	// PageSize is how many events are read per query; default 1000.
	PageSize int
}

// Filtered reports whether o selects less than every event below the
// checkpoint, so that each exported event needs its own proof.
func (o *Options) Filtered() bool {
	q := &o.Filter
	return o.From > 0 || q.Tenant != "" || len(q.Types) > 0 || q.EntityURI != "" || q.OIDCSub != "" ||
		q.Source != nil || q.FactID != "" || q.Outcome != "" || q.Scope != "" || q.Attested != nil ||
		q.Since != "" || q.Until != ""
}

// Stats describe a finished export.
type Stats struct {
	// Events is the number of events written.
	Events int64
	// Filtered is Options.Filtered().
	Filtered bool
}

// Write streams the events opts selects from src to f, oldest first, then
// the trailer. It holds one page of events at a time, so memory does not
// grow with the log. Each event of a filtered export gets its inclusion
// proof in the tree of opts.Size.
func Write(ctx context.Context, src Source, f Format, opts Options) (Stats, error) {
	st := Stats{Filtered: opts.Filtered()}
	if len(opts.Checkpoint) == 0 {
		return st, auditerr.Errorf(auditerr.ErrInvalidConfig, "export: no checkpoint to end the export with")
	}
	if st.Filtered && opts.Prover == nil {
		return st, auditerr.Errorf(auditerr.ErrInvalidConfig, "export: a filtered export needs a Prover")
	}
	if opts.From < 0 {
		return st, auditerr.Errorf(auditerr.ErrInvalidParameter, "export: from %d is negative", opts.From)
	}
	if opts.PageSize <= 0 || opts.PageSize > hostfns.MaxQueryLimit {
		opts.PageSize = hostfns.MaxQueryLimit
	}
	if err := f.Begin(); err != nil {
		return st, fmt.Errorf("export: %w", err)
	}
	q := opts.Filter
	q.Order, q.After, q.Limit = hostfns.Ascending, opts.From-1, opts.PageSize
	size := int64(opts.Size)
	for q.After+1 < size {
		page, err := src.Query(ctx, q)
		if err != nil {
			return st, fmt.Errorf("export: read events after seq %d: %w", q.After, err)
		}
		for i := range page.Events {
			e := &page.Events[i]
			if e.Seq >= size {
				page.HasMore = false
				break
			}
			var proof *merkle.InclusionProof
			if st.Filtered {
				p, err := opts.Prover.Inclusion(ctx, uint64(e.Seq), opts.Size)
				if err != nil {
					return st, fmt.Errorf("export: proof of seq %d: %w", e.Seq, err)
				}
				proof = &p
			}
			if err := f.Event(e, proof); err != nil {
				return st, fmt.Errorf("export: write seq %d: %w", e.Seq, err)
			}
			st.Events++
		}
		if !page.HasMore || len(page.Events) == 0 {
			break
		}
		q.After = page.Events[len(page.Events)-1].Seq
		if err := ctx.Err(); err != nil {
			return st, err
		}
	}
	if err := f.End(Trailer{Checkpoint: opts.Checkpoint, Filtered: st.Filtered}); err != nil {
		return st, fmt.Errorf("export: %w", err)
	}
	return st, nil
}
