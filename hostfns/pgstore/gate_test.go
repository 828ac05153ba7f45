package pgstore

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"testing"
	"time"
)

// TestGate drives the dial gate with a fake clock: 10 s of refused dials
// under an attempt every millisecond cost a handful of dials, the others
// fail at once with ErrDown, the first started session ends the outage, and
// a connection closed before its session started counts as a failure.
func TestGate(t *testing.T) {
	ctx := context.Background()
	now := time.Unix(1_700_000_000, 0)
	up := false
	dials := 0
	g := newGate(func(context.Context, string, string) (net.Conn, error) {
		dials++
		if !up {
			return nil, errors.New("connect: connection refused")
		}
		c, other := net.Pipe()
		t.Cleanup(func() { other.Close() })
		return c, nil
	}, slog.New(slog.DiscardHandler))
	g.now = func() time.Time { return now }

	refused := 0
	for range 10_000 {
		_, err := g.dialContext(ctx, "tcp", "db:5432")
		if err == nil {
			t.Fatal("a dial succeeded while the server was down")
		}
		if errors.Is(err, ErrDown) {
			refused++
		}
		now = now.Add(time.Millisecond)
	}
	// 50, 100, 200, 400, 800 ms, then one a second: 5 + 9 and the first.
	if dials > 16 || dials < 10 {
		t.Errorf("%d dials in 10 s of outage at 1,000 attempts a second, want about 15", dials)
	}
	if st := g.stats(); !st.Down || st.Outages != 1 || st.Dials != uint64(dials) || st.Refused != uint64(refused) || refused != 10_000-dials {
		t.Errorf("stats %+v with %d dials, %d refused", st, dials, refused)
	}

	// The server returns: within a second the probe dials and its session
	// starts.
	up = true
	var conn net.Conn
	for i := 0; conn == nil; i++ {
		if i > 1000 {
			t.Fatal("no probe within 1 s of the server's return")
		}
		conn, _ = g.dialContext(ctx, "tcp", "db:5432")
		now = now.Add(time.Millisecond)
	}
	g.started(conn)
	if g.stats().Down {
		t.Fatal("still down after a session started")
	}
	// Up: every attempt dials.
	before := dials
	for range 3 {
		c, err := g.dialContext(ctx, "tcp", "db:5432")
		if err != nil {
			t.Fatal(err)
		}
		g.started(c)
	}
	if dials != before+3 {
		t.Errorf("%d dials for 3 attempts while up", dials-before)
	}
	// A session that fails to start (e.g. "the database system is
	// shutting down") turns it down.
	c, err := g.dialContext(ctx, "tcp", "db:5432")
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	if st := g.stats(); !st.Down || st.Outages != 2 {
		t.Errorf("after a failed start-up: %+v, want down, 2 outages", st)
	}
	if conn.Close(); g.stats().Outages != 2 {
		t.Error("closing a started session counted as a failure")
	}
}
