// Package natstest is test support for code that publishes to NATS
// JetStream: a stream name of its own for each test, removed afterwards,
// and what the stream ended up holding. It talks to a real server (the
// URL in STIGAUDIT_TEST_NATS_URL, typically nats://127.0.0.1:4222 with
// JetStream); without one the test is skipped.
package natstest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Env names the variable holding the test server's URL.
const Env = "STIGAUDIT_TEST_NATS_URL"

// EnvRequire, set to 1 (CI does), turns the skip without a server into a
// failure, so a machine without NATS cannot pass by skipping.
const EnvRequire = "STIGAUDIT_REQUIRE_NATS"

// URL returns the test server's URL, or skips the test when none is set
// (fails it with EnvRequire=1).
func URL(t testing.TB) string {
	t.Helper()
	server := os.Getenv(Env)
	if server == "" && os.Getenv(EnvRequire) == "1" {
		t.Fatalf("no NATS server: %s is unset and %s=1", Env, EnvRequire)
	}
	if server == "" {
		t.Skipf("NATS test skipped: set %s (e.g. nats://127.0.0.1:4222, a server with JetStream) to run it", Env)
	}
	return server
}

// NewStream returns a fresh stream name ("<base>_<random hex>") and the
// matching lower-case subject prefix, and deletes the stream from server
// when the test ends.
func NewStream(t testing.TB, server, base string) (stream, prefix string) {
	t.Helper()
	var b [4]byte
	rand.Read(b[:])
	stream = base + "_" + hex.EncodeToString(b[:])
	t.Cleanup(func() {
		if err := Delete(server, stream); err != nil {
			t.Errorf("deleting stream %s: %v", stream, err)
		}
	})
	return stream, strings.ToLower(stream)
}

// Delete removes stream from server; a stream that does not exist is not
// an error.
func Delete(server, stream string) error {
	nc, err := nats.Connect(server)
	if err != nil {
		return err
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := js.DeleteStream(ctx, stream); err != nil && !errors.Is(err, jetstream.ErrStreamNotFound) {
		return err
	}
	return nil
}

// Messages returns every message stream holds, in stream order.
func Messages(t testing.TB, server, stream string) []jetstream.RawStreamMsg {
	t.Helper()
	var out []jetstream.RawStreamMsg
	withStream(t, server, stream, func(ctx context.Context, s jetstream.Stream, st jetstream.StreamState) {
		for seq := st.FirstSeq; seq <= st.LastSeq && st.Msgs > 0; seq++ {
			m, err := s.GetMsg(ctx, seq)
			if err != nil {
				t.Fatalf("stream %s, message %d: %v", stream, seq, err)
			}
			out = append(out, *m)
		}
	})
	return out
}

// Count returns the number of messages stream holds.
func Count(t testing.TB, server, stream string) int {
	t.Helper()
	var n int
	withStream(t, server, stream, func(_ context.Context, _ jetstream.Stream, st jetstream.StreamState) {
		n = int(st.Msgs)
	})
	return n
}

// withStream calls f with stream and its current state.
func withStream(t testing.TB, server, stream string, f func(context.Context, jetstream.Stream, jetstream.StreamState)) {
	t.Helper()
	nc, err := nats.Connect(server)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := js.Stream(ctx, stream)
	if err != nil {
		t.Fatalf("stream %s: %v", stream, err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatalf("stream %s: %v", stream, err)
	}
	f(ctx, s, info.State)
}
