package api

import (
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"
)

// BenchmarkEmit measures POST /v1/audit/events in process (no TCP) over
// the SQLite store at synchronous=FULL, with parallel clients so group
// commit can coalesce. The key is verified once and then served from the
// cache, as in production.
func BenchmarkEmit(b *testing.B) {
	h := newHarnessOn(b, "sqlite")
	w := h.key("w", "a", "urn:w", "audit.write")
	body := `{"event_type":"fact_write","entity_uri":"urn:user:1","fact_id":"f-1","detail":{"k":"v"}}`
	b.SetParallelism(8)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			req := httptest.NewRequest("POST", "/v1/audit/events", strings.NewReader(body))
			req.Header.Set("Authorization", "Bearer "+w)
			rec := httptest.NewRecorder()
			h.e.ServeHTTP(rec, req)
			if rec.Code != 201 {
				b.Errorf("status %d: %s", rec.Code, rec.Body)
				return
			}
		}
	})
}

// BenchmarkList measures one 100-event page of GET /v1/audit.
func BenchmarkList(b *testing.B) {
	h := newHarnessOn(b, "sqlite")
	w := h.key("w", "a", "urn:w", "audit.write,audit.read")
	for i := range 1000 {
		h.mustEmit(w, ev("fact_write", "urn:u", "fact_id", fmt.Sprint("f-", i)))
	}
	b.ResetTimer()
	for b.Loop() {
		req := httptest.NewRequest("GET", "/v1/audit?limit=100", nil)
		req.Header.Set("Authorization", "Bearer "+w)
		rec := httptest.NewRecorder()
		h.e.ServeHTTP(rec, req)
		if rec.Code != 200 {
			b.Fatalf("status %d", rec.Code)
		}
	}
}
