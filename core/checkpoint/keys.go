package checkpoint

import (
	"strconv"

	"golang.org/x/mod/sumdb/note"

	"github.com/stigaudit/stigaudit/core/auditerr"
)

// KeyRange is one of a log's checkpoint keys with the tree sizes it may
// sign (docs/tamper-evidence.md#key-rotation): from From on, and up to Until once it is retired.
type KeyRange struct {
	// Verifier checks the key's signatures.
	Verifier note.Verifier
	// From is the smallest tree size the key signs.
	From uint64
	// Until is the largest tree size it signed before it was retired;
	// Retired is false while it is in use.
	Until   uint64
	Retired bool
}

// Covers reports whether the key may sign a checkpoint of size.
func (k KeyRange) Covers(size uint64) bool {
	return size >= k.From && (!k.Retired || size <= k.Until)
}

// Keys is a log's key history: every key it signed with, and when.
type Keys []KeyRange

// SingleKey is the history of a log that has only ever had v.
func SingleKey(v note.Verifier) Keys { return Keys{{Verifier: v}} }

// Open returns the checkpoint msg when some key of ks signed it and may
// sign its size. A checkpoint signed only by keys outside their sizes — a
// retired key signing beyond its last size, or a new key below its first —
// is refused even though the signature is valid: whoever holds an old key
// must not be able to extend the log. origin "" means the keys' name.
// Errors wrap auditerr.ErrInvalidCheckpoint.
func (ks Keys) Open(msg []byte, origin string) (Checkpoint, error) {
	if len(ks) == 0 {
		return Checkpoint{}, auditerr.Errorf(auditerr.ErrInvalidCheckpoint, "no verifier key to open the checkpoint with")
	}
	var first error
	for _, k := range ks {
		c, err := Open(msg, origin, k.Verifier)
		if err != nil {
			if first == nil {
				first = err
			}
			continue
		}
		if k.Covers(c.Size) {
			return c, nil
		}
		until := "on"
		if k.Retired {
			until = "to " + strconv.FormatUint(k.Until, 10)
		}
		first = auditerr.Errorf(auditerr.ErrInvalidCheckpoint,
			"the checkpoint of size %d is signed by %s+%s, which signs sizes from %d %s only (a retired or not yet valid key)",
			c.Size, k.Verifier.Name(), hex8(k.Verifier.KeyHash()), k.From, until)
	}
	return Checkpoint{}, first
}
