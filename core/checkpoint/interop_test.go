package checkpoint

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"strings"
	"testing"

	"golang.org/x/mod/sumdb/note"
)

// interopKeys returns a log key and a witness key made by note itself.
func interopKeys(t testing.TB) (log, witness note.Signer, logV string) {
	t.Helper()
	skey, vkey, err := note.GenerateKey(newDetRand("interop"), "stigaudit/node-1")
	if err != nil {
		t.Fatal(err)
	}
	log, err = note.NewSigner(skey)
	if err != nil {
		t.Fatal(err)
	}
	wkey, _, err := note.GenerateKey(newDetRand("witness"), "witness.example/w1")
	if err != nil {
		t.Fatal(err)
	}
	witness, err = note.NewSigner(wkey)
	if err != nil {
		t.Fatal(err)
	}
	return log, witness, vkey
}

// sameOpen fails unless openNote with the slim verifier of vkey answers msg
// as note.Open with note's verifier does: the same text, or a refusal of
// the same kind naming the same signatures.
func sameOpen(t *testing.T, vkey string, msg []byte) {
	t.Helper()
	slim, why := parseVerifierKey(vkey)
	if slim == nil {
		t.Fatalf("slim verifier refuses %q: %s", vkey, why)
	}
	nv, err := note.NewVerifier(vkey)
	if err != nil {
		t.Fatal(err)
	}
	text, refusal := openNote(msg, slim)
	n, err := note.Open(msg, note.VerifierList(nv))
	var invalid *note.InvalidSignatureError
	var unverified *note.UnverifiedNoteError
	switch {
	case err == nil:
		if refusal != nil || string(text) != n.Text {
			t.Fatalf("%q: note opens it, slim: %q, %+v", msg, text, refusal)
		}
	case refusal == nil:
		t.Fatalf("%q: note refuses it (%v), slim opens it", msg, err)
	case errors.As(err, &invalid):
		if refusal.invalid == nil || refusal.invalid.name != invalid.Name || refusal.invalid.hash != invalid.Hash {
			t.Fatalf("%q: note: %v; slim: %+v", msg, err, refusal)
		}
	case errors.As(err, &unverified):
		var want []signature
		for _, s := range unverified.Note.UnverifiedSigs {
			want = append(want, signature{s.Name, s.Hash})
		}
		if refusal.malformed || refusal.invalid != nil || len(refusal.unverified) != len(want) {
			t.Fatalf("%q: note: %v %+v; slim: %+v", msg, err, want, refusal)
		}
		for i := range want {
			if refusal.unverified[i] != want[i] {
				t.Fatalf("%q: note: %+v; slim: %+v", msg, want, refusal.unverified)
			}
		}
	default:
		if !refusal.malformed {
			t.Fatalf("%q: note: %v; slim: %+v", msg, err, refusal)
		}
	}
}

// TestSlimOpenMatchesNote: notes signed by note (alone, with a witness,
// by another key, altered, malformed in every way note checks) are opened
// or refused by the slim verifier exactly as note.Open refuses them, and
// through Open with the error kinds of the package doc.
func TestSlimOpenMatchesNote(t *testing.T) {
	log, witness, vkey := interopKeys(t)
	text := string(testCheckpoint().Body())
	sign := func(text string, signers ...note.Signer) []byte {
		msg, err := note.Sign(&note.Note{Text: text}, signers...)
		if err != nil {
			t.Fatal(err)
		}
		return msg
	}
	good := sign(text, log)
	both := sign(text, witness, log)
	sigLine := string(good[len(text)+1:])
	flipped := []byte(strings.Clone(string(good)))
	flipped[len(flipped)-5] ^= 1 // inside the base64 of the signature
	if flipped[len(flipped)-5] == '=' || flipped[len(flipped)-5] == '\n' {
		t.Fatal("flip hit padding")
	}
	var many strings.Builder
	many.WriteString(text + "\n")
	for i := 0; i < 101; i++ {
		many.WriteString(string(sign(text, witness)[len(text)+1:]))
	}
	// A signature line with the key's hash and 64 zero bytes.
	var zero [4 + 64]byte
	binary.BigEndian.PutUint32(zero[:], log.KeyHash())
	badLine := "— stigaudit/node-1 " + base64.StdEncoding.EncodeToString(zero[:]) + "\n"
	badSig := []byte(text + "\n" + badLine)

	cases := map[string][]byte{
		"signed by the key":                good,
		"signed by a witness and the key":  both,
		"signed by the witness only":       sign(text, witness),
		"the witness twice":                []byte(text + "\n" + string(sign(text, witness)[len(text)+1:]) + string(sign(text, witness)[len(text)+1:])),
		"text altered":                     bytes.Replace(good, []byte("1234"), []byte("1235"), 1),
		"signature bit flipped":            flipped,
		"a zero signature, right key hash": badSig,
		"a good signature, then a bad one": []byte(string(good) + string(badSig[len(text)+1:])),
		"a bad signature, then a good one": []byte(string(badSig) + sigLine),
		"no signature block":               []byte(text),
		"empty signature block":            []byte(text + "\n"),
		"no final newline":                 good[:len(good)-1],
		"line without the em dash":         []byte(text + "\n- " + sigLine[len("— "):]),
		"name only":                        []byte(text + "\n— stigaudit/node-1\n"),
		"bad base64":                       []byte(text + "\n— stigaudit/node-1 !!!!\n"),
		"signature under 5 bytes":          []byte(text + "\n— stigaudit/node-1 AAAA\n"),
		"name with a plus":                 []byte(text + "\n— a+b " + sigLine[len("— stigaudit/node-1 "):]),
		"control character in the text":    append([]byte("x\x01"), good...),
		"invalid UTF-8 in the text":        append([]byte("x\xff"), good...),
		"a tab in the text":                append([]byte("x\t"), good...),
		"more than 100 signatures":         []byte(many.String()),
		"a blank line in the text":         []byte("a\n\n" + string(good)),
		"an extra blank line before sigs":  []byte(text + "\n" + sigLine + "\n" + sigLine),
		"empty":                            nil,
		"only the signature block":         []byte("\n\n" + sigLine),
		"witness line repeated, then key":  []byte(string(sign(text, witness)) + string(sign(text, witness)[len(text)+1:]) + sigLine),
		"key signature for another text":   []byte(text + "\n" + string(sign("other\n", log)[len("other\n")+1:])),
		"another key of the same name":     sign(text, mustSigner(t, "other", "stigaudit/node-1")),
	}
	for name, msg := range cases {
		t.Run(name, func(t *testing.T) { sameOpen(t, vkey, msg) })
	}
	// Through Open, the kinds of refusal have their own messages.
	v, err := NewVerifier(vkey)
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{
		"signed by the key":                "",
		"signed by a witness and the key":  "",
		"signature bit flipped":            "does not verify",
		"signed by the witness only":       "is not signed by stigaudit/node-1+",
		"another key of the same name":     "is not signed by",
		"no signature block":               "no signature block",
		"bad base64":                       "malformed signed note",
		"a bad signature, then a good one": "does not verify",
	} {
		_, err := Open(cases[name], "", v)
		if want == "" && err != nil || want != "" && (err == nil || !strings.Contains(err.Error(), want)) {
			t.Errorf("%s: Open: %v, want %q", name, err, want)
		}
	}
}

func mustSigner(t *testing.T, seed, name string) note.Signer {
	t.Helper()
	skey, _, err := note.GenerateKey(newDetRand(seed), name)
	if err != nil {
		t.Fatal(err)
	}
	s, err := note.NewSigner(skey)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestSlimKeysMatchNote: the slim parser accepts exactly the verifier keys
// note.NewVerifier accepts, with the same name and hash, refuses the others
// for the same reason, and its verifier accepts exactly the signatures
// note's does.
func TestSlimKeysMatchNote(t *testing.T) {
	_, vkey, err := note.GenerateKey(newDetRand("keys"), "stigaudit/node-1")
	if err != nil {
		t.Fatal(err)
	}
	name, rest, _ := strings.Cut(vkey, "+")
	hash, key64, _ := strings.Cut(rest, "+")
	key, _ := base64.StdEncoding.DecodeString(key64)
	withKey := func(name string, key []byte) string {
		return name + "+" + hex8(noteKeyHash(name, key)) + "+" + base64.StdEncoding.EncodeToString(key)
	}
	alg2 := append([]byte{2}, key[1:]...)
	short := key[:20]
	pub := ed25519.PublicKey(key[1:])
	std, err := note.NewEd25519VerifierKey("stigaudit/node-1", pub)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{
		vkey, std,
		withKey("other.example/log", key),
		withKey("naïve/ünïcode", key),
		name + "+" + strings.ToUpper(hash) + "+" + key64,
		name + "+" + hash + "+" + key64 + "=",
		name + "+" + hash + "+" + key64[:len(key64)-1],
		name + "+" + hash + "+" + key64 + "+extra",
		name + "+" + hash[:7] + "+" + key64,
		name + "+0x" + hash[2:] + "+" + key64,
		name + "+" + hash,
		name,
		"",
		"+" + hash + "+" + key64,
		withKey("two words", key),
		withKey("tab\there", key),
		withKey("bad\xffname", key),
		withKey("stigaudit/node-1", alg2),
		withKey("stigaudit/node-1", short),
		withKey("stigaudit/node-1", []byte{1}),
		withKey("stigaudit/node-1", append(key, 0)),
		"stigaudit/node-2+" + hash + "+" + key64,
	} {
		slim, why := parseVerifierKey(k)
		nv, err := note.NewVerifier(k)
		if (slim != nil) != (err == nil) {
			t.Errorf("%q: slim %v (%s), note %v", k, slim != nil, why, err)
			continue
		}
		if err != nil {
			if why != err.Error() {
				t.Errorf("%q: slim refuses for %q, note for %q", k, why, err)
			}
			continue
		}
		if slim.Name() != nv.Name() || slim.KeyHash() != nv.KeyHash() {
			t.Errorf("%q: slim %s+%08x, note %s+%08x", k, slim.Name(), slim.KeyHash(), nv.Name(), nv.KeyHash())
		}
		for _, sig := range [][]byte{nil, make([]byte, 64), bytes.Repeat([]byte{0xff}, 64)} {
			if slim.Verify([]byte("m"), sig) != nv.Verify([]byte("m"), sig) {
				t.Errorf("%q: verifiers disagree on %x", k, sig)
			}
		}
	}
}

// FuzzOpenMatchesNote: on any bytes, the slim verifier and note.Open agree.
func FuzzOpenMatchesNote(f *testing.F) {
	log, witness, vkey := interopKeys(f)
	text := string(testCheckpoint().Body())
	for _, signers := range [][]note.Signer{{log}, {witness}, {witness, log}} {
		msg, err := note.Sign(&note.Note{Text: text}, signers...)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(msg)
	}
	f.Add([]byte("a\n\n— b c\n"))
	f.Fuzz(func(t *testing.T, msg []byte) { sameOpen(t, vkey, msg) })
}
