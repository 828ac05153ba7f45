package main

import (
	"strings"
	"testing"
)

// purgeSQL blanks the content of seqs 10..19 the way a retention purge
// does: the only UPDATE the database allows on events.
const purgeSQL = `UPDATE events SET purged_at = '9999-01-01T00:00:00.000000Z', hlc = NULL, entity_uri = '',
	emitter = NULL, oidc_sub = NULL, fact_id = NULL, source = '', attested_key_id = NULL, scope = NULL,
	detail = NULL WHERE seq BETWEEN 10 AND 19`

func TestVerifyDBAcceptsPurgedEventsByTheirLeafHash(t *testing.T) {
	d := newDataDir(t, 300, nil, nil, "")
	d.sql(purgeSQL)
	code, out, errOut := cli(t, "verify", "--key", d.vkey, "--db", d.db())
	if code != 0 || !strings.HasPrefix(out, "OK: ") {
		t.Fatalf("verify after a purge: exit %d\nstdout %q\nstderr %q", code, out, errOut)
	}
	if !strings.Contains(out, "10 purged events (seq 10..19)") {
		t.Errorf("summary %q does not say what was purged", out)
	}

	// An export writes purged events as what the purge kept, and verifies.
	lines := d.export()
	purged := 0
	for _, l := range lines {
		if strings.Contains(l, `"purged":true`) {
			purged++
			if strings.Contains(l, "entity_uri") {
				t.Errorf("purged line %s carries content", l)
			}
		}
	}
	if purged != 10 {
		t.Errorf("%d purged lines in the export, want 10", purged)
	}
	file := writeLines(t, lines)
	if code, out, errOut := cli(t, "verify", "--key", d.vkey, "--ndjson", file); code != 0 {
		t.Fatalf("verify --ndjson of an export with purged events: exit %d\nstdout %q\nstderr %q", code, out, errOut)
	}
	// Its kept leaf hash still binds it: a changed one is caught.
	for i, l := range lines {
		if strings.Contains(l, `"purged":true,"seq":12,`) {
			at := strings.Index(l, `"leaf_hash":"`) + len(`"leaf_hash":"`)
			flipped := "0"
			if l[at] == '0' {
				flipped = "1"
			}
			lines[i] = l[:at] + flipped + l[at+1:]
		}
	}
	if code, _, _ := cli(t, "verify", "--key", d.vkey, "--ndjson", writeLines(t, lines)); code == 0 {
		t.Error("an export whose purged line's leaf hash was changed passed")
	}

	// A purged row keeps its leaf hash: changing it is still caught, at
	// that seq.
	d.sql(`DROP TRIGGER events_no_update`,
		`UPDATE events SET leaf_hash = zeroblob(32) WHERE seq = 15`)
	code, out, errOut = cli(t, "verify", "--key", d.vkey, "--db", d.db())
	if code == 0 {
		t.Fatalf("a rewritten leaf hash of a purged event passed: %q", out)
	}
	if got := parseFailure(t, errOut); got.first != 15 && !(got.first <= 15 && 15 < got.until) {
		t.Errorf("failure %+v does not locate seq 15", got)
	}
}
