package sqlitestore

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stigaudit/stigaudit/core/event"
	"github.com/stigaudit/stigaudit/hostfns"
)

// TestQueryPlans pins the index each kind of filtered page uses, so that a
// schema or query change cannot silently turn a page into a scan of the
// log. (BenchmarkQuery measures the same queries on a million events.)
func TestQueryPlans(t *testing.T) {
	s, err := Open(filepath.Join(t.TempDir(), "plan.db"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	src, attested := "cli", true
	tests := []struct {
		name string
		q    hostfns.Query
		want string // the index the plan must use
	}{
		{"tenant", hostfns.Query{Tenant: "acme", Order: hostfns.Descending}, "events_tenant_seq"},
		{"tenant after", hostfns.Query{Tenant: "acme", After: 500}, "events_tenant_seq"},
		{"type", hostfns.Query{Tenant: "acme", Types: []string{"fact_write"}}, "events_tenant_type_seq"},
		{"entity", hostfns.Query{Tenant: "acme", EntityURI: "urn:x", Order: hostfns.Descending}, "events_tenant_entity_seq"},
		{"oidc_sub", hostfns.Query{Tenant: "acme", OIDCSub: "sub", Order: hostfns.Descending}, "events_tenant_oidc_seq"},
		{"fact_id", hostfns.Query{Tenant: "acme", FactID: "fact-1"}, "events_tenant_fact_seq"},
		{"denied", hostfns.Query{Tenant: "acme", Outcome: event.OutcomeDenied}, "events_tenant_outcome_seq"},
		{"scope", hostfns.Query{Tenant: "acme", Scope: "facts:write", Order: hostfns.Descending}, "events_tenant_scope_seq"},
		{"attested", hostfns.Query{Tenant: "acme", Attested: &attested, Order: hostfns.Descending}, "events_tenant_attested_seq"},
		{"source", hostfns.Query{Tenant: "acme", Source: &src}, "events_tenant_seq"},
		{"window", hostfns.Query{Tenant: "acme", Since: "2026-05-01T00:00:00.000000Z", Until: "2026-05-02T00:00:00.000000Z"}, "events_tenant_seq"},
		{"all tenants", hostfns.Query{Order: hostfns.Descending}, "SCAN events"},
	}
	for _, tc := range tests {
		tc.q.Limit = 100
		if tc.q.After == 0 {
			tc.q.After = -1
		}
		query, args := buildQuery(tc.q)
		rows, err := s.rdb.QueryContext(context.Background(), "EXPLAIN QUERY PLAN "+query, args...)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		var plan []string
		for rows.Next() {
			var id, parent, notused int
			var detail string
			if err := rows.Scan(&id, &parent, &notused, &detail); err != nil {
				t.Fatal(err)
			}
			plan = append(plan, detail)
		}
		rows.Close()
		all := strings.Join(plan, "; ")
		t.Logf("%s: %s", tc.name, all)
		if !strings.Contains(all, tc.want) || strings.Contains(all, "TEMP B-TREE") {
			t.Errorf("%s: plan %q, want %s without a sort", tc.name, all, tc.want)
		}
	}
}
