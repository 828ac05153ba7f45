package bench

import (
	"context"
	"testing"
)

func TestInProcessRunWithBaseline(t *testing.T) {
	res, err := Run(context.Background(), Config{DataDir: t.TempDir(), Concurrency: 8, Events: 200, Baseline: true})
	if err != nil {
		t.Fatal(err)
	}
	if res.Events != 200 || res.Errors != 0 {
		t.Fatalf("events %d errors %d, want 200 and 0", res.Events, res.Errors)
	}
	if res.EventsPerS <= 0 || res.P50Ms <= 0 || res.P99Ms < res.P50Ms {
		t.Errorf("implausible measurements: %+v", res)
	}
	if res.BaselineEventsPerS <= 0 || res.Ratio <= 0 {
		t.Errorf("the baseline was not measured: %+v", res)
	}
	if res.Store == "" || res.Mode != "in-process" {
		t.Errorf("mode %q store %q", res.Mode, res.Store)
	}
}

func TestHTTPRunNeedsAKey(t *testing.T) {
	if _, err := Run(context.Background(), Config{HTTP: "http://127.0.0.1:1"}); err == nil {
		t.Fatal("an HTTP run without a key started")
	}
}
