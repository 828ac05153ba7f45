package api

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"

	"github.com/stigaudit/stigaudit/core/auditerr"
	"github.com/stigaudit/stigaudit/core/merkle"
	"github.com/stigaudit/stigaudit/hostfns/memstore"
)

// signedAt proves against a log "signed" at a fixed size, as the
// checkpointer would after signing that size.
type signedAt struct {
	store *memstore.Store
	size  uint64
}

func (p signedAt) read(ctx context.Context) merkle.NodeReader {
	return func(ids []merkle.NodeID) ([][]byte, error) { return p.store.ReadNodes(ctx, ids) }
}

func (p signedAt) Inclusion(ctx context.Context, seq, size uint64) (merkle.InclusionProof, error) {
	if size == 0 {
		size = p.size
	}
	if seq >= size {
		return merkle.InclusionProof{}, auditerr.Errorf(auditerr.ErrNotFound, "seq %d is newer than the checkpoint", seq)
	}
	hashes, err := merkle.ProveInclusion(seq, size, p.read(ctx))
	if err != nil {
		return merkle.InclusionProof{}, err
	}
	leaves, err := p.store.LeafHashes(ctx, int64(seq), int64(seq)+1)
	if err != nil {
		return merkle.InclusionProof{}, err
	}
	pr := merkle.InclusionProof{Seq: seq, TreeSize: size, Hashes: hashes}
	copy(pr.LeafHash[:], leaves[0])
	return pr, nil
}

func TestReadsCarryInclusionProofsOnRequest(t *testing.T) {
	h := newHarness(t)
	for i := 0; i < 5; i++ {
		h.mustEmit(h.admin, ev("fact_write", "urn:a:alice", "fact_id", "f"))
	}
	ms := h.store.Store.(*memstore.Store)
	p := signedAt{store: ms, size: 3}
	h.e = mount(Config{Log: h.log, Keys: h.keys, Logger: quiet, Prover: p}, nil)

	nodes, err := ms.ReadNodes(context.Background(), merkle.RangeNodes(3))
	if err != nil {
		t.Fatal(err)
	}
	tree, err := merkle.ResumeTree(3, nodes)
	if err != nil {
		t.Fatal(err)
	}
	root := tree.Root()

	a := h.do(http.MethodGet, "/v1/admin/audit?proof=1", h.admin, nil)
	if a.status != http.StatusOK {
		t.Fatalf("status %d: %s", a.status, a.raw)
	}
	var body struct {
		Events []struct {
			Seq   int64           `json:"seq"`
			Proof json.RawMessage `json:"proof"`
		} `json:"events"`
	}
	if err := json.Unmarshal(a.raw, &body); err != nil {
		t.Fatal(err)
	}
	if len(body.Events) != 5 {
		t.Fatalf("%d events, want the 5 emitted", len(body.Events))
	}
	for _, e := range body.Events {
		if e.Seq >= 3 {
			if string(e.Proof) != "null" {
				t.Errorf("seq %d is newer than the checkpoint; proof = %s, want null", e.Seq, e.Proof)
			}
			continue
		}
		var pr merkle.InclusionProof
		if err := json.Unmarshal(e.Proof, &pr); err != nil {
			t.Fatalf("seq %d proof %s: %v", e.Seq, e.Proof, err)
		}
		if pr.Seq != uint64(e.Seq) || pr.TreeSize != 3 {
			t.Errorf("proof for seq %d names seq %d size %d", e.Seq, pr.Seq, pr.TreeSize)
		}
		if err := pr.Verify(root); err != nil {
			t.Errorf("seq %d: proof does not verify against the signed root: %v", e.Seq, err)
		}
	}

	for _, bad := range []string{"proof=maybe", "proof=1&proof=0"} {
		if a := h.do(http.MethodGet, "/v1/admin/audit?"+bad, h.admin, nil); a.status != 400 || a.code() != "invalid_parameter" {
			t.Errorf("%s: %d %s", bad, a.status, a.raw)
		}
	}
	// A server without a prover refuses the parameter rather than ignore it.
	h.e = mount(Config{Log: h.log, Keys: h.keys, Logger: quiet}, nil)
	if a := h.do(http.MethodGet, "/v1/admin/audit?proof=1", h.admin, nil); a.status != 400 {
		t.Errorf("proof without a prover: %d", a.status)
	}
	// proof is not a filter: a cursor from a page with proofs pages on without.
	h.e = mount(Config{Log: h.log, Keys: h.keys, Logger: quiet, Prover: p}, nil)
	first := h.do(http.MethodGet, "/v1/admin/audit?proof=1&limit=2", h.admin, nil)
	cur, _ := first.body["next_cursor"].(string)
	if a := h.do(http.MethodGet, "/v1/admin/audit?limit=2&cursor="+cur, h.admin, nil); a.status != 200 || len(a.events()) != 2 {
		t.Errorf("cursor across proof=1: %d %s", a.status, a.raw)
	}
}
