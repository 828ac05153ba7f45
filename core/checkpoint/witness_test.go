package checkpoint_test

import (
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"testing"

	fnote "github.com/transparency-dev/formats/note"
	fwitness "github.com/transparency-dev/formats/witness"
	"golang.org/x/mod/sumdb/note"

	"github.com/stigaudit/stigaudit/core/auditerr"
	"github.com/stigaudit/stigaudit/core/checkpoint"
)

// The core's cosignature/v1 check and quorum agree with the reference
// formats library on every subset of three witnesses' cosignatures, for
// several policies.
func TestWitnessQuorumAgreesWithFormats(t *testing.T) {
	type wit struct {
		signer note.Signer
		vkey   string
	}
	var ws []wit
	for i := range 3 {
		skey, vkey, err := note.GenerateKey(rand.Reader, fmt.Sprintf("witness.example/w%d", i+1))
		if err != nil {
			t.Fatal(err)
		}
		s, err := fnote.NewSignerForCosignatureV1(skey)
		if err != nil {
			t.Fatal(err)
		}
		cv, err := fnote.VKeyToCosignatureV1(vkey)
		if err != nil {
			t.Fatal(err)
		}
		ws = append(ws, wit{s, cv})
	}
	lskey, _, _ := checkpoint.GenerateKey(rand.Reader, "example.com/log")
	ls, _ := checkpoint.NewSigner(lskey)
	body := checkpoint.Checkpoint{Origin: "example.com/log", Size: 7}.Body()
	decl := fmt.Sprintf("witness w1 %s https://w1.example\nwitness w2 %s https://w2.example\nwitness w3 %s https://w3.example\n", ws[0].vkey, ws[1].vkey, ws[2].vkey)
	for _, q := range []string{"group g 2 w1 w2 w3\nquorum g\n", "quorum w2\n", "group g all w1 w3\nquorum g\n", "group a any w1 w2\ngroup b 2 a w3\nquorum b\n", "quorum none\n"} {
		text := decl + q
		ours, err := checkpoint.ParsePolicy(text)
		if err != nil {
			t.Fatalf("%q: %v", q, err)
		}
		theirs, err := fwitness.ParsePolicy([]byte(text))
		if err != nil {
			t.Fatal(err)
		}
		for mask := range 8 {
			signers := []note.Signer{ls}
			var want []string
			for i := range 3 {
				if mask&(1<<i) != 0 {
					signers = append(signers, ws[i].signer)
					want = append(want, fmt.Sprintf("witness.example/w%d", i+1))
				}
			}
			msg, err := note.Sign(&note.Note{Text: string(body)}, signers...)
			if err != nil {
				t.Fatal(err)
			}
			got := checkpoint.Cosigners(msg, ours.List())
			if fmt.Sprint(got) != fmt.Sprint(want) && !(len(got) == 0 && len(want) == 0) {
				t.Fatalf("cosigners of mask %b: %v, want %v", mask, got, want)
			}
			if ours.Met(got) != theirs.Satisfied(msg) {
				t.Fatalf("policy %q, cosigners %v: core says %v, formats %v", q, got, ours.Met(got), theirs.Satisfied(msg))
			}
		}
	}
	// A cosignature over another checkpoint does not count.
	other, _ := note.Sign(&note.Note{Text: string(checkpoint.Checkpoint{Origin: "example.com/log", Size: 8}.Body())}, ws[0].signer)
	msg, _ := note.Sign(&note.Note{Text: string(body)}, ls)
	forged := append(msg, other[bytes.LastIndex(other, []byte("— witness.example/w1 ")):]...)
	if ok := checkpoint.Cosigners(other, mustPolicy(t, decl+"quorum w1\n").List()); len(ok) != 1 {
		t.Fatalf("the cosignature on its own checkpoint: %v", ok)
	}
	p, _ := checkpoint.ParsePolicy(decl + "quorum w1\n")
	if got := checkpoint.Cosigners(forged, p.List()); len(got) != 0 {
		t.Fatalf("a cosignature of another checkpoint counted: %v", got)
	}
}

func mustPolicy(t *testing.T, text string) *checkpoint.Policy {
	t.Helper()
	p, err := checkpoint.ParsePolicy(text)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestParsePolicyRefusals(t *testing.T) {
	_, vkey, _ := note.GenerateKey(rand.Reader, "w.example")
	cv, _ := fnote.VKeyToCosignatureV1(vkey)
	for _, text := range []string{
		"witness w1 " + cv + "\n",
		"witness w1 " + cv + "\nquorum w2\n",
		"witness w1 " + cv + "\ngroup g 2 w1\nquorum g\n",
		"witness w1 example+00000000+AAAA\nquorum w1\n",
		"frob\nquorum none\n",
		"witness quorum " + cv + "\nquorum quorum\n",
	} {
		if _, err := checkpoint.ParsePolicy(text); !errors.Is(err, auditerr.ErrInvalidConfig) {
			t.Errorf("ParsePolicy(%q) = %v, want invalid_config", text, err)
		}
	}
}
