package monitor

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/transparency-dev/merkle/compact"
	"github.com/transparency-dev/merkle/rfc6962"

	"github.com/stigaudit/stigaudit/core/checkpoint"
)

// tilesPrefix is where a stigaudit server serves its C2SP tlog-tiles.
const tilesPrefix = "/v1/audit/tlog"

// tileWidth is the number of hashes in a full tile.
const tileWidth = 256

// checkTiles is Check through the tlog-tiles: the newest signed checkpoint
// (and with a policy the witnessed one) must each be the root of the kept
// leaves followed by the new leaf hashes of the level-0 tiles. A smaller
// tree is a rollback; another root, a fork.
func (m *Monitor) checkTiles(ctx context.Context) error {
	body, err := m.get(ctx, tilesPrefix+"/checkpoint")
	if err != nil {
		return err
	}
	newest, err := checkpoint.Open(body, "", m.cfg.Verifier)
	if err != nil {
		return alertf(KindBadSignature, "the served checkpoint does not open with %s: %v", m.cfg.Verifier.Name(), err)
	}
	type target struct {
		cp   checkpoint.Checkpoint
		note []byte
	}
	targets := []target{{newest, body}}
	keep := 0 // the target the state moves to
	if m.cfg.Policy != nil {
		w, wb, err := m.witnessed(ctx, newest.Size)
		if err != nil {
			return err
		}
		targets = append(targets, target{w, wb})
		keep = 1
	}
	old := m.state
	var prev checkpoint.Checkpoint
	if old.Checkpoint != "" {
		if prev, err = checkpoint.Open([]byte(old.Checkpoint), "", m.cfg.Verifier); err != nil {
			return fmt.Errorf("monitor: the kept checkpoint no longer opens: %w", err)
		}
	}
	for _, t := range targets {
		switch {
		case old.Checkpoint == "":
		case t.cp.Size < prev.Size:
			return alertf(KindRollback, "the log serves size %d (root %x) after size %d (root %x) was verified", t.cp.Size, t.cp.Root, prev.Size, prev.Root)
		case t.cp.Size == prev.Size && t.cp.Root != prev.Root:
			return alertf(KindFork, "size %d has root %x, but root %x was verified", t.cp.Size, t.cp.Root, prev.Root)
		}
	}
	// Grow the kept range through the targets in size order, checking each
	// root; keep the range at the size the state moves to.
	order := []int{0}
	if len(targets) == 2 {
		order = []int{0, 1}
		if targets[1].cp.Size < targets[0].cp.Size {
			order = []int{1, 0}
		}
	}
	r, err := m.keptRange()
	if err != nil {
		return err
	}
	var kept *compact.Range // r at the size the state moves to
	rf := &compact.RangeFactory{Hash: rfc6962.DefaultHasher.HashChildren}
	for _, i := range order {
		t := targets[i]
		if err := m.appendTiles(ctx, r, t.cp.Size); err != nil {
			return err
		}
		root := rfc6962.DefaultHasher.EmptyRoot()
		if r.End() > 0 {
			if root, err = r.GetRootHash(nil); err != nil {
				return fmt.Errorf("monitor: %w", err)
			}
		}
		if !bytes.Equal(root, t.cp.Root[:]) {
			if old.Checkpoint != "" {
				return alertf(KindFork, "size %d (root %x) is not consistent with the verified size %d (root %x): the kept leaves and the served hash tiles make root %x", t.cp.Size, t.cp.Root, prev.Size, prev.Root, root)
			}
			return alertf(KindFork, "the served hash tiles make root %x at size %d, but the checkpoint signs %x", root, t.cp.Size, t.cp.Root)
		}
		if i == keep {
			hashes := make([][]byte, len(r.Hashes()))
			for j, h := range r.Hashes() {
				hashes[j] = slices.Clone(h)
			}
			if kept, err = rf.NewRange(0, r.End(), hashes); err != nil {
				return fmt.Errorf("monitor: %w", err)
			}
		}
	}
	if old.Checkpoint != "" && targets[keep].cp.Size == old.Size {
		return nil
	}
	return m.save(state{Checkpoint: string(targets[keep].note), Size: targets[keep].cp.Size}, kept)
}

// appendTiles appends to r the leaf hashes from r.End() up to size, read
// from the level-0 hash tiles (partial for the last tile of a tree of that
// size, which the server serves since it signed that size).
func (m *Monitor) appendTiles(ctx context.Context, r *compact.Range, size uint64) error {
	for r.End() < size {
		n := r.End() / tileWidth
		w := min(size-n*tileWidth, tileWidth)
		path := tilesPrefix + "/tile/0/" + TileIndex(n)
		if w < tileWidth {
			path += ".p/" + strconv.FormatUint(w, 10)
		}
		b, err := m.get(ctx, path)
		if err != nil {
			return err
		}
		if uint64(len(b)) != 32*w {
			return alertf(KindFork, "tile %s holds %d bytes, not %d hashes", path, len(b), w)
		}
		for i := r.End() - n*tileWidth; i < w; i++ {
			if err := r.Append(slices.Clone(b[32*i:32*i+32]), nil); err != nil {
				return fmt.Errorf("monitor: %w", err)
			}
		}
	}
	return nil
}

// TileIndex is the C2SP tlog-tiles path of tile index n: its decimal
// digits in groups of three, zero-padded, every group but the last
// prefixed with "x" (1234067 → x001/x234/067).
func TileIndex(n uint64) string {
	groups := []string{fmt.Sprintf("%03d", n%1000)}
	for n /= 1000; n > 0; n /= 1000 {
		groups = append(groups, fmt.Sprintf("x%03d", n%1000))
	}
	slices.Reverse(groups)
	return strings.Join(groups, "/")
}
