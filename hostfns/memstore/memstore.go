package memstore

import (
	"bytes"
	"context"
	"fmt"
	"sync"

	"github.com/transparency-dev/merkle/compact"
	"github.com/transparency-dev/merkle/rfc6962"

	"github.com/stigaudit/stigaudit/core/auditerr"
	"github.com/stigaudit/stigaudit/core/event"
	"github.com/stigaudit/stigaudit/hostfns"
)

var (
	_ hostfns.Store      = (*Store)(nil)
	_ hostfns.Getter     = (*Store)(nil)
	_ hostfns.TreeReader = (*Store)(nil)
)

// Store is an in-memory hostfns.Store. The zero value is not usable; call New.
// It is safe for concurrent use.
type Store struct {
	mu     sync.RWMutex
	events []event.Event
	byID   map[hostfns.EventKey]int64 // (tenant, id) -> seq
	tree   *compact.Range             // the compact range [0, len(events))
	nodes  [][][]byte                 // nodes[level][idx]: every perfect subtree hash, level 0 = leaves
	closed bool
}

// New returns an empty store.
func New() *Store {
	rf := &compact.RangeFactory{Hash: rfc6962.DefaultHasher.HashChildren}
	return &Store{byID: make(map[hostfns.EventKey]int64), tree: rf.NewEmptyRange(0)}
}

// Append stores events atomically, following the hostfns.Store contract.
func (s *Store) Append(ctx context.Context, events []event.Event) ([]event.Event, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, auditerr.Errorf(auditerr.ErrClosed, "memstore: append after Close")
	}
	answer, fresh, err := hostfns.PlanAppend(events, int64(len(s.events)), s.lookup)
	if err != nil {
		return nil, fmt.Errorf("memstore: append: %w", err)
	}
	for _, e := range fresh {
		e.Detail = bytes.Clone(e.Detail)
		leaf := e.LeafHash
		err := s.tree.Append(leaf[:], func(id compact.NodeID, hash []byte) {
			for uint(len(s.nodes)) <= id.Level {
				s.nodes = append(s.nodes, nil)
			}
			s.nodes[id.Level] = append(s.nodes[id.Level], hash)
		})
		if err != nil {
			// Append fails only on a corrupted range, which we never build.
			panic(fmt.Sprintf("memstore: compact range: %v", err))
		}
		s.events = append(s.events, e)
		s.byID[hostfns.KeyOf(&e)] = e.Seq
	}
	for i := range answer {
		answer[i].Detail = bytes.Clone(answer[i].Detail)
	}
	return answer, nil
}

// lookup finds a stored event by tenant and id; s.mu is held.
func (s *Store) lookup(k hostfns.EventKey) (event.Event, bool) {
	seq, ok := s.byID[k]
	if !ok {
		return event.Event{}, false
	}
	return s.events[seq], true
}

// Query returns one page of matching events.
func (s *Store) Query(ctx context.Context, q hostfns.Query) (hostfns.Page, error) {
	if err := q.Check(); err != nil {
		return hostfns.Page{}, fmt.Errorf("memstore: query: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return hostfns.Page{}, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	n := int64(len(s.events))
	start, step := q.After+1, int64(1)
	if q.Order == hostfns.Descending {
		start, step = n-1, -1
		if q.After >= 0 && q.After-1 < start {
			start = q.After - 1
		}
	}
	var page hostfns.Page
	for seq := start; seq >= 0 && seq < n; seq += step {
		e := &s.events[seq]
		if !matches(e, &q) {
			continue
		}
		if len(page.Events) == q.Limit {
			page.HasMore = true
			break
		}
		c := *e
		c.Detail = bytes.Clone(e.Detail)
		page.Events = append(page.Events, c)
	}
	return page, nil
}

func matches(e *event.Event, q *hostfns.Query) bool {
	if len(q.Types) > 0 {
		found := false
		for _, t := range q.Types {
			found = found || t == e.Type
		}
		if !found {
			return false
		}
	}
	return (q.Tenant == "" || e.Tenant == q.Tenant) &&
		(q.EntityURI == "" || e.EntityURI == q.EntityURI) &&
		(q.OIDCSub == "" || e.OIDCSub == q.OIDCSub) &&
		(q.Source == nil || e.Source == *q.Source) &&
		(q.FactID == "" || e.FactID == q.FactID) &&
		(q.Outcome == "" || e.Outcome == q.Outcome) &&
		(q.Scope == "" || e.Scope == q.Scope) &&
		(q.Attested == nil || (e.AttestedKeyID != "") == *q.Attested) &&
		(q.Since == "" || e.TS >= q.Since) &&
		(q.Until == "" || e.TS < q.Until)
}

// Get returns the event of tenant with this id, or an error wrapping
// auditerr.ErrNotFound.
func (s *Store) Get(ctx context.Context, tenant, id string) (event.Event, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	e, ok := s.lookup(hostfns.EventKey{Tenant: tenant, ID: id})
	if !ok {
		return event.Event{}, auditerr.Errorf(auditerr.ErrNotFound, "no event with id %s", id)
	}
	e.Detail = bytes.Clone(e.Detail)
	return e, nil
}

// Size returns the number of stored events.
func (s *Store) Size(ctx context.Context) (int64, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return int64(len(s.events)), nil
}

// Ping reports ErrClosed after Close, nil otherwise.
func (s *Store) Ping(ctx context.Context) error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return auditerr.Errorf(auditerr.ErrClosed, "memstore: closed")
	}
	return nil
}

// Close makes later Appends fail with ErrClosed. Reads keep working.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	return nil
}

// ReadNodes returns the hashes of perfect subtrees (level 0: leaf hashes).
func (s *Store) ReadNodes(ctx context.Context, ids []compact.NodeID) ([][]byte, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([][]byte, len(ids))
	for i, id := range ids {
		if id.Level >= uint(len(s.nodes)) || id.Index >= uint64(len(s.nodes[id.Level])) {
			return nil, auditerr.Errorf(auditerr.ErrNotFound, "memstore: tree node (%d, %d) is not complete", id.Level, id.Index)
		}
		out[i] = bytes.Clone(s.nodes[id.Level][id.Index])
	}
	return out, nil
}

// LeafHashes returns the leaf hashes of seqs [from, to).
func (s *Store) LeafHashes(ctx context.Context, from, to int64) ([][]byte, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if from < 0 || to < from || to > int64(len(s.events)) {
		return nil, auditerr.Errorf(auditerr.ErrNotFound, "memstore: leaves [%d, %d) not stored (size %d)", from, to, len(s.events))
	}
	out := make([][]byte, 0, to-from)
	for seq := from; seq < to; seq++ {
		h := s.events[seq].LeafHash
		out = append(out, h[:])
	}
	return out, nil
}
