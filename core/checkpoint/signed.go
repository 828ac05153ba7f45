package checkpoint

import "time"

// Signed is a signed checkpoint as a log keeps it: the tree head, the
// signed note that carries it, and when it was signed.
type Signed struct {
	Checkpoint
	// Note is the C2SP signed note, what GET /v1/audit/checkpoint serves.
	Note []byte
	// Time is when it was signed.
	Time time.Time
}
