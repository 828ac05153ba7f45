package api

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stigaudit/stigaudit/hostfns"
	"github.com/stigaudit/stigaudit/server/auth"
)

// doFrom sends a GET from remote (host:port) and returns the recorder.
func (h *harness) doFrom(remote, target, key string) *httptest.ResponseRecorder {
	h.t.Helper()
	req := httptest.NewRequest(http.MethodGet, target, nil)
	req.RemoteAddr = remote
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	rec := httptest.NewRecorder()
	h.e.ServeHTTP(rec, req)
	return rec
}

// unknownKeyText is a well-formed key whose id is not stored.
func unknownKeyText(i int) string {
	id := []byte("garbagekeyaaaaaa")
	id[15] = 'a' + byte(i%26)
	id[14] = 'a' + byte(i/26%26)
	id[13] = 'a' + byte(i/676%26)
	return "sa_" + string(id) + "_" + strings.Repeat("q", 52)
}

// authFailedFor counts the stored auth_failed events whose detail names keyID.
func (h *harness) authFailedFor(keyID string) int {
	h.t.Helper()
	n := 0
	after := int64(-1)
	for {
		page, err := h.log.Query(context.Background(), hostfns.Query{Types: []string{"auth_failed"}, Order: hostfns.Ascending, After: after, Limit: 1000})
		if err != nil {
			h.t.Fatal(err)
		}
		for _, e := range page.Events {
			if strings.Contains(string(e.Detail), `"key_id":"`+keyID+`"`) {
				n++
			}
			after = e.Seq
		}
		if !page.HasMore {
			return n
		}
	}
}

func TestFailedAuthenticationIsAuditedWithinABudget(t *testing.T) {
	h := newHarness(t)
	before := h.size()
	for i := 0; i < 3*authFailedSourceBurst; i++ {
		rec := h.doFrom("192.0.2.1:1000", "/v1/audit", unknownKeyText(i))
		if rec.Code != http.StatusUnauthorized && rec.Code != http.StatusTooManyRequests {
			t.Fatalf("status %d, want 401 or 429", rec.Code)
		}
	}
	stored := h.size() - before
	if stored < 1 || stored > authFailedSourceBurst+2 {
		t.Fatalf("%d auth_failed events stored for %d failures from one address; want 1..%d (budgeted)", stored, 3*authFailedSourceBurst, authFailedSourceBurst+2)
	}
	page, err := h.log.Query(context.Background(), hostfns.Query{Types: []string{"auth_failed"}, Order: hostfns.Descending, After: -1, Limit: 1})
	if err != nil || len(page.Events) != 1 {
		t.Fatalf("query: %v, %d events", err, len(page.Events))
	}
	e := page.Events[0]
	if e.Outcome != "denied" || e.EntityURI != authFailedActor {
		t.Errorf("event = %+v", e)
	}
	if !strings.Contains(string(e.Detail), `"key_id":"garbagekeyaaa`) || strings.Contains(string(e.Detail), "qqqq") {
		t.Errorf("detail %s: want the public key id and never the secret", e.Detail)
	}
}

// A flood of garbage keys from one address cannot spend the recording
// budget of guesses against a real key id from another, and every guess
// against the real id is counted.
func TestGarbageFloodLeavesRealKeyGuessesRecorded(t *testing.T) {
	h := newHarness(t)
	real := h.key("victim", "default", "urn:victim", "read")
	realID := presentedKeyID("Bearer " + real)
	for i := 0; i < 500; i++ {
		h.doFrom("192.0.2.1:1000", "/v1/audit", unknownKeyText(i))
	}
	const guesses = 20
	for i := 0; i < guesses; i++ {
		wrong := real[:len(real)-52] + strings.Repeat(string(rune('a'+i)), 52)
		rec := h.doFrom("198.51.100.7:2000", "/v1/audit", wrong)
		switch rec.Code {
		case http.StatusUnauthorized:
		case http.StatusTooManyRequests:
			if rec.Header().Get("Retry-After") == "" {
				t.Fatal("429 without Retry-After")
			}
		default:
			t.Fatalf("guess %d: status %d", i, rec.Code)
		}
	}
	recorded := h.authFailedFor(realID)
	if recorded < authFailedKeyBurst {
		t.Errorf("%d of %d guesses against the real key id recorded; want at least the key's burst of %d", recorded, guesses, authFailedKeyBurst)
	}
	if got := h.keys.Failures(realID); got != guesses {
		t.Errorf("stigaudit_auth_failures_total{key_id=%q} = %v, want %d (every failure)", realID, got, guesses)
	}
	t.Logf("%d of %d guesses recorded as events, %v counted", recorded, guesses, h.keys.Failures(realID))
}

func TestFailureLogLinesAreAggregated(t *testing.T) {
	// In a bubble: the summary's timer runs on the fake clock, so "no
	// further line" is asserted once every goroutine is idle, not after a
	// guessed sleep.
	synctest.Test(t, func(t *testing.T) {
		var buf syncBuffer
		l := newFailLog(slog.New(slog.NewJSONHandler(&buf, nil)))
		l.window = 100 * time.Millisecond
		for i := 0; i < 30; i++ {
			l.add(context.Background(), "192.0.2.1", "abcdefghijklmnop", "/v1/audit", "unauthorized")
		}
		l.add(context.Background(), "192.0.2.2", "", "/v1/audit", "unauthorized")
		if n := strings.Count(buf.String(), "\n"); n != 2 {
			t.Fatalf("%d lines at once for 31 failures from 2 pairs, want 2:\n%s", n, buf.String())
		}
		if !strings.Contains(buf.String(), `"key_id":"abcdefghijklmnop"`) {
			t.Errorf("the first line does not carry the key id:\n%s", buf.String())
		}
		time.Sleep(l.window)
		synctest.Wait()
		if !strings.Contains(buf.String(), "29 failures from 192.0.2.1 for key abcdefghijklmnop in 0.1 s") {
			t.Fatalf("no aggregated line after the window:\n%s", buf.String())
		}
		time.Sleep(10 * l.window)
		synctest.Wait()
		if n := strings.Count(buf.String(), "\n"); n != 3 {
			t.Fatalf("%d lines, want 3 (a single failure has no summary):\n%s", n, buf.String())
		}
	})
}

// syncBuffer is a bytes.Buffer that a logger on a timer may write while
// the test reads it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *syncBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *syncBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func TestRateLimitPerSource(t *testing.T) {
	h := newHarness(t)
	h.e = mount(Config{Log: h.log, Keys: h.keys, Logger: quiet, RateLimit: 2}, nil)
	limited := 0
	for i := 0; i < 6; i++ {
		rec := h.doFrom("192.0.2.1:1000", "/v1/audit", h.admin)
		if rec.Code == http.StatusTooManyRequests {
			limited++
			if rec.Header().Get("Retry-After") != "1" || !strings.Contains(rec.Body.String(), `"rate_limited"`) {
				t.Fatalf("429: Retry-After %q, body %s", rec.Header().Get("Retry-After"), rec.Body)
			}
		} else if rec.Code != http.StatusOK {
			t.Fatalf("status %d: %s", rec.Code, rec.Body)
		}
	}
	if limited < 3 {
		t.Errorf("%d of 6 back-to-back requests limited at 2/s, want at least 3", limited)
	}
	if rec := h.doFrom("192.0.2.2:1000", "/v1/audit", h.admin); rec.Code != http.StatusOK {
		t.Errorf("another address: status %d", rec.Code)
	}
	if rec := h.doFrom("192.0.2.1:1000", "/healthz", ""); rec.Code != http.StatusOK {
		t.Errorf("/healthz is limited: status %d", rec.Code)
	}
	// Off by default.
	h2 := newHarness(t)
	for i := 0; i < 50; i++ {
		if rec := h2.doFrom("192.0.2.1:1000", "/v1/audit", h2.admin); rec.Code != http.StatusOK {
			t.Fatalf("default server: status %d", rec.Code)
		}
	}
}

func TestExpiredKeyIs401KeyExpired(t *testing.T) {
	h := newHarness(t)
	text, _, err := h.keys.Create(context.Background(), authSpecExpiring(time.Now().Add(time.Second)))
	if err != nil {
		t.Fatal(err)
	}
	if rec := h.doFrom("192.0.2.1:1", "/v1/audit", text); rec.Code != http.StatusOK {
		t.Fatalf("before expiry: %d %s", rec.Code, rec.Body)
	}
	time.Sleep(1100 * time.Millisecond)
	rec := h.doFrom("192.0.2.1:1", "/v1/audit", text)
	if rec.Code != http.StatusUnauthorized || !strings.Contains(rec.Body.String(), `"key_expired"`) {
		t.Fatalf("after expiry: %d %s", rec.Code, rec.Body)
	}
}

func TestBucketRefills(t *testing.T) {
	b := newBucket(2, 2)
	now := time.Unix(0, 0)
	for i, want := range []bool{true, true, false} {
		if got := b.take(now); got != want {
			t.Fatalf("take %d at once from a bucket of 2 = %v, want %v", i+1, got, want)
		}
	}
	if !b.take(now.Add(600 * time.Millisecond)) {
		t.Fatal("after 0.6 s at 2/s a token should be back")
	}
}

func TestBucketsAreBounded(t *testing.T) {
	bs := newBuckets(1, 1)
	bs.max = 100
	now := time.Unix(0, 0)
	for i := 0; i < 1000; i++ {
		bs.take(strings.Repeat("x", i%50)+string(rune('a'+i%26))+string(rune(i)), now)
	}
	if len(bs.m) > 100 {
		t.Fatalf("%d buckets kept, want at most 100", len(bs.m))
	}
}

func authSpecExpiring(at time.Time) auth.Spec {
	return auth.Spec{EntityURI: "urn:exp", Perms: auth.PermRead, ExpiresAt: at}
}

// TestKeyExpiryAndRevocationWatchOnEveryStore runs the expiry column and
// the watch's poll of revoked_at against each store's SQL dialect.
func TestKeyExpiryAndRevocationWatchOnEveryStore(t *testing.T) {
	eachStore(t, func(t *testing.T, kind string) {
		ctx := context.Background()
		h := newHarnessOn(t, kind)
		exp := time.Now().Add(time.Hour).UTC().Truncate(time.Second)
		text, _, err := h.keys.Create(ctx, authSpecExpiring(exp))
		if err != nil {
			t.Fatal(err)
		}
		p, err := h.keys.Verify(ctx, text)
		if err != nil || !p.ExpiresAt.Equal(exp) {
			t.Fatalf("verify: %+v %v, want expiry %v", p, err, exp)
		}
		list, err := h.keys.List(ctx)
		if err != nil {
			t.Fatal(err)
		}
		found := false
		for _, k := range list {
			found = found || k.ID == p.KeyID && k.ExpiresAt.Equal(exp)
		}
		if !found {
			t.Fatalf("list does not show the expiry: %+v", list)
		}
		// Revoked before the watch began: only the poll can see it.
		if err := h.keys.Revoke(ctx, p.KeyID); err != nil {
			t.Fatal(err)
		}
		wctx, stop := h.keys.WatchContext(ctx, p)
		defer stop()
		select {
		case <-wctx.Done():
		case <-time.After(10 * time.Second):
			t.Fatal("the watch's poll did not see the revocation")
		}
		if cause := context.Cause(wctx); !errors.Is(cause, auth.ErrKeyRevoked) {
			t.Fatalf("cause %v", cause)
		}
	})
}
