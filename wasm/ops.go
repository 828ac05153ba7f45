package wasm

import (
	"context"

	"github.com/stigaudit/stigaudit/core/auditerr"
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
