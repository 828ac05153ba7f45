package wasm

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/transparency-dev/merkle/compact"
	"github.com/transparency-dev/merkle/rfc6962"

	"github.com/stigaudit/stigaudit/core/auditerr"
	"github.com/stigaudit/stigaudit/core/checkpoint"
	"github.com/stigaudit/stigaudit/core/event"
	"github.com/stigaudit/stigaudit/core/merkle"
	"github.com/stigaudit/stigaudit/core/receipt"
)

// randomReceipts builds a log of n random events (tenants, types, entities
// and details of varied sizes, from seed) and returns every event's
// receipt against one signed checkpoint of the whole log, and its verifier
// key.
func randomReceipts(t testing.TB, n int, seed uint64) ([][]byte, string) {
	t.Helper()
	rng := mrand.New(mrand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	types := []string{"fact_read", "fact_write", "fact_delete", "auth_failed", "config_change"}
	tenants := []string{"default", "acme", "globex", "initech"}
	outcomes := []string{event.OutcomeSuccess, event.OutcomeFailure, event.OutcomeDenied}
	levels := [][][]byte{make([][]byte, n)} // levels[k][i]: the perfect subtree of 2^k leaves at i
	events := make([][]byte, n)
	for i := range n {
		detail := fmt.Appendf(nil, `{"n":%d,"note":%q}`, rng.IntN(1_000_000), randomText(rng, rng.IntN(600)))
		e := event.Event{ID: fmt.Sprintf("01900000-0000-7000-8000-%012x", i), Type: types[rng.IntN(len(types))],
			TS:     fmt.Sprintf("2026-12-07T%02d:%02d:%02d.%06dZ", rng.IntN(24), rng.IntN(60), rng.IntN(60), rng.IntN(1_000_000)),
			Tenant: tenants[rng.IntN(len(tenants))], EntityURI: "urn:test:" + randomText(rng, 1+rng.IntN(40)),
			Outcome: outcomes[rng.IntN(len(outcomes))], Detail: detail}
		events[i] = event.AppendCanonical(nil, &e)
		leaf := event.LeafHash(events[i])
		levels[0][i] = leaf[:]
	}
	for k := 0; len(levels[k]) > 1; k++ {
		var up [][]byte
		for i := 0; i+1 < len(levels[k]); i += 2 {
			up = append(up, rfc6962.DefaultHasher.HashChildren(levels[k][i], levels[k][i+1]))
		}
		levels = append(levels, up)
	}
	read := func(ids []merkle.NodeID) ([][]byte, error) {
		out := make([][]byte, len(ids))
		for i, id := range ids {
			out[i] = levels[id.Level][id.Index]
		}
		return out, nil
	}
	rf := &compact.RangeFactory{Hash: rfc6962.DefaultHasher.HashChildren}
	cr := rf.NewEmptyRange(0)
	for _, leaf := range levels[0] {
		if err := cr.Append(leaf, nil); err != nil {
			t.Fatal(err)
		}
	}
	rootBytes, err := cr.GetRootHash(nil)
	if err != nil {
		t.Fatal(err)
	}
	root := [checkpoint.HashSize]byte(rootBytes)
	skey, vkey, err := checkpoint.GenerateKey(rand.Reader, "example.com/random-receipts")
	if err != nil {
		t.Fatal(err)
	}
	signer, _ := checkpoint.NewSigner(skey)
	note, err := checkpoint.Sign(checkpoint.Checkpoint{Origin: "example.com/random-receipts", Size: uint64(n), Root: root}, signer)
	if err != nil {
		t.Fatal(err)
	}
	out := make([][]byte, n)
	for i := range n {
		hashes, err := merkle.ProveInclusion(uint64(i), uint64(n), read)
		if err != nil {
			t.Fatal(err)
		}
		out[i] = receipt.Receipt{Event: events[i], Index: uint64(i), Hashes: hashes, Checkpoint: note}.Marshal()
	}
	return out, vkey
}

// randomText is printable ASCII and some multi-byte UTF-8.
func randomText(rng *mrand.Rand, n int) string {
	const chars = "abcdefghijklmnopqrstuvwxyz0123456789-_./:é€😀 \"\\"
	rs := []rune(chars)
	b := make([]rune, n)
	for i := range b {
		b[i] = rs[rng.IntN(len(rs))]
	}
	return string(b)
}

// flipped returns b with one byte, at a random place, changed to another
// value.
func flipped(rng *mrand.Rand, b []byte) ([]byte, int) {
	c := append([]byte(nil), b...)
	i := rng.IntN(len(c))
	c[i] ^= byte(1 + rng.IntN(255))
	return c, i
}

// TestRandomReceiptsEveryHost: every receipt of a 10,000-event random log
// verifies natively, through the WASM module under wazero and in Node; a
// copy of every receipt with one byte changed at a random place is refused
// natively, naming what failed, and 2,000 of them by the other two hosts
// with the same error code. (The browser runs the same module through the
// same loader: web's vector replay covers it.)
func TestRandomReceiptsEveryHost(t *testing.T) {
	n := 10_000
	if testing.Short() {
		n = 500
	}
	seed := mrand.Uint64()
	t.Logf("seed %d", seed)
	start := time.Now()
	good, vkey := randomReceipts(t, n, seed)
	t.Logf("%d receipts built in %v", n, time.Since(start))
	rng := mrand.New(mrand.NewPCG(seed, 1))
	v, err := checkpoint.NewVerifier(vkey)
	if err != nil {
		t.Fatal(err)
	}
	type item struct {
		Receipt string `json:"receipt"`
		Code    string `json:"code"` // "" accepted
		Index   int    `json:"-"`
		At      int    `json:"-"`
	}
	var items []item
	for i, b := range good {
		items = append(items, item{Receipt: string(b), Index: i, At: -1})
		bad, at := flipped(rng, b)
		items = append(items, item{Receipt: string(bad), Index: i, At: at})
	}
	// Natively: the reference answer of each.
	for k := range items {
		it := &items[k]
		_, err := receipt.Verify([]byte(it.Receipt), "", v)
		var ae *auditerr.Error
		switch {
		case err == nil && it.At >= 0:
			lo, hi := max(0, it.At-40), min(len(it.Receipt), it.At+40)
			t.Fatalf("receipt %d with byte %d changed verified natively: %q (was %q)", it.Index, it.At, it.Receipt[lo:hi], good[it.Index][lo:hi])
		case err != nil && it.At < 0:
			t.Fatalf("receipt %d refused natively: %v", it.Index, err)
		case err != nil && !errors.As(err, &ae):
			t.Fatalf("receipt %d with byte %d changed: an error without a code: %v", it.Index, it.At, err)
		case err != nil:
			it.Code = string(ae.Code)
			if ae.Message == "" {
				t.Fatalf("receipt %d with byte %d changed: %s without saying what failed", it.Index, it.At, ae.Code)
			}
		}
	}
	t.Logf("native: %v", time.Since(start))
	// The other hosts get every good receipt and the first changed ones
	// (a random sample: each changed byte is at a random place): the WASM
	// core is the same code, and its rate bounds the test's time.
	hosts := items[:0:0]
	flips := 0
	for _, it := range items {
		if it.At >= 0 {
			if flips == 2_000 {
				continue
			}
			flips++
		}
		hosts = append(hosts, it)
	}
	// Under wazero, through the pooled module, from several goroutines.
	r := newRuntime(t, Config{})
	ctx := context.Background()
	var wg sync.WaitGroup
	next := make(chan item)
	for range runtime.GOMAXPROCS(0) {
		wg.Go(func() {
			for it := range next {
				in, _ := json.Marshal(map[string]string{"receipt": it.Receipt, "key": vkey})
				_, err := r.Call(ctx, "verify_receipt", in)
				var ae *auditerr.Error
				got := ""
				if err != nil {
					if !errors.As(err, &ae) {
						t.Errorf("receipt %d (byte %d): %v", it.Index, it.At, err)
						continue
					}
					got = string(ae.Code)
				}
				if got != it.Code {
					t.Errorf("receipt %d (byte %d changed: %v): wazero answers %q, native %q", it.Index, it.At, it.At >= 0, got, it.Code)
				}
			}
		})
	}
	for _, it := range hosts {
		next <- it
	}
	close(next)
	wg.Wait()
	if t.Failed() {
		return
	}
	t.Logf("wazero: %v", time.Since(start))
	// In Node, through the JS loader.
	node, err := exec.LookPath("node")
	if err != nil {
		if os.Getenv("STIGAUDIT_REQUIRE_NODE") == "1" {
			t.Fatal("node is not installed and STIGAUDIT_REQUIRE_NODE=1")
		}
		t.Skip("node is not installed: the Node host was not checked")
	}
	file := filepath.Join(t.TempDir(), "receipts.json")
	data, _ := json.Marshal(map[string]any{"key": vkey, "items": hosts})
	if err := os.WriteFile(file, data, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(node, "js/testdata/verify-receipts.mjs", file).CombinedOutput()
	if err != nil {
		t.Fatalf("node: %v\n%s", err, out)
	}
	var res struct {
		Checked    int      `json:"checked"`
		Mismatches []string `json:"mismatches"`
	}
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("node printed %q: %v", out, err)
	}
	t.Logf("node: %v", time.Since(start))
	if res.Checked != len(hosts) || len(res.Mismatches) > 0 {
		t.Fatalf("Node checked %d of %d receipts; mismatches: %v", res.Checked, len(hosts), res.Mismatches)
	}
}
