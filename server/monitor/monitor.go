package monitor

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"

	"github.com/transparency-dev/merkle/compact"
	"github.com/transparency-dev/merkle/rfc6962"
	"golang.org/x/mod/sumdb/note"

	"github.com/stigaudit/stigaudit/core/checkpoint"
	"github.com/stigaudit/stigaudit/core/event"
	"github.com/stigaudit/stigaudit/core/merkle"
	"github.com/stigaudit/stigaudit/server/secretfile"
	"github.com/stigaudit/stigaudit/server/witness"
)

// Alert kinds.
const (
	KindRollback      = "rollback"
	KindFork          = "fork"
	KindBadSignature  = "bad_signature"
	KindNoQuorum      = "no_quorum"
	KindChangedEvent  = "changed_event"
	KindMissingEvents = "missing_events"
)

// Alert is evidence that the log is not the one the monitor verified
// before. It is an error.
type Alert struct {
	// Kind is one of the Kind constants.
	Kind string
	// Message says what was seen, with sizes and roots.
	Message string
}

func (a *Alert) Error() string { return a.Kind + ": " + a.Message }

func alertf(kind, format string, args ...any) *Alert {
	return &Alert{Kind: kind, Message: fmt.Sprintf(format, args...)}
}

// Config configures Open.
type Config struct {
	// Server is the stigaudit base URL, e.g. https://audit.example.com.
	Server string
	// APIKey reads the checkpoint, the proofs and every event: an admin
	// key (the log spans every tenant).
	APIKey string
	// Verifier is the log's checkpoint verifier key.
	Verifier note.Verifier
	// Policy, if set, requires the witness quorum on every checkpoint.
	Policy *witness.Policy
	// StateDir keeps the monitor's state (state.json).
	StateDir string
	// Client makes the requests; default http.DefaultClient.
	Client *http.Client
	// Tiles follows the log through its C2SP tlog-tiles (the checkpoint
	// and the level-0 hash tiles) instead of the proof and list routes, so
	// any read key will do. It proves every checkpoint consistent with the
	// kept one by recomputing its root from the kept compact range and the
	// new leaf hashes; the events' content is not read (an admin key in
	// the default mode checks it too).
	Tiles bool
}

// Monitor checks one log. It is not safe for concurrent use.
type Monitor struct {
	cfg   Config
	state state
}

// state is what the monitor keeps between rounds.
type state struct {
	// Checkpoint is the last verified checkpoint note, as served.
	Checkpoint string `json:"checkpoint"`
	// Size is its tree size, and Range the compact range of the first
	// Size leaves (hex hashes of its perfect subtrees, left to right).
	Size  uint64   `json:"size"`
	Range []string `json:"range"`
	// Cursor continues the event listing after its first CursorPos events
	// (the listing hands out no cursor at its end, so CursorPos may trail
	// Size; the events between are read again and skipped).
	Cursor    string `json:"cursor,omitempty"`
	CursorPos uint64 `json:"cursor_pos,omitempty"`
}

const stateFile = "state.json"

// Open loads the state of cfg.StateDir (none on a first run).
func Open(cfg Config) (*Monitor, error) {
	if cfg.Server == "" || cfg.Verifier == nil || cfg.StateDir == "" {
		return nil, errors.New("monitor: Config needs Server, Verifier and StateDir")
	}
	if cfg.Client == nil {
		cfg.Client = http.DefaultClient
	}
	if err := os.MkdirAll(cfg.StateDir, 0o700); err != nil {
		return nil, fmt.Errorf("monitor: %w", err)
	}
	m := &Monitor{cfg: cfg}
	b, err := os.ReadFile(filepath.Join(cfg.StateDir, stateFile))
	switch {
	case errors.Is(err, os.ErrNotExist):
	case err != nil:
		return nil, fmt.Errorf("monitor: %w", err)
	default:
		if err := json.Unmarshal(b, &m.state); err != nil {
			return nil, fmt.Errorf("monitor: %s: %w", filepath.Join(cfg.StateDir, stateFile), err)
		}
	}
	return m, nil
}

// Size is the size of the last verified checkpoint.
func (m *Monitor) Size() uint64 { return m.state.Size }

// Check runs one round. It returns nil when the newest checkpoint extends
// the kept one and every new event hashes into it (the state then moves
// on), an *Alert when the log is not what was verified before, or another
// error when the server could not be read (nothing is concluded).
func (m *Monitor) Check(ctx context.Context) error {
	if m.cfg.Tiles {
		return m.checkTiles(ctx)
	}
	// The newest signed checkpoint: a fork or rollback shows in it first,
	// witnessed or not.
	body, err := m.get(ctx, "/v1/audit/checkpoint?witnessed=0")
	if err != nil {
		return err
	}
	cp, err := checkpoint.Open(body, "", m.cfg.Verifier)
	if err != nil {
		return alertf(KindBadSignature, "the served checkpoint does not open with %s: %v", m.cfg.Verifier.Name(), err)
	}
	old := m.state
	if err := m.extends(ctx, old, cp); err != nil {
		return err
	}
	// With a policy, the state moves only to a checkpoint the witnesses
	// cosigned.
	if m.cfg.Policy != nil {
		w, wb, err := m.witnessed(ctx, cp.Size)
		if err != nil {
			return err
		}
		if err := m.extends(ctx, old, w); err != nil {
			return err
		}
		cp, body = w, wb
	}
	if old.Checkpoint != "" && cp.Size == old.Size {
		return nil
	}
	// The new events: each hashes to its leaf, and the leaves make the root.
	r, err := m.keptRange()
	if err != nil {
		return err
	}
	cursor, cursorPos := old.Cursor, old.CursorPos
	for r.End() < cp.Size {
		skip := r.End() - cursorPos
		q := url.Values{"limit": {strconv.FormatUint(min(1000, skip+cp.Size-r.End()), 10)}}
		if cursor != "" {
			q.Set("cursor", cursor)
		}
		pb, err := m.get(ctx, "/v1/admin/audit?"+q.Encode())
		if err != nil {
			return err
		}
		var page struct {
			Events     []json.RawMessage `json:"events"`
			NextCursor *string           `json:"next_cursor"`
		}
		if err := json.Unmarshal(pb, &page); err != nil {
			return fmt.Errorf("monitor: event page: %w", err)
		}
		before := r.End()
		last := int64(-1)
		for _, raw := range page.Events {
			seq, leaf, err := leafOf(raw)
			if err != nil {
				return alertf(KindChangedEvent, "event after seq %d: %v", int64(r.End())-1, err)
			}
			last = seq
			if seq >= 0 && uint64(seq) < r.End() {
				continue // read before; the cursor trails
			}
			if seq != int64(r.End()) {
				return alertf(KindMissingEvents, "the log lists seq %d where seq %d should be", seq, r.End())
			}
			if r.End() == cp.Size {
				break
			}
			if err := r.Append(leaf[:], nil); err != nil {
				return fmt.Errorf("monitor: %w", err)
			}
		}
		if page.NextCursor != nil && last >= 0 {
			cursor, cursorPos = *page.NextCursor, uint64(last)+1
		}
		if r.End() == before {
			return alertf(KindMissingEvents, "the checkpoint covers %d events but the log lists only %d", cp.Size, r.End())
		}
	}
	root := rfc6962.DefaultHasher.EmptyRoot()
	if r.End() > 0 {
		if root, err = r.GetRootHash(nil); err != nil {
			return fmt.Errorf("monitor: %w", err)
		}
	}
	if !bytes.Equal(root, cp.Root[:]) {
		return alertf(KindChangedEvent, "the events up to size %d make root %x, but the checkpoint signs %x", cp.Size, root, cp.Root)
	}
	return m.save(state{Checkpoint: string(body), Size: cp.Size, Cursor: cursor, CursorPos: cursorPos}, r)
}

// save makes next, with r's hashes as its range, the kept state.
func (m *Monitor) save(next state, r *compact.Range) error {
	next.Range = nil
	for _, h := range r.Hashes() {
		next.Range = append(next.Range, hex.EncodeToString(h))
	}
	b, _ := json.MarshalIndent(next, "", "  ")
	if err := secretfile.Write(filepath.Join(m.cfg.StateDir, stateFile), b); err != nil {
		return fmt.Errorf("monitor: saving state: %w", err)
	}
	m.state = next
	return nil
}

// keptRange is the compact range of the kept state's leaves.
func (m *Monitor) keptRange() (*compact.Range, error) {
	rf := &compact.RangeFactory{Hash: rfc6962.DefaultHasher.HashChildren}
	hashes := make([][]byte, len(m.state.Range))
	for i, h := range m.state.Range {
		var err error
		if hashes[i], err = hex.DecodeString(h); err != nil {
			return nil, fmt.Errorf("monitor: state: %w", err)
		}
	}
	r, err := rf.NewRange(0, m.state.Size, hashes)
	if err != nil {
		return nil, fmt.Errorf("monitor: state: %w", err)
	}
	return r, nil
}

// witnessed fetches the newest checkpoint meeting the witness quorum,
// checks the quorum and the log's signature, and returns it opened and as
// served. newest is the size of the newest signed one, for the alert.
func (m *Monitor) witnessed(ctx context.Context, newest uint64) (checkpoint.Checkpoint, []byte, error) {
	wb, code, err := m.fetch(ctx, "/v1/audit/checkpoint")
	switch {
	case err != nil:
		return checkpoint.Checkpoint{}, nil, err
	case code == http.StatusNotFound:
		return checkpoint.Checkpoint{}, nil, alertf(KindNoQuorum, "the server has no checkpoint meeting the witness quorum (its newest signed one is size %d)", newest)
	case code != http.StatusOK:
		return checkpoint.Checkpoint{}, nil, fmt.Errorf("monitor: GET /v1/audit/checkpoint: HTTP %d: %s", code, bytes.TrimSpace(wb))
	}
	if !m.cfg.Policy.Satisfied(wb) {
		return checkpoint.Checkpoint{}, nil, alertf(KindNoQuorum, "the served checkpoint carries no cosignatures meeting the witness quorum")
	}
	w, err := checkpoint.Open(wb, "", m.cfg.Verifier)
	if err != nil {
		return checkpoint.Checkpoint{}, nil, alertf(KindBadSignature, "the witnessed checkpoint does not open with %s: %v", m.cfg.Verifier.Name(), err)
	}
	return w, wb, nil
}

// extends proves cp consistent with the kept checkpoint of old: a smaller
// tree is a rollback, another root at the same size or a consistency proof
// that does not verify a fork.
func (m *Monitor) extends(ctx context.Context, old state, cp checkpoint.Checkpoint) error {
	if old.Checkpoint == "" {
		return nil
	}
	prev, err := checkpoint.Open([]byte(old.Checkpoint), "", m.cfg.Verifier)
	if err != nil {
		return fmt.Errorf("monitor: the kept checkpoint no longer opens: %w", err)
	}
	switch {
	case cp.Size < prev.Size:
		return alertf(KindRollback, "the log serves size %d (root %x) after size %d (root %x) was verified", cp.Size, cp.Root, prev.Size, prev.Root)
	case cp.Size == prev.Size && cp.Root != prev.Root:
		return alertf(KindFork, "size %d has root %x, but root %x was verified", cp.Size, cp.Root, prev.Root)
	case cp.Size == prev.Size || prev.Size == 0:
		return nil
	}
	var proof merkle.ConsistencyProof
	pb, err := m.get(ctx, fmt.Sprintf("/v1/audit/proof/consistency?from=%d&to=%d", prev.Size, cp.Size))
	if err != nil {
		return err
	}
	if err := proof.UnmarshalJSON(pb); err != nil {
		return fmt.Errorf("monitor: consistency proof: %w", err)
	}
	if err := proof.Verify(prev.Root, cp.Root); err != nil {
		return alertf(KindFork, "size %d (root %x) is not consistent with the verified size %d (root %x): %v", cp.Size, cp.Root, prev.Size, prev.Root, err)
	}
	return nil
}

// leafOf returns an event's seq and the leaf hash recomputed from its
// content; an event whose content retention purged (it keeps no
// entity_uri) keeps its stored leaf hash, which still binds its place.
func leafOf(raw []byte) (int64, [32]byte, error) {
	e, err := event.ParseEvent(raw)
	if err == nil && e.EntityURI != "" {
		got := event.LeafHash(event.AppendCanonical(nil, &e))
		var stored struct {
			LeafHash string `json:"leaf_hash"`
		}
		json.Unmarshal(raw, &stored)
		if stored.LeafHash != hex.EncodeToString(got[:]) {
			return e.Seq, got, fmt.Errorf("seq %d: its content hashes to %x, but the log gives leaf_hash %s", e.Seq, got, stored.LeafHash)
		}
		return e.Seq, got, nil
	}
	var purged struct {
		Seq       *int64 `json:"seq"`
		LeafHash  string `json:"leaf_hash"`
		EntityURI string `json:"entity_uri"`
	}
	if jerr := json.Unmarshal(raw, &purged); jerr != nil || purged.Seq == nil || purged.EntityURI != "" {
		return 0, [32]byte{}, fmt.Errorf("unreadable event: %v", err)
	}
	var leaf [32]byte
	if b, err := hex.DecodeString(purged.LeafHash); err != nil || len(b) != 32 {
		return *purged.Seq, leaf, fmt.Errorf("seq %d: leaf_hash %q", *purged.Seq, purged.LeafHash)
	} else {
		copy(leaf[:], b)
	}
	return *purged.Seq, leaf, nil
}

// get reads a route with the API key; a non-200 answer is an error.
func (m *Monitor) get(ctx context.Context, path string) ([]byte, error) {
	b, code, err := m.fetch(ctx, path)
	if err != nil {
		return nil, err
	}
	if code != http.StatusOK {
		return nil, fmt.Errorf("monitor: GET %s: HTTP %d: %s", path, code, bytes.TrimSpace(b))
	}
	return b, nil
}

// fetch reads a route with the API key and returns the body and status.
func (m *Monitor) fetch(ctx context.Context, path string) ([]byte, int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, m.cfg.Server+path, nil)
	if err != nil {
		return nil, 0, err
	}
	if m.cfg.APIKey != "" {
		req.Header.Set("Authorization", "Bearer "+m.cfg.APIKey)
	}
	resp, err := m.cfg.Client.Do(req)
	if err != nil {
		return nil, 0, fmt.Errorf("monitor: %w", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return nil, 0, fmt.Errorf("monitor: reading %s: %w", path, err)
	}
	return b, resp.StatusCode, nil
}
