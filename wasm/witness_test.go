package wasm

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"testing"

	fnote "github.com/transparency-dev/formats/note"
	"golang.org/x/mod/sumdb/note"

	"github.com/stigaudit/stigaudit/core/checkpoint"
)

// TestVerifyCheckpointWithPolicy: verify_checkpoint with a witness policy
// says, in the module as natively, which witnesses cosigned and whether
// the quorum is met — the browser preview shows exactly that.
func TestVerifyCheckpointWithPolicy(t *testing.T) {
	r := newRuntime(t, Config{PoolSize: 1})
	ctx := context.Background()
	lskey, lvkey, _ := checkpoint.GenerateKey(rand.Reader, "example.com/log")
	ls, _ := checkpoint.NewSigner(lskey)
	var signers []note.Signer
	policy := ""
	for i := range 3 {
		skey, vkey, _ := note.GenerateKey(rand.Reader, fmt.Sprintf("w%d.example", i+1))
		s, err := fnote.NewSignerForCosignatureV1(skey)
		if err != nil {
			t.Fatal(err)
		}
		cv, _ := fnote.VKeyToCosignatureV1(vkey)
		signers = append(signers, s)
		policy += fmt.Sprintf("witness w%d %s https://w%d.example\n", i+1, cv, i+1)
	}
	policy += "group two 2 w1 w2 w3\nquorum two\n"
	body := checkpoint.Checkpoint{Origin: "example.com/log", Size: 3}.Body()
	for _, tc := range []struct {
		cosigners []int
		want      string
	}{
		{nil, `"witnesses":{"cosigned_by":[],"met":false,"quorum":"2 of w1, w2, w3"}`},
		{[]int{1}, `"witnesses":{"cosigned_by":["w2.example"],"met":false,"quorum":"2 of w1, w2, w3"}`},
		{[]int{0, 2}, `"witnesses":{"cosigned_by":["w1.example","w3.example"],"met":true,"quorum":"2 of w1, w2, w3"}`},
	} {
		all := []note.Signer{ls}
		for _, i := range tc.cosigners {
			all = append(all, signers[i])
		}
		msg, err := note.Sign(&note.Note{Text: string(body)}, all...)
		if err != nil {
			t.Fatal(err)
		}
		in, _ := json.Marshal(map[string]string{"checkpoint": string(msg), "key": lvkey, "policy": policy})
		out, err := r.Call(ctx, "verify_checkpoint", in)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Contains(out, []byte(tc.want)) {
			t.Fatalf("cosigners %v: %s, want %s", tc.cosigners, out, tc.want)
		}
	}
	in, _ := json.Marshal(map[string]string{"checkpoint": "x", "key": lvkey, "policy": "frob\n"})
	if out, err := r.Call(ctx, "verify_checkpoint", in); err == nil {
		t.Fatalf("a bad policy: %s", out)
	}
}
