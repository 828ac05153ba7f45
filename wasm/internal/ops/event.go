package ops

import (
	"github.com/stigaudit/stigaudit/core/auditerr"
	"github.com/stigaudit/stigaudit/core/merkle"
)

// eventOp returns the event operations (build_event, emit, classify,
// merge_detail, leaf_hash), or nil for an unknown name.
func eventOp(op string) opFunc {
	return nil
}

// eventLeafHash returns the leaf hash of an event object.
func eventLeafHash(ev []byte) ([merkle.HashSize]byte, error) {
	return [merkle.HashSize]byte{}, auditerr.Errorf(auditerr.ErrInvalidInput, "not yet available")
}
