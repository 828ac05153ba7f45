package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stigaudit/stigaudit/hostfns/pgstore/pgtest"
	"github.com/stigaudit/stigaudit/server/witness"
)

// replicaMetric sums a counter's series on a replica whose lines contain want.
func replicaMetric(t *testing.T, r *replica, name, want string) float64 {
	t.Helper()
	return metricSum(t, r.url(), name, want)
}

// TestReplicasWitnessing: with three PostgreSQL replicas and a witness
// policy, only the replica elected to sign talks to the witnesses, every
// replica serves the witnessed checkpoint, and when the elected one is
// killed another takes over and witnessing goes on without a refusal.
func TestReplicasWitnessing(t *testing.T) {
	dsn := pgtest.DSN(t)
	if testing.Short() {
		t.Skip("runs three servers and a witness")
	}
	tmp := t.TempDir()
	bin := buildReplicaBinary(t, tmp)
	reps, verifier := newReplicas(t, bin, tmp, "wrep", dsn, nil)
	origin := verifier[:strings.Index(verifier, "+")]
	w := startOmniwitness(t, origin, verifier)
	policyText := fmt.Sprintf("log %s\nwitness w1 %s %s\nquorum w1\n", verifier, w.cosigVKey, w.url)
	policyFile := filepath.Join(tmp, "policy")
	os.WriteFile(policyFile, []byte(policyText), 0o644)
	policy, err := witness.ParsePolicy([]byte(policyText))
	if err != nil {
		t.Fatal(err)
	}
	apiKey := runReplicaCmd(t, bin, "keys", "create", "--data-dir", reps[0].dir, "--database-url", dsn,
		"--tenant", "acme", "--entity", "urn:test:emitter", "--perm", "audit.write,read")
	for _, r := range reps {
		r.extra = []string{"--witness-policy", policyFile}
		r.start()
		t.Cleanup(func() { r.signal(syscall.SIGTERM) })
	}
	emit := func(r *replica, n int) {
		t.Helper()
		for range n {
			if code, b := emitHTTP(t, r.url(), apiKey, criticalEvent); code != 201 {
				t.Fatalf("emit: %d %s", code, b)
			}
		}
	}
	// waitAll waits until every live replica serves a witnessed checkpoint
	// of at least size that meets the quorum.
	waitAll := func(live []*replica, size uint64) {
		t.Helper()
		for _, r := range live {
			for start := time.Now(); ; time.Sleep(100 * time.Millisecond) {
				code, b := getWith(t, r.url()+"/v1/audit/checkpoint", apiKey)
				if code == 200 && servedSize(b) >= size && policy.Satisfied(b) {
					break
				}
				if time.Since(start) > 30*time.Second {
					t.Fatalf("replica %s serves no witnessed checkpoint of size %d: %d %s", r.addr, size, code, b)
				}
			}
		}
	}
	leader := func(live []*replica) *replica {
		t.Helper()
		for start := time.Now(); time.Since(start) < 15*time.Second; time.Sleep(100 * time.Millisecond) {
			for _, r := range live {
				if r.leads() {
					return r
				}
			}
		}
		t.Fatal("no replica leads")
		return nil
	}

	emit(reps[0], 20)
	waitAll(reps, 20)
	// The tlog-tiles any replica serves are the same bytes.
	var tile []byte
	for i, r := range reps {
		code, b := getWith(t, r.url()+"/v1/audit/tlog/tile/0/000.p/20", apiKey)
		if code != 200 || len(b) != 20*32 {
			t.Fatalf("replica %s: tile 0/000.p/20: %d (%d bytes)", r.addr, code, len(b))
		}
		if i > 0 && !bytes.Equal(b, tile) {
			t.Fatalf("replica %s serves another tile 0/000.p/20 than replica %s", r.addr, reps[0].addr)
		}
		tile = b
	}
	first := leader(reps)
	for _, r := range reps {
		sent := replicaMetric(t, r, "stigaudit_witness_cosign_total", "")
		if r == first && sent == 0 {
			t.Fatalf("the elected replica %s never asked the witness", r.addr)
		}
		if r != first && sent != 0 {
			t.Fatalf("replica %s, not elected, sent %v requests to the witness", r.addr, sent)
		}
	}

	first.signal(syscall.SIGKILL)
	var live []*replica
	for _, r := range reps {
		if r != first {
			live = append(live, r)
		}
	}
	emit(live[0], 10)
	waitAll(live, 30)
	next := leader(live)
	if replicaMetric(t, next, "stigaudit_witness_cosign_total", `result="cosigned"`) == 0 {
		t.Fatalf("the newly elected replica %s has not been cosigned", next.addr)
	}
	for _, r := range live {
		if n := replicaMetric(t, r, "stigaudit_witness_cosign_total", `result="refused"`); n != 0 {
			t.Fatalf("replica %s counted %v refusals after the take-over", r.addr, n)
		}
	}
}
