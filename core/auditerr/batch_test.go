package auditerr

import (
	"errors"
	"testing"
)

func TestBatchError(t *testing.T) {
	var err error = &BatchError{Items: []*Error{
		AtIndex(Errorf(ErrMissingField, "entity_uri is required"), 0),
		AtIndex(Errorf(ErrUnknownField, "unknown field \"x\""), 3),
	}}
	if !errors.Is(err, ErrInvalidBatch) || CodeOf(err) != "invalid_batch" {
		t.Fatalf("code %q; want invalid_batch", CodeOf(err))
	}
	if errors.Is(err, ErrMissingField) {
		t.Error("the batch error takes on an item's code")
	}
	want := `invalid batch: 2 bad events: event 0: entity_uri is required; event 3: unknown field "x"`
	if err.Error() != want {
		t.Errorf("Error() = %s\nwant %s", err, want)
	}
	var be *BatchError
	if !errors.As(err, &be) || be.Items[1].Index != 3 || be.Items[1].Code != "unknown_field" {
		t.Errorf("items not reachable: %+v", be)
	}
}
