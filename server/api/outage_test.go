package api

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestUnavailableAnswers: a 503 tells the client when to come back and
// which part failed, and the log holds one line per code per period, not
// one per request.
func TestUnavailableAnswers(t *testing.T) {
	h := newHarness(t)
	logs := &lockedBuffer{}
	h.e = mount(Config{Log: h.log, Keys: h.keys, Logger: slog.New(slog.NewJSONHandler(logs, nil))}, nil)
	w := h.key("w", "a", "urn:w", "audit.write")
	h.store.SetDown(true)
	for range 20 {
		body, _ := json.Marshal(ev("fact_write", "urn:u"))
		req := httptest.NewRequest(http.MethodPost, "/v1/audit/events", bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+w)
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		h.e.ServeHTTP(rec, req)
		if rec.Code != 503 || rec.Header().Get("Retry-After") != retryAfter ||
			!strings.Contains(rec.Body.String(), `"code":"store_unavailable","message":"the store could not commit or answer"`) {
			t.Fatalf("critical emit with the store down: %d, Retry-After %q, %s", rec.Code, rec.Header().Get("Retry-After"), rec.Body)
		}
	}
	if n := logs.count(`"msg":"request failed"`); n != 1 {
		t.Errorf("20 503 answers in a row logged %d lines, want 1", n)
	}
}
