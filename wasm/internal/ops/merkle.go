package ops

import (
	"strconv"

	"github.com/stigaudit/stigaudit/core/auditerr"
	"github.com/stigaudit/stigaudit/core/jcs"
	"github.com/stigaudit/stigaudit/core/merkle"
)

// merkleRoot: {"leaf_hashes":["<hex>",...]} → {"tree_size":n,"root":"<hex>"},
// the RFC 6962 root of those leaves in order.
func merkleRoot(dst []byte, _ *Host, in []byte) ([]byte, error) {
	o, err := parseObject(in, "merkle_root", "leaf_hashes")
	if err != nil {
		return nil, err
	}
	arr, err := o.raw("leaf_hashes")
	if err != nil {
		return nil, err
	}
	if arr[0] != '[' {
		return nil, auditerr.Errorf(auditerr.ErrInvalidField, `field "leaf_hashes" must be an array of hex strings`)
	}
	var t merkle.Tree
	it := jcs.Elements(arr)
	for it.Next() {
		h, err := hashValue(it.Member().Value, "leaf_hashes")
		if err != nil {
			return nil, err
		}
		t.Append(h)
	}
	if err := it.Err(); err != nil {
		return nil, err
	}
	dst = append(dst, `{"tree_size":`...)
	dst = strconv.AppendUint(dst, t.Size(), 10)
	dst = append(dst, `,"root":"`...)
	root := t.Root()
	dst = merkle.AppendHex(dst, root[:])
	return append(dst, `"}`...), nil
}

// hashValue decodes a canonical JSON string holding 64 hex digits.
func hashValue(v []byte, field string) ([merkle.HashSize]byte, error) {
	s, ok := jcs.Unquote(v)
	if !ok {
		return [merkle.HashSize]byte{}, auditerr.Errorf(auditerr.ErrInvalidField, "field %q must hold hex strings", field)
	}
	h, err := merkle.ParseHash(s)
	if err != nil {
		return h, auditerr.Errorf(auditerr.ErrInvalidField, "field %q: %v", field, err)
	}
	return h, nil
}

func (o object) hash(name string) ([merkle.HashSize]byte, error) {
	v, err := o.raw(name)
	if err != nil {
		return [merkle.HashSize]byte{}, err
	}
	return hashValue(v, name)
}

// verifyInclusion: {"proof":{"seq","tree_size","leaf_hash","hashes"},
// "root":"<hex>"} → {"seq":n,"tree_size":n,"leaf_hash":"<hex>","root":"<hex>"}
// when the proof leads to root, else an invalid_proof error. With "event"
// (an event object, canonical or API form) the leaf hash is recomputed from
// the event and must equal the proof's. With "checkpoint" and "key" instead
// of "root", the checkpoint's signature is verified and its root and size
// are used.
func verifyInclusion(dst []byte, _ *Host, in []byte) ([]byte, error) {
	o, err := parseObject(in, "verify_inclusion", "proof", "root", "event", "checkpoint", "key")
	if err != nil {
		return nil, err
	}
	pv, err := o.raw("proof")
	if err != nil {
		return nil, err
	}
	var p merkle.InclusionProof
	if err := p.UnmarshalJSON(pv); err != nil {
		return nil, err
	}
	root, size, err := o.rootFor("root", "checkpoint", p.TreeSize)
	if err != nil {
		return nil, err
	}
	if size != p.TreeSize {
		return nil, auditerr.Errorf(auditerr.ErrInvalidProof, "the proof is for a tree of size %d, the checkpoint has size %d", p.TreeSize, size)
	}
	if ev, ok := o["event"]; ok {
		lh, err := eventLeafHash(ev)
		if err != nil {
			return nil, err
		}
		if lh != p.LeafHash {
			return nil, auditerr.Errorf(auditerr.ErrInvalidProof, "the event's leaf hash %x is not the proof's %x", lh, p.LeafHash)
		}
	}
	if err := p.Verify(root); err != nil {
		return nil, err
	}
	dst = append(dst, `{"seq":`...)
	dst = strconv.AppendUint(dst, p.Seq, 10)
	dst = append(dst, `,"tree_size":`...)
	dst = strconv.AppendUint(dst, p.TreeSize, 10)
	dst = append(dst, `,"leaf_hash":"`...)
	dst = merkle.AppendHex(dst, p.LeafHash[:])
	dst = append(dst, `","root":"`...)
	dst = merkle.AppendHex(dst, root[:])
	return append(dst, `"}`...), nil
}

// verifyConsistency: {"proof":{"from","to","hashes"},"root1":"<hex>",
// "root2":"<hex>"} → {"from":n,"to":n,"root1":"<hex>","root2":"<hex>"} when
// the tree of size from is a prefix of the tree of size to, else an
// invalid_proof error. "checkpoint1"/"checkpoint2" with "key" may replace
// the roots.
func verifyConsistency(dst []byte, _ *Host, in []byte) ([]byte, error) {
	o, err := parseObject(in, "verify_consistency", "proof", "root1", "root2", "checkpoint1", "checkpoint2", "key")
	if err != nil {
		return nil, err
	}
	pv, err := o.raw("proof")
	if err != nil {
		return nil, err
	}
	var p merkle.ConsistencyProof
	if err := p.UnmarshalJSON(pv); err != nil {
		return nil, err
	}
	root1, size1, err := o.rootFor("root1", "checkpoint1", p.From)
	if err != nil {
		return nil, err
	}
	root2, size2, err := o.rootFor("root2", "checkpoint2", p.To)
	if err != nil {
		return nil, err
	}
	if size1 != p.From || size2 != p.To {
		return nil, auditerr.Errorf(auditerr.ErrInvalidProof, "the proof is from size %d to %d, the checkpoints have sizes %d and %d", p.From, p.To, size1, size2)
	}
	if err := p.Verify(root1, root2); err != nil {
		return nil, err
	}
	dst = append(dst, `{"from":`...)
	dst = strconv.AppendUint(dst, p.From, 10)
	dst = append(dst, `,"to":`...)
	dst = strconv.AppendUint(dst, p.To, 10)
	dst = append(dst, `,"root1":"`...)
	dst = merkle.AppendHex(dst, root1[:])
	dst = append(dst, `","root2":"`...)
	dst = merkle.AppendHex(dst, root2[:])
	return append(dst, `"}`...), nil
}

// rootFor returns the root to verify against: the hex member rootName, or
// the verified checkpoint in member cpName (with "key"). For a bare root the
// size is the one the proof claims.
func (o object) rootFor(rootName, cpName string, claimed uint64) ([merkle.HashSize]byte, uint64, error) {
	_, hasRoot := o[rootName]
	_, hasCP := o[cpName]
	switch {
	case hasRoot && hasCP:
		return [merkle.HashSize]byte{}, 0, auditerr.Errorf(auditerr.ErrInvalidInput, "give %q or %q, not both", rootName, cpName)
	case hasCP:
		text, err := o.str(cpName)
		if err != nil {
			return [merkle.HashSize]byte{}, 0, err
		}
		key, err := o.str("key")
		if err != nil {
			return [merkle.HashSize]byte{}, 0, err
		}
		cp, err := openCheckpoint(text, key)
		if err != nil {
			return [merkle.HashSize]byte{}, 0, err
		}
		return cp.Root, cp.Size, nil
	}
	h, err := o.hash(rootName)
	return h, claimed, err
}
