package checkpoint

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"strings"
	"testing"

	"golang.org/x/mod/sumdb/note"

	"github.com/stigaudit/stigaudit/core/auditerr"
)

// detRand is a deterministic byte stream for reproducible keys in tests.
type detRand struct {
	seed [32]byte
	ctr  uint64
	buf  []byte
}

func newDetRand(seed string) *detRand { return &detRand{seed: sha256.Sum256([]byte(seed))} }

func (r *detRand) Read(p []byte) (int, error) {
	for n := 0; n < len(p); {
		if len(r.buf) == 0 {
			b := append(r.seed[:], byte(r.ctr), byte(r.ctr>>8))
			h := sha256.Sum256(b)
			r.buf = h[:]
			r.ctr++
		}
		c := copy(p[n:], r.buf)
		r.buf = r.buf[c:]
		n += c
	}
	return len(p), nil
}

type keyPair struct {
	s note.Signer
	v note.Verifier
}

func testKey(t testing.TB, seed, name string) keyPair {
	t.Helper()
	skey, vkey, err := GenerateKey(newDetRand(seed), name)
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewSigner(skey)
	if err != nil {
		t.Fatal(err)
	}
	v, err := NewVerifier(vkey)
	if err != nil {
		t.Fatal(err)
	}
	return keyPair{s, v}
}

func testCheckpoint() Checkpoint {
	return Checkpoint{Origin: "stigaudit/node-1", Size: 1234, Root: sha256.Sum256([]byte("root"))}
}

func TestSignOpenRoundTrip(t *testing.T) {
	k := testKey(t, "a", "stigaudit/node-1")
	for _, c := range []Checkpoint{
		testCheckpoint(),
		{Origin: "stigaudit/node-1", Size: 0, Root: sha256.Sum256(nil)},
		{Origin: "stigaudit/node-1", Size: 1<<64 - 1, Root: sha256.Sum256([]byte("x"))},
	} {
		msg, err := Sign(c, k.s)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.HasPrefix(msg, c.Body()) || !bytes.Contains(msg, []byte("\n\n— stigaudit/node-1 ")) {
			t.Fatalf("signed note has an unexpected shape:\n%s", msg)
		}
		for _, origin := range []string{"", c.Origin} {
			got, err := Open(msg, origin, k.v)
			if err != nil {
				t.Fatalf("Open(origin %q): %v", origin, err)
			}
			if got != c {
				t.Fatalf("Open = %+v, want %+v", got, c)
			}
		}
	}
}

func TestBodyFormat(t *testing.T) {
	c := Checkpoint{Origin: "example.com/behind-the-sofa", Size: 20852163}
	want := "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
	// The C2SP example's root.
	p, err := ParseBody([]byte(want))
	if err != nil {
		t.Fatal(err)
	}
	c.Root = p.Root
	if got := string(c.Body()); got != want {
		t.Fatalf("Body = %q, want %q", got, want)
	}
	if p != c {
		t.Fatalf("ParseBody = %+v, want %+v", p, c)
	}
}

func TestParseBody(t *testing.T) {
	const root = "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I="
	for _, tc := range []struct {
		name, text string
		ok         bool
	}{
		{"plain", "o\n1\n" + root + "\n", true},
		{"size zero", "o\n0\n" + root + "\n", true},
		{"extension lines are ignored", "o\n1\n" + root + "\nx-ext 1\nmore\n", true},
		{"no final newline", "o\n1\n" + root, false},
		{"two lines", "o\n1\n", false},
		{"empty origin", "\n1\n" + root + "\n", false},
		{"origin with space", "my log\n1\n" + root + "\n", false},
		{"origin with plus", "a+b\n1\n" + root + "\n", false},
		{"empty size", "o\n\n" + root + "\n", false},
		{"leading zero", "o\n01\n" + root + "\n", false},
		{"signed size", "o\n+1\n" + root + "\n", false},
		{"negative size", "o\n-1\n" + root + "\n", false},
		{"size overflows", "o\n18446744073709551616\n" + root + "\n", false},
		{"size with space", "o\n1 \n" + root + "\n", false},
		{"short root", "o\n1\nCsUYapGG\n", false},
		{"unpadded root", "o\n1\n" + strings.TrimSuffix(root, "=") + "\n", false},
		{"url-safe root", "o\n1\nCsUYapGGPo4dkMgIAUqom_Xajj7h2fB2MPA3j2jxq2I=\n", false},
		{"non-canonical base64", "o\n1\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2J=\n", false},
		{"empty extension line", "o\n1\n" + root + "\n\nx\n", false},
		{"CRLF", "o\r\n1\r\n" + root + "\r\n", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseBody([]byte(tc.text))
			if tc.ok && err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			if !tc.ok && !errors.Is(err, auditerr.ErrInvalidCheckpoint) {
				t.Fatalf("err = %v, want invalid_checkpoint", err)
			}
		})
	}
}

func TestOpenRefuses(t *testing.T) {
	k := testKey(t, "a", "stigaudit/node-1")
	other := testKey(t, "b", "stigaudit/node-1") // same name, other key
	otherName := testKey(t, "a", "stigaudit/node-2")
	good, err := Sign(testCheckpoint(), k.s)
	if err != nil {
		t.Fatal(err)
	}
	replace := func(old, new string) []byte {
		return bytes.Replace(good, []byte(old), []byte(new), 1)
	}
	root := testCheckpoint().Body()[len("stigaudit/node-1\n1234\n"):]
	forgedRoot := append([]byte(nil), good...)
	forgedRoot[len("stigaudit/node-1\n1234\n")+3] ^= 1
	wrongOrigin, err := Sign(Checkpoint{Origin: "stigaudit/node-9", Size: 1, Root: testCheckpoint().Root}, k.s)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		msg    []byte
		origin string
		v      note.Verifier
		want   string // part of the message
	}{
		{"size changed", replace("\n1234\n", "\n1235\n"), "", k.v, "does not verify"},
		{"root changed", forgedRoot, "", k.v, "does not verify"},
		{"origin line changed", replace("stigaudit/node-1\n", "stigaudit/node-X\n"), "", k.v, "does not verify"},
		{"signature changed", replace("— stigaudit/node-1 ", "— stigaudit/node-1 A"), "", k.v, ""},
		{"other key of the same name", good, "", other.v, "not signed by"},
		{"key of another name", good, "", otherName.v, "not signed by"},
		{"wrong origin", good, "stigaudit/node-2", k.v, "want \"stigaudit/node-2\""},
		{"origin differs from key name", wrongOrigin, "", k.v, "is for log \"stigaudit/node-9\""},
		{"no signature", testCheckpoint().Body(), "", k.v, "malformed"},
		{"empty", nil, "", k.v, "malformed"},
		{"body only, blank line", append(testCheckpoint().Body(), '\n'), "", k.v, "malformed"},
		{"nil verifier", good, "", nil, "no verifier"},
		{"malformed body, signed", mustSign(t, k.s, "stigaudit/node-1\n1234\nnot-base64\n"), "", k.v, "root line"},
		{"root of 31 bytes, signed", mustSign(t, k.s, "stigaudit/node-1\n1\n"+string(root[:40])+"\n"), "", k.v, "root line"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Open(tc.msg, tc.origin, tc.v)
			if !errors.Is(err, auditerr.ErrInvalidCheckpoint) {
				t.Fatalf("err = %v, want invalid_checkpoint", err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %q, want it to say %q", err, tc.want)
			}
		})
	}
}

func mustSign(t *testing.T, s note.Signer, text string) []byte {
	t.Helper()
	msg, err := note.Sign(&note.Note{Text: text}, s)
	if err != nil {
		t.Fatal(err)
	}
	return msg
}

func TestOpenIgnoresOtherSignatures(t *testing.T) {
	k := testKey(t, "a", "stigaudit/node-1")
	witness := testKey(t, "w", "witness.example/w1")
	msg, err := note.Sign(&note.Note{Text: string(testCheckpoint().Body())}, k.s, witness.s)
	if err != nil {
		t.Fatal(err)
	}
	got, err := Open(msg, "", k.v)
	if err != nil || got != testCheckpoint() {
		t.Fatalf("Open of a co-signed checkpoint = %+v, %v", got, err)
	}
}

func TestKeys(t *testing.T) {
	skey, vkey, err := GenerateKey(newDetRand("k"), "stigaudit/n")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(skey, "PRIVATE+KEY+stigaudit/n+") || !strings.HasPrefix(vkey, "stigaudit/n+") {
		t.Fatalf("keys have unexpected form: %s / %s", skey, vkey)
	}
	if _, err := NewVerifier(vkey + "\n"); err != nil {
		t.Fatalf("a verifier key read from a file with a newline: %v", err)
	}
	for _, tc := range []struct {
		name string
		err  error
	}{
		{"generate, name with space", func() error { _, _, err := GenerateKey(newDetRand("k"), "a b"); return err }()},
		{"generate, name with plus", func() error { _, _, err := GenerateKey(newDetRand("k"), "a+b"); return err }()},
		{"signer from verifier key", func() error { _, err := NewSigner(vkey); return err }()},
		{"verifier from signer key", func() error { _, err := NewVerifier(skey); return err }()},
		{"verifier, bad base64", func() error { _, err := NewVerifier(vkey[:len(vkey)-3] + "!!!"); return err }()},
		{"sign, bad origin", func() error {
			s, _ := NewSigner(skey)
			_, err := Sign(Checkpoint{Origin: "two words"}, s)
			return err
		}()},
	} {
		if !errors.Is(tc.err, auditerr.ErrInvalidCheckpoint) {
			t.Errorf("%s: err = %v, want invalid_checkpoint", tc.name, tc.err)
		}
	}
	if _, err := NewSigner(skey[:len(skey)-4] + "AAAA"); err != nil && strings.Contains(err.Error(), skey[20:]) {
		t.Errorf("signer key error repeats the key: %v", err)
	}
}

func TestDefaultOrigin(t *testing.T) {
	if got := DefaultOrigin("node-1"); got != "stigaudit/node-1" || ValidOrigin(got) != nil {
		t.Fatalf("DefaultOrigin = %q", got)
	}
}

// FuzzParseBody checks that every body ParseBody accepts describes a
// checkpoint whose own body parses back to the same checkpoint.
func FuzzParseBody(f *testing.F) {
	f.Add([]byte("stigaudit/node-1\n1234\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"))
	f.Add([]byte("o\n0\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\next\n"))
	f.Fuzz(func(t *testing.T, text []byte) {
		c, err := ParseBody(text)
		if err != nil {
			if !errors.Is(err, auditerr.ErrInvalidCheckpoint) {
				t.Fatalf("error without invalid_checkpoint: %v", err)
			}
			return
		}
		if !bytes.HasPrefix(text, c.Body()) {
			t.Fatalf("accepted %q but its body is %q", text, c.Body())
		}
		again, err := ParseBody(c.Body())
		if err != nil || again != c {
			t.Fatalf("body %q re-parses to %+v, %v", c.Body(), again, err)
		}
	})
}

func TestNoteBody(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"o\n1\nAAAA\n\n— k sig\n", "o\n1\nAAAA\n"},
		{"o\n1\nAAAA\n", "o\n1\nAAAA\n"},
		{"", ""},
	} {
		if got := string(NoteBody([]byte(tc.in))); got != tc.want {
			t.Errorf("NoteBody(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
