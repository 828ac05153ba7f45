package exportapi_test

import (
	"encoding/json"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/stigaudit/stigaudit/core/merkle"
	"github.com/stigaudit/stigaudit/hostfns"
	"github.com/stigaudit/stigaudit/server/retention"
)

// fixedClock is a hostfns.Clock stopped at one time.
type fixedClock time.Time

func (c fixedClock) Now() time.Time { return time.Time(c) }

var _ hostfns.Clock = fixedClock{}

// TestExportPurged: after a retention purge, exports keep every event in
// place with its leaf hash, and its content empty.
func TestExportPurged(t *testing.T) {
	n := newNode(t, nodeOpts{fill: 3000})
	p, err := retention.New(retention.Config{Purging: n.store.Purging(), Log: n.log, Policy: retention.Policy{Days: 400},
		Clock: fixedClock(fillBase.AddDate(0, 0, 500))})
	if err != nil {
		t.Fatal(err)
	}
	if res, err := p.Purge(ctx); err != nil || res.Purged() != 3000 {
		t.Fatalf("purge: %+v %v", res, err)
	}
	key := n.key(t, "acme", "urn:auditor", "audit.read")
	resp := n.do(t, "GET", "/v1/audit/export?format=csv&until="+fillEnd, key, nil)
	recs := readCSV(t, resp.Body)
	resp.Body.Close()
	if len(recs) != 1500 {
		t.Fatalf("%d records", len(recs))
	}
	for i, rec := range recs {
		want := fillEvent(2*i, []string{"acme", "globex"})
		if rec[1] != want.ID || rec[15] != merkle.Hex(want.LeafHash) || strings.Join(rec[6:15], "") != "" {
			t.Fatalf("purged record %d: %q", i, rec)
		}
	}
	// NDJSON: each purged event is a line with its seq, leaf hash and
	// proof, and empty content. (export.Reader, through event.ParseEvent,
	// refuses an empty entity_uri today: reading purged lines back needs
	// the format to mark them; see the retention package doc.)
	resp = n.do(t, "GET", "/v1/audit/export?format=ndjson&until="+fillEnd, key, nil)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	lines := strings.Split(strings.TrimSuffix(string(body), "\n"), "\n")
	if len(lines) != 1501 {
		t.Fatalf("%d lines", len(lines))
	}
	for i, line := range lines[:1500] {
		var l struct {
			Seq       int64  `json:"seq"`
			EntityURI string `json:"entity_uri"`
			LeafHash  string `json:"leaf_hash"`
			Detail    any    `json:"detail"`
			Proof     *struct {
				LeafHash string `json:"leaf_hash"`
			} `json:"proof"`
		}
		if err := json.Unmarshal([]byte(line), &l); err != nil {
			t.Fatal(err)
		}
		want := fillEvent(2*i, []string{"acme", "globex"})
		if l.Seq != want.Seq || l.EntityURI != "" || l.Detail != nil || l.LeafHash != merkle.Hex(want.LeafHash) ||
			l.Proof == nil || l.Proof.LeafHash != l.LeafHash {
			t.Fatalf("line %d: %s", i, line)
		}
	}
}
