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
