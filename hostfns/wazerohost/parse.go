package wazerohost

import (
	"bytes"

	"github.com/stigaudit/stigaudit/core/auditerr"
	"github.com/stigaudit/stigaudit/core/event"
)

// ParseCanonical parses the canonical form of one event, as store_append
// receives it, and returns the event with its leaf hash recomputed and Seq
// -1. Bytes that are not exactly the canonical form of the event they
// describe (another member order, white space, a seq or leaf_hash member)
// are refused with invalid_input, so what is stored is what was hashed.
func ParseCanonical(canonical []byte) (event.Event, error) {
	ev, err := event.ParseEvent(canonical)
	if err != nil {
		return event.Event{}, err
	}
	again := event.AppendCanonical(make([]byte, 0, len(canonical)), &ev)
	if !bytes.Equal(again, canonical) {
		return event.Event{}, auditerr.Errorf(auditerr.ErrInvalidInput, "store_append: the bytes are not the canonical form of an event")
	}
	ev.Seq = -1
	ev.LeafHash = event.LeafHash(canonical)
	return ev, nil
}
