package witness_test

import (
	"crypto/rand"
	"errors"
	"fmt"
	"strings"
	"testing"

	fnote "github.com/transparency-dev/formats/note"
	"golang.org/x/mod/sumdb/note"

	"github.com/stigaudit/stigaudit/core/auditerr"
	"github.com/stigaudit/stigaudit/server/witness"
)

func cosigKey(t *testing.T, name string) (note.Signer, string) {
	t.Helper()
	skey, vkey, err := note.GenerateKey(rand.Reader, name)
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
	return s, cv
}

func TestPolicyQuorum(t *testing.T) {
	s1, v1 := cosigKey(t, "w1.example")
	s2, v2 := cosigKey(t, "w2.example")
	s3, v3 := cosigKey(t, "w3.example")
	text := fmt.Sprintf(`# two of three
log example.com/log+00000000+AAAA
witness w1 %s https://w1.example/
witness w2 %s https://w2.example/sub
witness w3 %s http://127.0.0.1:9000
group two 2 w1 w2 w3
quorum two
`, v1, v2, v3)
	p, err := witness.ParsePolicy([]byte(text))
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Witnesses) != 3 || p.Witnesses[1].Name != "w2" || p.Witnesses[1].URL != "https://w2.example/sub" || p.None() {
		t.Fatalf("parsed %+v", p.Witnesses)
	}
	logSigner, _, _ := note.GenerateKey(rand.Reader, "example.com/log")
	ls, _ := note.NewSigner(logSigner)
	body := "example.com/log\n5\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n"
	for _, tc := range []struct {
		signers []note.Signer
		want    bool
	}{
		{nil, false},
		{[]note.Signer{s1}, false},
		{[]note.Signer{s1, s3}, true},
		{[]note.Signer{s2, s3}, true},
	} {
		msg, err := note.Sign(&note.Note{Text: body}, append([]note.Signer{ls}, tc.signers...)...)
		if err != nil {
			t.Fatal(err)
		}
		if got := p.Satisfied(msg); got != tc.want {
			t.Errorf("%d cosignatures: Satisfied = %v, want %v", len(tc.signers), got, tc.want)
		}
	}
}

func TestPolicyRefusals(t *testing.T) {
	_, v1 := cosigKey(t, "w1.example")
	for _, text := range []string{
		"witness w1 " + v1 + " https://w1.example\n",                   // no quorum
		"witness w1 " + v1 + " https://w1.example\nquorum w2\n",        // unknown quorum
		"witness w1 " + v1 + " ftp://w1.example\nquorum w1\n",          // not http(s)
		"witness w1 example.com+00000000+AAAA https://w1\nquorum w1\n", // not a key
		"witness w1 " + v1 + " https://w1.example\ngroup g 2 w1\nquorum g\n",
		"frobnicate\nquorum none\n",
	} {
		if _, err := witness.ParsePolicy([]byte(text)); !errors.Is(err, auditerr.ErrInvalidConfig) {
			t.Errorf("ParsePolicy(%q) = %v, want invalid_config", strings.TrimSpace(text), err)
		}
	}
	p, err := witness.ParsePolicy([]byte("quorum none\n"))
	if err != nil || !p.None() || !p.Satisfied([]byte("anything")) {
		t.Fatalf("quorum none: %v %v", p, err)
	}
}
