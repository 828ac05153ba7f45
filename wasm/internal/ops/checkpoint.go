package ops

import (
	"github.com/stigaudit/stigaudit/core/auditerr"
	"github.com/stigaudit/stigaudit/core/merkle"
)

type openedCheckpoint struct {
	origin string
	size   uint64
	root   [merkle.HashSize]byte
}

func openCheckpoint(text, key string) (openedCheckpoint, error) {
	return openedCheckpoint{}, auditerr.Errorf(auditerr.ErrInvalidCheckpoint, "not yet available")
}
