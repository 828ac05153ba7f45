package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

func TestServeRefusesAbuseLimitsThatTurnThemselvesOff(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--rate-limit", "-1"}, "--rate-limit must be 0 (off) or positive"},
		{[]string{"--max-streams-per-key", "0"}, "--max-streams-per-key must be from 1"},
		{[]string{"--max-streams-per-key", "20", "--max-streams-per-tenant", "10"}, "--max-streams-per-tenant must be from --max-streams-per-key"},
		{[]string{"--max-streams-per-tenant", "5000"}, "--max-streams-per-tenant must be from"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			var out, errOut bytes.Buffer
			args := append([]string{"serve", "--data-dir", t.TempDir(), "--listen", "127.0.0.1:0"}, tc.args...)
			if code := run(context.Background(), args, &out, &errOut); code != 2 {
				t.Fatalf("exit %d, want 2 (usage)\nstderr %s", code, errOut.String())
			}
			if !strings.Contains(errOut.String(), tc.want) {
				t.Errorf("stderr %q, want it to contain %q", errOut.String(), tc.want)
			}
		})
	}
}
