package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestServeRefusesDetailLimitsItCannotHonour: limits outside what a
// request body or the browser's core can carry stop serve before it opens
// anything, with a usage error naming the flag.
func TestServeRefusesDetailLimitsItCannotHonour(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--max-detail-bytes", "0"}, "--max-detail-bytes must be from 1"},
		{[]string{"--max-detail-bytes", "-5"}, "--max-detail-bytes must be from 1"},
		{[]string{"--max-detail-bytes", "2000000"}, "--max-detail-bytes must be from 1 to 32768"},
		{[]string{"--max-detail-bytes", "32769"}, "fits a tlog-tiles entry"},
		{[]string{"--max-detail-depth", "0"}, "--max-detail-depth must be from 1"},
		{[]string{"--max-detail-depth", "100000"}, "--max-detail-depth must be from 1 to 1000"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			dir := t.TempDir()
			var out, errOut bytes.Buffer
			args := append([]string{"serve", "--data-dir", dir, "--listen", "127.0.0.1:0"}, tc.args...)
			if code := run(context.Background(), args, &out, &errOut); code != 2 {
				t.Fatalf("exit %d, want 2 (usage)\nstderr %s", code, errOut.String())
			}
			if !strings.Contains(errOut.String(), tc.want) {
				t.Errorf("stderr %q, want it to contain %q", errOut.String(), tc.want)
			}
			if _, err := os.Stat(filepath.Join(dir, DBFile)); err == nil {
				t.Errorf("refused serve created %s", DBFile)
			}
		})
	}
}
