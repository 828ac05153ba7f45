package wasm

import (
	"context"
	"strconv"

	"github.com/stigaudit/stigaudit/core/auditerr"
	"github.com/stigaudit/stigaudit/core/checkpoint"
	"github.com/stigaudit/stigaudit/core/event"
	"github.com/stigaudit/stigaudit/core/jcs"
	"github.com/stigaudit/stigaudit/core/merkle"
	"github.com/stigaudit/stigaudit/wasm/abi"
)

// Canonicalize returns the RFC 8785 canonical form of the JSON text in,
// computed by the module.
func (r *Runtime) Canonicalize(ctx context.Context, in []byte) ([]byte, error) {
	v, err := r.Call(ctx, abi.OpCanonicalize, in)
	if err != nil {
		return nil, err
	}
	return unquote(v)
}

// MerkleRoot returns the RFC 6962 root of the given leaf hashes, in order.
func (r *Runtime) MerkleRoot(ctx context.Context, leaves [][merkle.HashSize]byte) ([merkle.HashSize]byte, error) {
	in := make([]byte, 0, 20+len(leaves)*67)
	in = append(in, `{"leaf_hashes":[`...)
	for i, h := range leaves {
		if i > 0 {
			in = append(in, ',')
		}
		in = append(in, '"')
		in = merkle.AppendHex(in, h[:])
		in = append(in, '"')
	}
	in = append(in, "]}"...)
	v, err := r.Call(ctx, abi.OpMerkleRoot, in)
	if err != nil {
		return [merkle.HashSize]byte{}, err
	}
	return hashMember(v, "root")
}

// VerifyInclusion checks p against root in the module. A nil error means
// the proof verifies; otherwise the error's code is invalid_proof (or an
// input code).
func (r *Runtime) VerifyInclusion(ctx context.Context, p *merkle.InclusionProof, root [merkle.HashSize]byte) error {
	in := append([]byte(`{"proof":`), p.AppendJSON(nil)...)
	in = append(in, `,"root":"`...)
	in = merkle.AppendHex(in, root[:])
	in = append(in, `"}`...)
	_, err := r.Call(ctx, abi.OpVerifyInclusion, in)
	return err
}

// VerifyConsistency checks p against the two roots in the module. A nil
// error means the proof verifies.
func (r *Runtime) VerifyConsistency(ctx context.Context, p *merkle.ConsistencyProof, root1, root2 [merkle.HashSize]byte) error {
	in := append([]byte(`{"proof":`), p.AppendJSON(nil)...)
	in = append(in, `,"root1":"`...)
	in = merkle.AppendHex(in, root1[:])
	in = append(in, `","root2":"`...)
	in = merkle.AppendHex(in, root2[:])
	in = append(in, `"}`...)
	_, err := r.Call(ctx, abi.OpVerifyConsistency, in)
	return err
}

func unquote(v []byte) ([]byte, error) {
	s, ok := jcs.Unquote(v)
	if !ok {
		return nil, auditerr.Errorf(auditerr.ErrPanic, "wasm: expected a JSON string, got %.64q", v)
	}
	return []byte(s), nil
}

// member returns the value of member name of the canonical-shaped object v.
func member(v []byte, name string) ([]byte, error) {
	it := jcs.Members(v)
	for it.Next() {
		if m := it.Member(); m.NameIs(name) {
			return m.Value, nil
		}
	}
	return nil, auditerr.Errorf(auditerr.ErrPanic, "wasm: the answer has no %q: %.64q", name, v)
}

func hashMember(v []byte, name string) ([merkle.HashSize]byte, error) {
	m, err := member(v, name)
	if err != nil {
		return [merkle.HashSize]byte{}, err
	}
	return hashString(m)
}

func hashString(v []byte) ([merkle.HashSize]byte, error) {
	s, ok := jcs.Unquote(v)
	if !ok {
		return [merkle.HashSize]byte{}, auditerr.Errorf(auditerr.ErrPanic, "wasm: expected a hex string, got %.64q", v)
	}
	return merkle.ParseHash(s)
}

// Skipped is the value build_event and emit answer for an instruction event
// whose fact is not an instruction fact: nothing is recorded (docs/event-format.md#instruction-events).
const Skipped = `{"skipped":"not_instruction"}`

// BuildEvent turns one draft event object into the event the server would
// store, in API form with "seq":null, or Skipped. The clock is the
// context's wazerohost.Services.Clock, else the system clock; the id, when
// the draft has none, is a UUIDv7 from the guest's WASI random source.
func (r *Runtime) BuildEvent(ctx context.Context, draft []byte) ([]byte, error) {
	return r.Call(ctx, abi.OpBuildEvent, draft)
}

// Emit builds the event as BuildEvent does and appends it to the store of
// the context's wazerohost.Services (store_append); the answer is the event
// with its seq, or Skipped. Store failures carry the codes of
// abi.StoreError (id_conflict, store_unavailable, forbidden, invalid_input).
// For an idempotent re-send the answer carries the stored seq but the ts
// and leaf_hash of the re-built event; Services.Appended sees the stored
// event itself.
func (r *Runtime) Emit(ctx context.Context, draft []byte) ([]byte, error) {
	return r.Call(ctx, abi.OpEmit, draft)
}

// Classify reports whether a fact is an instruction fact (docs/event-format.md#instruction-events); nil
// means JSON null.
func (r *Runtime) Classify(ctx context.Context, entity, relation, interpretAs *string) (bool, error) {
	in := []byte(`{"entity":`)
	in = appendOptString(in, entity)
	in = append(in, `,"relation":`...)
	in = appendOptString(in, relation)
	in = append(in, `,"interpret_as":`...)
	in = appendOptString(in, interpretAs)
	in = append(in, '}')
	v, err := r.Call(ctx, abi.OpClassify, in)
	if err != nil {
		return false, err
	}
	return string(v) == "true", nil
}

// MergeDetail returns the canonical detail of an instruction event for the
// fact and the caller's detail (a JSON object, or nil).
func (r *Runtime) MergeDetail(ctx context.Context, fact event.FactRef, detail []byte) ([]byte, error) {
	in := []byte(`{"fact":{"entity":`)
	in = appendOptString(in, fact.Entity)
	in = append(in, `,"relation":`...)
	in = appendOptString(in, fact.Relation)
	in = append(in, `,"interpret_as":`...)
	in = appendOptString(in, fact.InterpretAs)
	in = append(in, '}')
	if detail != nil {
		in = append(in, `,"detail":`...)
		in = append(in, detail...)
	}
	in = append(in, '}')
	return r.Call(ctx, abi.OpMergeDetail, in)
}

// LeafHash returns the leaf hash recomputed from an event object in API or
// canonical form (e.g. one line of an NDJSON export).
func (r *Runtime) LeafHash(ctx context.Context, ev []byte) ([merkle.HashSize]byte, error) {
	v, err := r.Call(ctx, abi.OpLeafHash, ev)
	if err != nil {
		return [merkle.HashSize]byte{}, err
	}
	return hashString(v)
}

// VerifyCheckpoint opens a signed checkpoint with the verifier key
// "<name>+<hash>+<base64>" in the module and returns what it commits to.
// The origin must be the key's name.
func (r *Runtime) VerifyCheckpoint(ctx context.Context, signed []byte, key string) (checkpoint.Checkpoint, error) {
	in := []byte(`{"checkpoint":`)
	in = jcs.AppendString(in, string(signed))
	in = append(in, `,"key":`...)
	in = jcs.AppendString(in, key)
	in = append(in, '}')
	v, err := r.Call(ctx, abi.OpVerifyCheckpoint, in)
	if err != nil {
		return checkpoint.Checkpoint{}, err
	}
	var cp checkpoint.Checkpoint
	o, err := member(v, "origin")
	if err != nil {
		return cp, err
	}
	origin, _ := jcs.Unquote(o)
	cp.Origin = origin
	s, err := member(v, "tree_size")
	if err != nil {
		return cp, err
	}
	if cp.Size, err = strconv.ParseUint(string(s), 10, 64); err != nil {
		return cp, auditerr.Errorf(auditerr.ErrPanic, "wasm: bad tree_size %q", s)
	}
	cp.Root, err = hashMember(v, "root")
	return cp, err
}

func appendOptString(b []byte, s *string) []byte {
	if s == nil {
		return append(b, "null"...)
	}
	return jcs.AppendString(b, *s)
}
