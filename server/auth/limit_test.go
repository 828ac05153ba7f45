package auth

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stigaudit/stigaudit/core/auditerr"
)

// wrongSecret returns text with its secret replaced.
func wrongSecret(text string, c byte) string {
	return text[:len(text)-secChars] + strings.Repeat(string(c), secChars)
}

// unknownKey returns a well-formed key whose id is not stored.
func unknownKey(i int) string {
	id := []byte("unknownkeyaaaaaa")
	id[len(id)-1] = 'a' + byte(i%26)
	id[len(id)-2] = 'a' + byte(i/26%26)
	id[len(id)-3] = 'a' + byte(i/676%26)
	return "sa_" + string(id) + "_" + strings.Repeat("s", secChars)
}

func from(source string) context.Context { return WithSource(context.Background(), source) }

// retryOf returns the Retry-After an error carries, failing unless it is a
// rate_limited refusal.
func retryOf(t *testing.T, err error) time.Duration {
	t.Helper()
	wantCode(t, err, ErrRateLimited.Code)
	var r *Retry
	if !errors.As(err, &r) || r.After < time.Second {
		t.Fatalf("error %v carries no Retry-After of at least 1 s", err)
	}
	return r.After
}

func TestKeyIDLimitRefusesAtOnceAndBacksOff(t *testing.T) {
	f := newFixture(t)
	text, key := f.create(t, Spec{EntityURI: "urn:a", Perms: PermRead})
	other, _ := f.create(t, Spec{EntityURI: "urn:b", Perms: PermRead})
	for i := 0; i < DefaultLimits.KeyFailures; i++ {
		_, err := f.keys.Verify(from("10.0.0.1"), wrongSecret(text, byte('a'+i)))
		wantCode(t, err, auditerr.ErrUnauthorized.Code)
	}
	hashes := f.hash.n.Load()
	// Further attempts for the key id, even with the right secret and
	// from another address, are refused at once, without argon2id work.
	after := retryOf(t, func() error { _, err := f.keys.Verify(from("10.0.0.2"), text); return err }())
	if f.hash.n.Load() != hashes {
		t.Fatal("a refused attempt computed argon2id")
	}
	if after > DefaultLimits.Backoff {
		t.Errorf("Retry-After %v, want at most the backoff %v", after, DefaultLimits.Backoff)
	}
	// Another key is not affected.
	f.mustVerify(t, other)
	// Every failure naming the stored id was counted, refusals included.
	if got := f.keys.Failures(key.ID); got != float64(DefaultLimits.KeyFailures+1) {
		t.Errorf("stigaudit_auth_failures_total{key_id} = %v, want %d", got, DefaultLimits.KeyFailures+1)
	}
	// After the backoff the key verifies again.
	f.clock.advance(DefaultLimits.Backoff)
	f.mustVerify(t, text)

	// A second block on the same id lasts twice as long.
	for i := 0; i < DefaultLimits.KeyFailures; i++ {
		_, _ = f.keys.Verify(from("10.0.0.1"), wrongSecret(text, byte('a'+i)))
	}
	f.keys.forget(key.ID) // drop the cached success: only uncached attempts are limited
	f.clock.advance(DefaultLimits.Backoff)
	retryOf(t, func() error { _, err := f.keys.Verify(from("10.0.0.2"), text); return err }())
	f.clock.advance(DefaultLimits.Backoff)
	f.mustVerify(t, text)
}

func TestCachedKeyIsNotLimited(t *testing.T) {
	f := newFixture(t)
	text, _ := f.create(t, Spec{EntityURI: "urn:a", Perms: PermRead})
	f.mustVerify(t, text)
	for i := 0; i < 3*DefaultLimits.KeyFailures; i++ {
		_, _ = f.keys.Verify(from("10.0.0.1"), wrongSecret(text, byte('a'+i%26)))
	}
	// The holder of the key keeps working while its id is under attack.
	f.mustVerify(t, text)
}

func TestSourceLimit(t *testing.T) {
	f := newFixture(t)
	text, key := f.create(t, Spec{EntityURI: "urn:a", Perms: PermRead})
	for i := 0; i < DefaultLimits.SourceFailures; i++ {
		_, err := f.keys.Verify(from("10.0.0.1"), unknownKey(i))
		wantCode(t, err, auditerr.ErrUnauthorized.Code)
	}
	hashes := f.hash.n.Load()
	_, err := f.keys.Verify(from("10.0.0.1"), text)
	retryOf(t, err)
	if f.hash.n.Load() != hashes {
		t.Fatal("a refused attempt computed argon2id")
	}
	// Refused for its address, the attempt still counts against the
	// stored key id it named, which this process had never seen fail.
	if got := f.keys.Failures(key.ID); got != 1 {
		t.Errorf("stigaudit_auth_failures_total{key_id} = %v, want 1", got)
	}
	// Another address is not affected; an IPv6 /64 is one source.
	f.mustVerify(t, text)
	if Source("[2001:db8::1]:443") != Source("[2001:db8::ffff]:80") || Source("10.0.0.1:5") != "10.0.0.1" {
		t.Errorf("Source: %q %q %q", Source("[2001:db8::1]:443"), Source("[2001:db8::ffff]:80"), Source("10.0.0.1:5"))
	}
}

func TestUnknownRevokedAndWrongKeysPayOneHashEach(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	text, key := f.create(t, Spec{EntityURI: "urn:a", Perms: PermRead})
	revoked, rkey := f.create(t, Spec{EntityURI: "urn:b", Perms: PermRead})
	if err := f.keys.Revoke(ctx, rkey.ID); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ name, text string }{
		{"unknown id", unknownKey(1)},
		{"revoked", revoked},
		{"wrong secret", wrongSecret(text, 'z')},
	} {
		before := f.hash.n.Load()
		_, err := f.keys.Verify(ctx, tc.text)
		wantCode(t, err, auditerr.ErrUnauthorized.Code)
		if got := f.hash.n.Load() - before; got != 1 {
			t.Errorf("%s: %d argon2id computations, want 1 (the same cost as any other bad key)", tc.name, got)
		}
	}
	if f.keys.Failures(key.ID) != 1 || f.keys.Failures(rkey.ID) != 1 {
		t.Errorf("failures: %v %v, want 1 and 1", f.keys.Failures(key.ID), f.keys.Failures(rkey.ID))
	}
}

func TestQueuedHashGivesUp(t *testing.T) {
	db := openDB(t)
	release := make(chan struct{})
	var once sync.Once
	entered := make(chan struct{})
	block := func(secret, salt []byte, p Params, keyLen uint32) []byte {
		if string(secret) == strings.Repeat("b", secChars) {
			once.Do(func() { close(entered) })
			<-release
		}
		return argon2ID(secret, salt, p, keyLen)
	}
	k := New(table(db), Options{Hash: block, Params: Params{Time: 1, Memory: 64, Threads: 1}, MaxHashes: 1,
		Limits: Limits{QueueWait: 50 * time.Millisecond}})
	text, _, err := k.Create(context.Background(), Spec{EntityURI: "urn:a", Perms: PermRead})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, _ = k.Verify(context.Background(), wrongSecret(text, 'b')) // holds the only slot
	}()
	<-entered
	start := time.Now()
	_, err = k.Verify(from("10.0.0.9"), unknownKey(3))
	retryOf(t, err)
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("the queued attempt gave up after %v, want about the 50 ms QueueWait", d)
	}
	close(release)
	<-done
}

func TestExpiredKey(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	exp := f.clock.Now().Add(time.Hour)
	text, key := f.create(t, Spec{EntityURI: "urn:a", Perms: PermRead, ExpiresAt: exp})
	if !key.ExpiresAt.Equal(exp) {
		t.Fatalf("ExpiresAt = %v, want %v", key.ExpiresAt, exp)
	}
	p, err := f.keys.Verify(ctx, text)
	if err != nil || !p.ExpiresAt.Equal(exp) {
		t.Fatalf("verify before expiry: %+v, %v", p, err)
	}
	f.clock.advance(time.Hour)
	_, err = f.keys.Verify(ctx, text) // cached
	wantCode(t, err, ErrKeyExpired.Code)
	_, err = f.keys.Verify(ctx, text) // looked up again
	wantCode(t, err, ErrKeyExpired.Code)
	// Only the holder of the secret learns that the key expired.
	_, err = f.keys.Verify(ctx, wrongSecret(text, 'q'))
	wantCode(t, err, auditerr.ErrUnauthorized.Code)

	list, err := f.keys.List(ctx)
	if err != nil || len(list) != 1 || !list[0].ExpiresAt.Equal(exp) || !list[0].Expired(f.clock.Now()) {
		t.Fatalf("list: %+v, %v", list, err)
	}
	_, _, err = f.keys.Create(ctx, Spec{EntityURI: "urn:a", Perms: PermRead, ExpiresAt: f.clock.Now().Add(-time.Second)})
	wantCode(t, err, auditerr.ErrInvalidInput.Code)
}

func TestWatchContextEndsOnRevocation(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	text, key := f.create(t, Spec{EntityURI: "urn:a", Perms: PermRead})
	p, err := f.keys.Verify(ctx, text)
	if err != nil {
		t.Fatal(err)
	}

	// Revoked here: at once.
	wctx, stop := f.keys.WatchContext(ctx, p)
	defer stop()
	if err := f.keys.Revoke(ctx, key.ID); err != nil {
		t.Fatal(err)
	}
	select {
	case <-wctx.Done():
	case <-time.After(time.Second):
		t.Fatal("the watch did not end when the key was revoked here")
	}
	if cause := context.Cause(wctx); !errors.Is(cause, ErrKeyRevoked) {
		t.Fatalf("cause %v, want key_revoked", cause)
	}

	// Revoked by another process sharing the database: within WatchEvery.
	text2, key2 := f.create(t, Spec{EntityURI: "urn:b", Perms: PermRead})
	p2, err := f.keys.Verify(ctx, text2)
	if err != nil {
		t.Fatal(err)
	}
	wctx2, stop2 := f.keys.WatchContext(ctx, p2)
	defer stop2()
	other := New(table(f.db), Options{})
	start := time.Now()
	if err := other.Revoke(ctx, key2.ID); err != nil {
		t.Fatal(err)
	}
	select {
	case <-wctx2.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("the watch did not end after another process revoked the key")
	}
	if cause := context.Cause(wctx2); !errors.Is(cause, ErrKeyRevoked) {
		t.Fatalf("cause %v, want key_revoked", cause)
	}
	t.Logf("revocation by another process seen after %v", time.Since(start))

	// A watch stopped normally is not cancelled with a key error, and the
	// poller stops when nothing is watched.
	text3, _ := f.create(t, Spec{EntityURI: "urn:c", Perms: PermRead})
	p3, _ := f.keys.Verify(ctx, text3)
	wctx3, stop3 := f.keys.WatchContext(ctx, p3)
	stop3()
	if cause := context.Cause(wctx3); errors.Is(cause, ErrKeyRevoked) {
		t.Fatalf("cause %v after stop", cause)
	}
}

func TestWatchContextEndsOnExpiry(t *testing.T) {
	f := newFixture(t)
	p := Principal{KeyID: "expiringkeyaaaaa", ExpiresAt: f.clock.Now().Add(50 * time.Millisecond)}
	wctx, stop := f.keys.WatchContext(context.Background(), p)
	defer stop()
	select {
	case <-wctx.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("the watch did not end when the key expired")
	}
	if cause := context.Cause(wctx); !errors.Is(cause, ErrKeyExpired) {
		t.Fatalf("cause %v, want key_expired", cause)
	}
}
