package storetest

import (
	"context"
	"testing"

	"github.com/stigaudit/stigaudit/core/event"
)

// CursorStore is what a store that keeps sink cursors implements (the
// SQLite and PostgreSQL stores).
type CursorStore interface {
	Append(ctx context.Context, events []event.Event) ([]event.Event, error)
	Cursor(ctx context.Context, name string) (int64, error)
	SaveCursor(ctx context.Context, name string, next int64) error
}

// RunCursors checks the cursor contract on s, which must hold an empty
// log: a cursor is created at the log's size, is kept per name, and only
// moves forward.
func RunCursors(t *testing.T, s CursorStore) {
	t.Helper()
	ctx := context.Background()
	mustAppend := func(n, from int) {
		t.Helper()
		if _, err := s.Append(ctx, NewEvents(from, n)); err != nil {
			t.Fatal(err)
		}
	}
	cursor := func(name string) int64 {
		t.Helper()
		n, err := s.Cursor(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	save := func(name string, next int64) {
		t.Helper()
		if err := s.SaveCursor(ctx, name, next); err != nil {
			t.Fatal(err)
		}
	}
	mustAppend(5, 0)
	if got := cursor("sink/a"); got != 5 {
		t.Fatalf("a new cursor is at %d, want the log's size 5", got)
	}
	mustAppend(3, 5)
	if got := cursor("sink/a"); got != 5 {
		t.Fatalf("an existing cursor moved to %d by itself, want 5", got)
	}
	if got := cursor("sink/b"); got != 8 {
		t.Fatalf("a second cursor is at %d, want 8", got)
	}
	save("sink/a", 7)
	save("sink/a", 6) // late: ignored
	if got := cursor("sink/a"); got != 7 {
		t.Fatalf("cursor at %d after saving 7 then 6, want 7", got)
	}
	save("sink/a", 8)
	if got, other := cursor("sink/a"), cursor("sink/b"); got != 8 || other != 8 {
		t.Fatalf("cursors a=%d b=%d, want 8 and 8", got, other)
	}
}
