package api

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stigaudit/stigaudit/hostfns"
)

func TestFailedAuthenticationIsAuditedWithinARateLimit(t *testing.T) {
	h := newHarness(t)
	before := h.size()
	wrong := "sa_abcdefghijklmnop_" + strings.Repeat("q", 52)
	for i := 0; i < 3*authFailedBurst; i++ {
		if a := h.do(http.MethodGet, "/v1/audit", wrong, nil); a.status != http.StatusUnauthorized {
			t.Fatalf("status %d, want 401", a.status)
		}
	}
	stored := h.size() - before
	if stored < 1 || stored > authFailedBurst+2 {
		t.Fatalf("%d auth_failed events stored for %d failures; want 1..%d (rate limited)", stored, 3*authFailedBurst, authFailedBurst+2)
	}
	page, err := h.log.Query(context.Background(), hostfns.Query{Types: []string{"auth_failed"}, Order: hostfns.Descending, After: -1, Limit: 1})
	if err != nil || len(page.Events) != 1 {
		t.Fatalf("query: %v, %d events", err, len(page.Events))
	}
	e := page.Events[0]
	if e.Outcome != "denied" || e.EntityURI != authFailedActor {
		t.Errorf("event = %+v", e)
	}
	if !strings.Contains(string(e.Detail), `"key_id":"abcdefghijklmnop"`) || strings.Contains(string(e.Detail), "qqqq") {
		t.Errorf("detail %s: want the public key id and never the secret", e.Detail)
	}
}

func TestBucketRefills(t *testing.T) {
	b := newBucket(2, 2)
	now := time.Unix(0, 0)
	if !b.take(now) || !b.take(now) || b.take(now) {
		t.Fatal("a bucket of 2 should give exactly 2 tokens at once")
	}
	if !b.take(now.Add(600 * time.Millisecond)) {
		t.Fatal("after 0.6 s at 2/s a token should be back")
	}
}
