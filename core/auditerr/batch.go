package auditerr

import (
	"strconv"
	"strings"
)

// BatchError reports every bad item of a refused batch (docs/operations.md#batches: "a refused
// batch names every bad item by index"). Its code is invalid_batch:
// errors.Is(err, ErrInvalidBatch) holds and CodeOf returns "invalid_batch",
// while Items lets a caller list each item's own code and message.
type BatchError struct {
	// Items holds one error per bad item, in increasing Index order. Each
	// item's Index is its position in the batch.
	Items []*Error
}

// Error summarises the batch: how many items are bad and what each says.
func (e *BatchError) Error() string {
	var b strings.Builder
	b.WriteString("invalid batch: ")
	b.WriteString(strconv.Itoa(len(e.Items)))
	if len(e.Items) == 1 {
		b.WriteString(" bad event")
	} else {
		b.WriteString(" bad events")
	}
	for i, it := range e.Items {
		if i == 0 {
			b.WriteString(": ")
		} else {
			b.WriteString("; ")
		}
		b.WriteString(it.Error())
	}
	return b.String()
}

// Unwrap returns ErrInvalidBatch, so the batch as a whole carries the code
// invalid_batch.
func (e *BatchError) Unwrap() error { return ErrInvalidBatch }
