package auth

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stigaudit/stigaudit/core/auditerr"
)

// TestDefaultRevokeWindow pins the README's promise that a revocation by
// another process (the CLI, another replica) takes effect within 2 s: a
// cached verification is trusted for 2 s with the default Options, and not
// a moment longer.
func TestDefaultRevokeWindow(t *testing.T) {
	ctx := context.Background()
	db := openDB(t)
	clk := &fakeClock{now: time.Date(2026, 5, 3, 12, 0, 0, 0, time.UTC)}
	cheap := Params{Time: 1, Memory: 64, Threads: 1}
	k := New(table(db), Options{Clock: clk, Params: cheap}) // Recheck left to its default
	text, key, err := k.Create(ctx, Spec{EntityURI: "urn:a", Perms: PermRead})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := k.Verify(ctx, text); err != nil {
		t.Fatal(err)
	}
	// Another process revokes it: this one's cache does not hear of it.
	if err := New(table(db), Options{Params: cheap}).Revoke(ctx, key.ID); err != nil {
		t.Fatal(err)
	}
	clk.advance(2*time.Second - time.Millisecond)
	if _, err := k.Verify(ctx, text); err != nil {
		t.Fatalf("within the 2 s window the cached verification was not trusted: %v", err)
	}
	clk.advance(2 * time.Millisecond)
	if _, err := k.Verify(ctx, text); !errors.Is(err, auditerr.ErrUnauthorized) {
		t.Fatalf("2 s after a revocation elsewhere the key still works: %v", err)
	}
}

// TestDefaultParamsVerify: keys are hashed at the README's argon2id cost
// (OWASP's baseline: 19 MiB, 2 passes, 1 lane), and verify at it.
func TestDefaultParamsVerify(t *testing.T) {
	if testing.Short() {
		t.Skip("argon2id at production cost")
	}
	ctx := context.Background()
	db := openDB(t)
	k := New(table(db), Options{})
	text, key, err := k.Create(ctx, Spec{EntityURI: "urn:a", Perms: PermRead})
	if err != nil {
		t.Fatal(err)
	}
	var stored string
	if err := db.QueryRow(`SELECT hash FROM api_keys WHERE key_id = ?`, key.ID).Scan(&stored); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(stored, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Fatalf("stored hash %q is not argon2id at m=19456,t=2,p=1", stored)
	}
	if _, err := k.Verify(ctx, text); err != nil {
		t.Fatal(err)
	}
	last := byte('a')
	if text[len(text)-1] == 'a' {
		last = 'b'
	}
	wrong := text[:len(text)-1] + string(last)
	if _, err := New(table(db), Options{}).Verify(ctx, wrong); !errors.Is(err, auditerr.ErrUnauthorized) {
		t.Fatalf("a wrong secret verified: %v", err)
	}
}

// TestDefaultLimits pins the abuse limits the README states (the limiter's
// tests are written against DefaultLimits, so they would follow a change):
// 5 failures per key id and 20 per source within 10 s, a 10 s backoff
// doubling up to 5 min, a queued hash waiting at most 1 s.
func TestDefaultLimits(t *testing.T) {
	d := DefaultLimits
	if d.KeyFailures != 5 || d.SourceFailures != 20 || d.Window != 10*time.Second ||
		d.Backoff != 10*time.Second || d.MaxBackoff != 5*time.Minute || d.QueueWait != time.Second {
		t.Fatalf("DefaultLimits = %+v; the README states 5 and 20 failures in 10 s, a 10 s backoff up to 5 min, 1 s in the queue", d)
	}
}
