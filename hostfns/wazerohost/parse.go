package wazerohost

import (
	"github.com/stigaudit/stigaudit/core/auditerr"
	"github.com/stigaudit/stigaudit/core/event"
)

// ParseCanonical parses the canonical form of one event, as store_append
// receives it, and returns the event with its leaf hash recomputed and Seq
// -1. Bytes that are not exactly the canonical form of the event they
// describe are refused (invalid_input), so what is stored is what is hashed.
func ParseCanonical(canonical []byte) (event.Event, error) {
	return event.Event{}, auditerr.Errorf(auditerr.ErrInvalidInput, "not yet available")
}
