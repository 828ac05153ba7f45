package main

import (
	"regexp"
	"strings"
	"testing"
)

// TestServeFlagDefaults pins every default the README states for serve:
// changing one is a decision the README (and this table) must follow.
// The behaviour behind each is tested where it lives (listener deadlines,
// stream caps, retention floor, readiness margin).
func TestServeFlagDefaults(t *testing.T) {
	want := map[string]string{
		"listen":                 `"127.0.0.1:8470"`,
		"data-dir":               `"./data"`,
		"node":                   `"local"`,
		"retention":              `"400d"`,
		"idle-timeout":           "2m0s",
		"body-timeout":           "30s",
		"write-timeout":          "30s",
		"min-free-disk":          "64MiB",
		"max-wait":               "5s",
		"max-streams-per-key":    "10",
		"max-streams-per-tenant": "100",
		"max-detail-bytes":       "16384",
		"max-detail-depth":       "16",
		"redact-fields":          `"entity_uri,emitter,oidc_sub,attested_key_id"`,
		// No default printed: off or derived.
		"rate-limit":     "",
		"max-conns":      "",
		"origin":         "",
		"sink":           "",
		"tls-cert":       "",
		"metrics-listen": "",
		"witness-policy": "",
	}
	for _, name := range []string{"STIGAUDIT_LISTEN", "STIGAUDIT_DATA_DIR", "STIGAUDIT_NODE", "STIGAUDIT_RETENTION", "STIGAUDIT_IDLE_TIMEOUT",
		"STIGAUDIT_BODY_TIMEOUT", "STIGAUDIT_WRITE_TIMEOUT", "STIGAUDIT_MAX_STREAMS_PER_KEY", "STIGAUDIT_MAX_STREAMS_PER_TENANT",
		"STIGAUDIT_REDACT_FIELDS", "STIGAUDIT_RATE_LIMIT", "STIGAUDIT_MAX_CONNS", "STIGAUDIT_ORIGIN"} {
		t.Setenv(name, "") // the environment must not be what is read here
	}
	code, help, _ := cli(t, "serve", "-h")
	if code != 0 {
		t.Fatalf("serve -h: exit %d", code)
	}
	got := map[string]string{}
	re := regexp.MustCompile(`(?m)^  -([a-z-]+)(?: [a-z0-9]+)?\n\s+.*?(?:\(default (.+)\))?$`)
	for _, m := range re.FindAllStringSubmatch(help, -1) {
		got[m[1]] = m[2]
	}
	for flag, def := range want {
		g, ok := got[flag]
		if !ok {
			t.Errorf("serve has no flag --%s:\n%s", flag, help)
			continue
		}
		if g != def {
			t.Errorf("--%s defaults to %q; the README says %q", flag, g, def)
		}
	}
	if !strings.Contains(help, "-allow-shared-data-dir") {
		t.Error("no --allow-shared-data-dir")
	}
}
