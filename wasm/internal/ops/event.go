package ops

import (
	"github.com/stigaudit/stigaudit/core/auditerr"
	"github.com/stigaudit/stigaudit/core/jcs"
	"github.com/stigaudit/stigaudit/core/merkle"
	"github.com/stigaudit/stigaudit/wasm/abi"
)

// eventOp returns the event operations (build_event, emit, classify,
// merge_detail, leaf_hash), or nil for an unknown name.
func eventOp(op string) opFunc {
	switch op {
	case abi.OpLeafHash:
		return leafHash
	}
	return nil
}

// leafHash: a JSON string → "<hex>", the RFC 6962 leaf hash of its UTF-8
// bytes (for a host that holds the canonical text of an event); an event
// object (canonical or API form) → "<hex>", the leaf hash of its canonical
// form.
func leafHash(dst []byte, _ *Host, in []byte) ([]byte, error) {
	c, err := jcs.Canonicalize(nil, in, inputLimits)
	if err != nil {
		return nil, err
	}
	var h [merkle.HashSize]byte
	switch c[0] {
	case '"':
		s, _ := jcs.Unquote(c)
		h = merkle.LeafHash([]byte(s))
	case '{':
		if h, err = eventLeafHash(c); err != nil {
			return nil, err
		}
	default:
		return nil, auditerr.Errorf(auditerr.ErrInvalidInput, "leaf_hash: input must be an event object or a JSON string")
	}
	dst = append(dst, '"')
	dst = merkle.AppendHex(dst, h[:])
	return append(dst, '"'), nil
}

// eventLeafHash returns the leaf hash of an event object.
func eventLeafHash(ev []byte) ([merkle.HashSize]byte, error) {
	return [merkle.HashSize]byte{}, auditerr.Errorf(auditerr.ErrInvalidInput, "not yet available")
}
