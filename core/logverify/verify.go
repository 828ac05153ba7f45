package logverify

import (
	"fmt"
	"slices"

	"golang.org/x/mod/sumdb/note"

	"github.com/stigaudit/stigaudit/core/auditerr"
	"github.com/stigaudit/stigaudit/core/checkpoint"
	"github.com/stigaudit/stigaudit/core/event"
	"github.com/stigaudit/stigaudit/core/merkle"
)

// Reason codes of a Report. They are stable: tools branch on them.
const (
	ReasonLeafMismatch        = "leaf_mismatch"
	ReasonSeqGap              = "seq_gap"
	ReasonSeqRepeated         = "seq_repeated"
	ReasonBeyondCheckpoint    = "beyond_checkpoint"
	ReasonTruncated           = "truncated"
	ReasonRootMismatch        = "root_mismatch"
	ReasonInconsistentHistory = "inconsistent_history"
	ReasonTreeNodeMismatch    = "tree_node_mismatch"
	ReasonBadCheckpoint       = "bad_checkpoint"
	ReasonNodesUnavailable    = "nodes_unavailable"
)

// chunkLevel is the level of the stored tree nodes compared as the stream
// goes: one read per 2^chunkLevel leaves, and a buffer of as many leaf
// hashes to locate a difference inside a chunk.
const chunkLevel = 10

// Config says what a Verifier checks the events against. Every field is
// optional, but a checkpoint needs Key, and Add needs LeafHash.
type Config struct {
	// LeafHash recomputes the leaf hash of an event from its content:
	// event.LeafHash(event.AppendCanonical(nil, e)). Add compares it with
	// the stored e.LeafHash.
	LeafHash func(e *event.Event) [merkle.HashSize]byte
	// Key verifies the checkpoints (checkpoint.NewVerifier).
	Key note.Verifier
	// Keys, when set instead of Key, is the log's key history: each
	// checkpoint must be signed by a key that may sign its size (docs/tamper-evidence.md#key-rotation).
	Keys checkpoint.Keys
	// Origin the checkpoints must carry; "" means Key's name.
	Origin string
	// Checkpoint is the signed checkpoint the log must match: exactly
	// Checkpoint.Size events with its root.
	Checkpoint []byte
	// Older are signed checkpoints seen before: the first Size events of the
	// log must still have each one's root.
	Older [][]byte
	// Nodes, when not nil, reads the stored tree nodes (tree_nodes) so that
	// a difference only visible in the root can be located (package doc).
	// It is called with at most 2^11-1 ids at a time; a nil hash in its
	// answer means "not stored" and is skipped.
	Nodes merkle.NodeReader
}

// Report is the outcome of a verification.
type Report struct {
	// Events is the number of events fed, up to and including a bad one.
	Events int64
	// Size is the number of events verified into the tree, and Root the
	// root of those events.
	Size uint64
	Root [merkle.HashSize]byte
	// Checkpoint is the opened Config.Checkpoint, or nil.
	Checkpoint *checkpoint.Checkpoint
	// FirstBadSeq is -1 when the log verifies, or when the problem has no
	// position (a bad checkpoint, unreadable nodes). Otherwise the first
	// seq at which the log differs from the signed one is in
	// [FirstBadSeq, BadUntil); it is exact when BadUntil == FirstBadSeq+1.
	FirstBadSeq int64
	BadUntil    int64
	// Reason is one of the Reason codes, or "" when the log verifies.
	Reason string
	// Err is nil when the log verifies. Otherwise it explains the problem
	// and wraps auditerr.ErrVerifyFailed, or the code of a bad checkpoint
	// (invalid_checkpoint) or of a failed node read.
	Err error
}

// OK reports whether the log verified.
func (r *Report) OK() bool { return r.Err == nil }

// Verifier checks a log fed to it event by event, in seq order (package
// doc). It is not safe for concurrent use.
type Verifier struct {
	cfg     Config
	cp      *checkpoint.Checkpoint
	olds    []checkpoint.Checkpoint // ascending size
	nextOld int
	// verified is the largest size whose root matched a checkpoint.
	verified uint64

	tree   merkle.Tree
	events int64
	// chunk holds the leaf hashes of the current, incomplete chunk of
	// 2^level leaves (only with Config.Nodes).
	chunk []([merkle.HashSize]byte)
	level uint
	visit func(id merkle.NodeID, hash [merkle.HashSize]byte)

	// compared reports whether any stored node was read and compared.
	compared bool

	finished    bool
	err         error
	reason      string
	first, last int64
}

// New returns a Verifier for cfg. It opens the checkpoints at once: a
// checkpoint that does not open makes the Verifier fail from the start
// (Err, and a Report with ReasonBadCheckpoint). The error result is only
// for a Config that cannot work, and wraps auditerr.ErrInvalidConfig.
func New(cfg Config) (*Verifier, error) {
	if cfg.Keys == nil && cfg.Key != nil {
		cfg.Keys = checkpoint.SingleKey(cfg.Key)
	}
	if cfg.Keys == nil && (cfg.Checkpoint != nil || len(cfg.Older) > 0) {
		return nil, auditerr.Errorf(auditerr.ErrInvalidConfig, "logverify: a checkpoint needs a verifier key")
	}
	v := &Verifier{cfg: cfg, first: -1, last: -1, level: chunkLevel}
	v.visit = v.visitNode
	if cfg.Checkpoint != nil {
		c, err := cfg.Keys.Open(cfg.Checkpoint, cfg.Origin)
		if err != nil {
			v.failWith(ReasonBadCheckpoint, -1, -1, fmt.Errorf("checkpoint: %w", err))
			return v, nil
		}
		v.cp = &c
	}
	for i, msg := range cfg.Older {
		c, err := cfg.Keys.Open(msg, cfg.Origin)
		if err != nil {
			v.failWith(ReasonBadCheckpoint, -1, -1, fmt.Errorf("older checkpoint %d: %w", i+1, err))
			return v, nil
		}
		if v.cp != nil && c.Size > v.cp.Size {
			v.failWith(ReasonBadCheckpoint, -1, -1, auditerr.Errorf(auditerr.ErrInvalidCheckpoint,
				"older checkpoint %d covers %d events, more than the checkpoint's %d: the checkpoint was rolled back or the two were swapped", i+1, c.Size, v.cp.Size))
			return v, nil
		}
		v.olds = append(v.olds, c)
	}
	slices.SortStableFunc(v.olds, func(a, b checkpoint.Checkpoint) int {
		switch {
		case a.Size < b.Size:
			return -1
		case a.Size > b.Size:
			return 1
		}
		return 0
	})
	v.checkRoots()
	return v, nil
}

// Err returns the first problem found so far, or nil.
func (v *Verifier) Err() error { return v.err }

// Add verifies the next event: its seq, its stored leaf hash against
// Config.LeafHash of its content, and everything that follows from
// appending it to the tree. It returns the first problem found so far;
// once it is not nil, further events are ignored and the caller may stop
// reading.
func (v *Verifier) Add(e *event.Event) error {
	if v.err != nil {
		return v.err
	}
	if v.cfg.LeafHash == nil {
		return auditerr.Errorf(auditerr.ErrInvalidConfig, "logverify: Add needs Config.LeafHash")
	}
	return v.AddLeaf(e.Seq, e.LeafHash, v.cfg.LeafHash(e))
}

// AddLeaf is Add for a caller that hashes events itself: seq and stored
// leaf hash as read, content the leaf hash recomputed from the content.
func (v *Verifier) AddLeaf(seq int64, stored, content [merkle.HashSize]byte) error {
	if v.err != nil {
		return v.err
	}
	v.events++
	next := int64(v.tree.Size())
	switch {
	case seq > next:
		return v.fail(ReasonSeqGap, next, next+1, "seq %d is missing: the event after seq %d has seq %d", next, next-1, seq)
	case seq < 0:
		return v.fail(ReasonSeqRepeated, next, next+1, "seq %d is not a log position; seq %d was expected", seq, next)
	case seq < next:
		return v.fail(ReasonSeqRepeated, next, next+1, "seq %d appears again where seq %d was expected", seq, next)
	}
	if v.cp != nil && uint64(next) >= v.cp.Size {
		return v.fail(ReasonBeyondCheckpoint, next, next+1, "seq %d is beyond the checkpoint, which covers %d events", next, v.cp.Size)
	}
	if stored != content {
		return v.fail(ReasonLeafMismatch, seq, seq+1, "seq %d: the stored leaf hash %x is not the hash %x of the event's content", seq, stored, content)
	}
	if v.cfg.Nodes == nil {
		v.tree.Append(content)
	} else {
		v.chunk = append(v.chunk, content)
		v.tree.AppendVisit(content, v.visit)
		if v.err != nil {
			return v.err
		}
		if len(v.chunk) == 1<<v.level {
			v.chunk = v.chunk[:0]
		}
	}
	size := v.tree.Size()
	if (v.nextOld < len(v.olds) && v.olds[v.nextOld].Size == size) || (v.cp != nil && v.cp.Size == size) {
		v.checkRoots()
	}
	return v.err
}

// Finish ends the stream and returns the report. A log shorter than a
// checkpoint fails here (ReasonTruncated).
func (v *Verifier) Finish() Report {
	if !v.finished && v.err == nil {
		v.finished = true
		size := v.tree.Size()
		if v.cfg.Nodes != nil && len(v.chunk) > 0 {
			if ok, first, until := v.locate(size-uint64(len(v.chunk)), v.chunk); ok {
				v.failNodes(first, until, "")
			}
		}
		want, what := uint64(0), ""
		if v.nextOld < len(v.olds) {
			want, what = v.olds[v.nextOld].Size, "an older checkpoint"
		} else if v.cp != nil && size < v.cp.Size {
			want, what = v.cp.Size, "the checkpoint"
		}
		if v.err == nil && what != "" {
			v.fail(ReasonTruncated, int64(size), int64(size)+1, "the log ends after %d events but %s covers %d: seq %d and later are missing", size, what, want, size)
		}
	}
	v.finished = true
	return Report{
		Events:      v.events,
		Size:        v.tree.Size(),
		Root:        v.tree.Root(),
		Checkpoint:  v.cp,
		FirstBadSeq: v.first,
		BadUntil:    v.last,
		Reason:      v.reason,
		Err:         v.err,
	}
}

// checkRoots compares the tree root with every checkpoint of the current
// size.
func (v *Verifier) checkRoots() {
	size := v.tree.Size()
	for v.err == nil && v.nextOld < len(v.olds) && v.olds[v.nextOld].Size == size {
		o := v.olds[v.nextOld]
		v.nextOld++
		if root := v.tree.Root(); root != o.Root {
			v.failRoot(ReasonInconsistentHistory, fmt.Sprintf("the first %d events have root %x, but an older checkpoint signed %x for them: signed history was rewritten", size, root, o.Root))
			return
		}
		v.verified = size
	}
	if v.err == nil && v.cp != nil && v.cp.Size == size {
		if root := v.tree.Root(); root != v.cp.Root {
			v.failRoot(ReasonRootMismatch, fmt.Sprintf("the %d events have root %x, but the checkpoint signed %x", size, root, v.cp.Root))
			return
		}
		v.verified = size
	}
}

// failRoot reports a root that differs from a checkpoint's, located as
// precisely as the stored nodes allow.
func (v *Verifier) failRoot(reason, msg string) {
	size := v.tree.Size()
	if v.cfg.Nodes != nil && len(v.chunk) > 0 {
		if ok, first, until := v.locate(size-uint64(len(v.chunk)), v.chunk); ok && v.err == nil {
			v.fail(reason, int64(first), int64(until), "%s; stored tree nodes place the first difference %s", msg, where(first, until))
			return
		}
	}
	if v.err != nil {
		return
	}
	lo := v.verified
	if lo >= size {
		lo = 0
	}
	how := "it cannot be located from the events alone (stored tree nodes would)"
	if v.compared {
		how = "the stored tree nodes were rewritten to match, so it cannot be located further"
	}
	v.fail(reason, int64(lo), int64(size), "%s; the first bad seq is %s, and %s", msg, where(lo, size), how)
}

// visitNode compares a tree node completed by the last append with the
// stored one, for nodes at chunk level and above.
func (v *Verifier) visitNode(id merkle.NodeID, h [merkle.HashSize]byte) {
	if v.err != nil || id.Level < v.level {
		return
	}
	stored, err := v.cfg.Nodes([]merkle.NodeID{id})
	if err != nil {
		v.failWith(ReasonNodesUnavailable, -1, -1, fmt.Errorf("read tree node (level %d, index %d): %w", id.Level, id.Index, err))
		return
	}
	if len(stored) != 1 || stored[0] == nil {
		return
	}
	v.compared = true
	if len(stored[0]) == merkle.HashSize && [merkle.HashSize]byte(stored[0]) == h {
		return
	}
	begin, end := id.Coverage()
	if id.Level == v.level && len(v.chunk) == 1<<v.level {
		if ok, first, until := v.locate(begin, v.chunk); ok || v.err != nil {
			if ok {
				v.failNodes(first, until, "")
			}
			return
		}
	}
	v.failNodes(begin, end, fmt.Sprintf(" (the stored node (level %d, index %d) disagrees with the nodes under it)", id.Level, id.Index))
}

func (v *Verifier) failNodes(first, until uint64, detail string) {
	v.fail(ReasonTreeNodeMismatch, int64(first), int64(until),
		"the events differ from the tree stored when they were appended, first %s%s: events were rewritten together with their leaf hashes, swapped, or the stored tree was altered",
		where(first, until), detail)
}

// locate compares every perfect subtree of the leaves [begin,
// begin+len(leaves)) with the stored one, in one read, and returns the
// range of the differing node that ends first (the lowest on a tie). begin
// is a multiple of 2^v.level and len(leaves) <= 2^v.level.
func (v *Verifier) locate(begin uint64, leaves [][merkle.HashSize]byte) (ok bool, first, until uint64) {
	var ids []merkle.NodeID
	var hashes [][merkle.HashSize]byte
	cur := leaves
	for k := uint(0); ; k++ {
		for j, h := range cur {
			ids = append(ids, merkle.NodeID{Level: k, Index: begin>>k + uint64(j)})
			hashes = append(hashes, h)
		}
		if len(cur) < 2 {
			break
		}
		up := make([][merkle.HashSize]byte, len(cur)/2)
		for j := range up {
			up[j] = merkle.NodeHash(cur[2*j], cur[2*j+1])
		}
		cur = up
	}
	stored, err := v.cfg.Nodes(ids)
	if err != nil {
		v.failWith(ReasonNodesUnavailable, -1, -1, fmt.Errorf("read %d tree nodes from seq %d: %w", len(ids), begin, err))
		return false, 0, 0
	}
	if len(stored) != len(ids) {
		v.failWith(ReasonNodesUnavailable, -1, -1, auditerr.Errorf(auditerr.ErrInvalidInput, "read %d tree nodes, got %d", len(ids), len(stored)))
		return false, 0, 0
	}
	for i, s := range stored {
		if s == nil {
			continue
		}
		v.compared = true
		if len(s) == merkle.HashSize && [merkle.HashSize]byte(s) == hashes[i] {
			continue
		}
		b, e := ids[i].Coverage()
		if !ok || e < until {
			ok, first, until = true, b, e
		}
	}
	return ok, first, until
}

func where(first, until uint64) string {
	if until == first+1 {
		return fmt.Sprintf("at seq %d", first)
	}
	return fmt.Sprintf("in seqs [%d, %d)", first, until)
}

func (v *Verifier) fail(reason string, first, until int64, format string, args ...any) error {
	return v.failWith(reason, first, until, auditerr.Errorf(auditerr.ErrVerifyFailed, format, args...))
}

func (v *Verifier) failWith(reason string, first, until int64, err error) error {
	if v.err == nil {
		v.err, v.reason, v.first, v.last = err, reason, first, until
	}
	return v.err
}
