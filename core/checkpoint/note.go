package checkpoint

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/binary"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/mod/sumdb/note"

	"github.com/stigaudit/stigaudit/core/sha256s"
)

// This file opens C2SP signed notes (https://c2sp.org/signed-note) signed
// with Ed25519, by the rules of golang.org/x/mod/sumdb/note's NewVerifier
// and Open with a single verifier, without calling that package: its
// errors are built with fmt, which would otherwise be linked into the
// WebAssembly module for this alone. Signing stays with the note package.
// TestSlimVerifierMatchesNote and FuzzOpenMatchesNote hold the two to the
// same answers both ways.

// algEd25519 is the signed-note algorithm byte of Ed25519 keys.
const algEd25519 = 1

// ed25519Verifier is a parsed Ed25519 verifier key; it implements
// note.Verifier.
type ed25519Verifier struct {
	name string
	hash uint32
	key  ed25519.PublicKey
}

func (v *ed25519Verifier) Name() string    { return v.name }
func (v *ed25519Verifier) KeyHash() uint32 { return v.hash }
func (v *ed25519Verifier) Verify(msg, sig []byte) bool {
	return ed25519.Verify(v.key, msg, sig)
}

// noteKeyHash is the key hash of signed-note keys: the first four bytes of
// SHA-256(name ‖ "\n" ‖ algorithm ‖ key), big-endian.
func noteKeyHash(name string, key []byte) uint32 {
	b := make([]byte, 0, len(name)+1+len(key))
	b = append(append(append(b, name...), '\n'), key...)
	sum := sha256s.Sum256(b)
	return binary.BigEndian.Uint32(sum[:])
}

// validNoteName is note's rule for key names: non-empty UTF-8 without
// white space or '+'.
func validNoteName(name string) bool {
	return name != "" && utf8.ValidString(name) && strings.IndexFunc(name, unicode.IsSpace) < 0 && !strings.Contains(name, "+")
}

// Reasons a verifier key is refused, worded as note's errors are.
const (
	keyMalformed = "malformed verifier id"
	keyAlgorithm = "unknown verifier algorithm"
	keyHashWrong = "invalid verifier hash"
)

// parseVerifierKey parses "<name>+<hash>+<base64 of 0x01 ‖ key>" as
// note.NewVerifier does, returning the reason it refuses a key.
func parseVerifierKey(vkey string) (*ed25519Verifier, string) {
	name, vkey, _ := strings.Cut(vkey, "+")
	hash16, key64, _ := strings.Cut(vkey, "+")
	hash, err1 := strconv.ParseUint(hash16, 16, 32)
	key, err2 := base64.StdEncoding.DecodeString(key64)
	if len(hash16) != 8 || err1 != nil || err2 != nil || !validNoteName(name) || len(key) == 0 {
		return nil, keyMalformed
	}
	if uint32(hash) != noteKeyHash(name, key) {
		return nil, keyHashWrong
	}
	if key[0] != algEd25519 {
		return nil, keyAlgorithm
	}
	if len(key) != 1+ed25519.PublicKeySize {
		return nil, keyMalformed
	}
	return &ed25519Verifier{name: name, hash: uint32(hash), key: ed25519.PublicKey(key[1:])}, ""
}

// signature is one signature line of a note.
type signature struct {
	name string
	hash uint32
}

// noteRefusal says why openNote refused a note; exactly one field is set.
type noteRefusal struct {
	malformed  bool
	invalid    *signature  // a signature by the key does not verify
	unverified []signature // no signature by the key; these are by others
}

// openNote returns the text of the signed note msg when it carries a
// valid signature by v, as note.Open(msg, note.VerifierList(v)) does, and
// otherwise why not: malformed (note's errMalformedNote), an invalid
// signature by v (InvalidSignatureError), or no signature by v
// (UnverifiedNoteError, with the other signers).
func openNote(msg []byte, v note.Verifier) ([]byte, *noteRefusal) {
	malformed := &noteRefusal{malformed: true}
	for i := 0; i < len(msg); {
		r, size := utf8.DecodeRune(msg[i:])
		if r < 0x20 && r != '\n' || r == utf8.RuneError && size == 1 {
			return nil, malformed
		}
		i += size
	}
	split := bytes.LastIndex(msg, []byte("\n\n"))
	if split < 0 {
		return nil, malformed
	}
	text, sigs := msg[:split+1], msg[split+2:]
	if len(sigs) == 0 || sigs[len(sigs)-1] != '\n' {
		return nil, malformed
	}
	vname, vhash := v.Name(), v.KeyHash()
	var unverified []signature
	var seenLines []string
	verified, numSig := false, 0
	for len(sigs) > 0 {
		i := bytes.IndexByte(sigs, '\n')
		line := sigs[:i]
		sigs = sigs[i+1:]
		rest, ok := bytes.CutPrefix(line, []byte("— "))
		if !ok {
			return nil, malformed
		}
		name, b64, _ := strings.Cut(string(rest), " ")
		// Strict: a signature has one encoding, so no byte of a note can
		// change while it still opens (the bits base64 leaves unused).
		sig, err := base64.StdEncoding.Strict().DecodeString(b64)
		if err != nil || !validNoteName(name) || b64 == "" || len(sig) < 5 {
			return nil, malformed
		}
		hash := binary.BigEndian.Uint32(sig[0:4])
		sig = sig[4:]
		if numSig++; numSig > 100 {
			return nil, malformed
		}
		if name != vname || hash != vhash {
			// A signature by another key: listed once per line.
			if !contains(seenLines, string(rest)) {
				seenLines = append(seenLines, string(rest))
				unverified = append(unverified, signature{name, hash})
			}
			continue
		}
		if verified {
			continue // note checks one signature per key
		}
		if !v.Verify(text, sig) {
			return nil, &noteRefusal{invalid: &signature{name, hash}}
		}
		verified = true
	}
	if !verified {
		return nil, &noteRefusal{unverified: unverified}
	}
	return text, nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
