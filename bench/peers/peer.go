package main

import "context"

// A peer is one system under test. Open prepares a fresh store in dir and
// returns the call that appends one unit of work durably: PerCall events,
// acknowledged only once they would survive a power loss.
type peer struct {
	// Name is the peer's row label in the table.
	Name string
	// PerCall is the number of events one call appends (1, or a batch).
	PerCall int
	// Open makes a fresh store in dir.
	Open func(ctx context.Context, dir string) (*session, error)
}

// A session is one open store: Call appends the events of call i of
// writer w, and Close releases the store.
type session struct {
	Call  func(ctx context.Context, w, i int) error
	Close func() error
}
