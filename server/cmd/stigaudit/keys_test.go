package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"
)

func TestKeysCreateExpiresAndList(t *testing.T) {
	dir := t.TempDir()
	var out, errOut bytes.Buffer
	if code := run(context.Background(), []string{"keys", "create", "--data-dir", dir, "--entity", "urn:ci", "--perm", "audit.write", "--expires", "90d"}, &out, &errOut); code != 0 {
		t.Fatalf("create: exit %d: %s", code, errOut.String())
	}
	if !strings.HasPrefix(out.String(), "sa_") || strings.Count(out.String(), "\n") != 1 {
		t.Fatalf("create printed %q, want the key alone", out.String())
	}
	out.Reset()
	if code := run(context.Background(), []string{"keys", "create", "--data-dir", dir, "--entity", "urn:forever", "--perm", "read"}, &out, &errOut); code != 0 {
		t.Fatalf("create: exit %d: %s", code, errOut.String())
	}
	out.Reset()
	if code := run(context.Background(), []string{"keys", "list", "--data-dir", dir}, &out, &errOut); code != 0 {
		t.Fatalf("list: exit %d: %s", code, errOut.String())
	}
	want := time.Now().Add(90 * 24 * time.Hour).UTC().Format("2006-01-02")
	var ci, forever string
	for _, line := range strings.Split(out.String(), "\n") {
		switch {
		case strings.Contains(line, "urn:ci"):
			ci = line
		case strings.Contains(line, "urn:forever"):
			forever = line
		}
	}
	if !strings.Contains(out.String(), "EXPIRES") || !strings.Contains(ci, want) || !strings.Contains(forever, "never") {
		t.Fatalf("list does not show the expiry (want %s and never):\n%s", want, out.String())
	}
	for _, bad := range []string{"90", "0d", "-1d", "5y", "2001-01-01T00:00:00Z", "99999999999d"} {
		errOut.Reset()
		if code := run(context.Background(), []string{"keys", "create", "--data-dir", dir, "--entity", "urn:x", "--perm", "read", "--expires", bad}, &out, &errOut); code != 2 {
			t.Errorf("--expires %s: exit %d, want 2 (usage): %s", bad, code, errOut.String())
		}
	}
}

func TestParseExpiry(t *testing.T) {
	now := time.Date(2026, 5, 3, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		in   string
		want time.Time
	}{
		{"90d", now.Add(90 * 24 * time.Hour)},
		{"12h", now.Add(12 * time.Hour)},
		{"30m", now.Add(30 * time.Minute)},
		{"2027-01-01T00:00:00Z", time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)},
	} {
		got, err := parseExpiry(tc.in, now)
		if err != nil || !got.Equal(tc.want) {
			t.Errorf("parseExpiry(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
	}
}
