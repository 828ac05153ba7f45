package checkpoint

import (
	"bytes"
	"encoding/base64"
	"io"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/mod/sumdb/note"

	"github.com/stigaudit/stigaudit/core/auditerr"
)

// HashSize is the size of a tree root (SHA-256).
const HashSize = 32

// OriginPrefix starts the default origin of a node: "stigaudit/<node-name>".
const OriginPrefix = "stigaudit/"

// Checkpoint is a tree head: the log named Origin has Size events, whose
// RFC 6962 Merkle tree root is Root.
type Checkpoint struct {
	Origin string
	Size   uint64
	Root   [HashSize]byte
}

// DefaultOrigin returns the conventional origin of the log of a node,
// "stigaudit/<node>".
func DefaultOrigin(node string) string { return OriginPrefix + node }

// ValidOrigin reports an error wrapping auditerr.ErrInvalidCheckpoint unless
// origin can name a log and its key: non-empty UTF-8 without whitespace,
// control characters or '+'.
func ValidOrigin(origin string) error {
	if origin == "" {
		return auditerr.Errorf(auditerr.ErrInvalidCheckpoint, "checkpoint origin is empty")
	}
	if !utf8.ValidString(origin) {
		return auditerr.Errorf(auditerr.ErrInvalidCheckpoint, "checkpoint origin %q is not valid UTF-8", origin)
	}
	for _, r := range origin {
		if unicode.IsSpace(r) || unicode.IsControl(r) || r == '+' {
			return auditerr.Errorf(auditerr.ErrInvalidCheckpoint, "checkpoint origin %q contains %q; an origin is a key name, without spaces, control characters or '+'", origin, r)
		}
	}
	return nil
}

// NoteBody returns the text of a signed note n, up to and including the
// line before its first blank line (all of n when it has none): a
// checkpoint's body, without its signature lines.
func NoteBody(n []byte) []byte {
	if i := bytes.Index(n, []byte("\n\n")); i >= 0 {
		return n[:i+1]
	}
	return n
}

// Body returns the checkpoint text "<origin>\n<size>\n<base64 root>\n", the
// bytes that are signed. It does not check the origin (Sign does).
func (c Checkpoint) Body() []byte {
	b := make([]byte, 0, len(c.Origin)+1+20+1+44+1)
	b = append(b, c.Origin...)
	b = append(b, '\n')
	b = strconv.AppendUint(b, c.Size, 10)
	b = append(b, '\n')
	b = base64.StdEncoding.AppendEncode(b, c.Root[:])
	return append(b, '\n')
}

// ParseBody parses checkpoint text: an origin line, a size line (decimal,
// no sign, no leading zeros) and a root line (standard base64 of 32 bytes),
// each ending in a newline, then optional non-empty extension lines, which
// C2SP says to ignore. It checks no signature (see Open). Errors wrap
// auditerr.ErrInvalidCheckpoint.
func ParseBody(text []byte) (Checkpoint, error) {
	var c Checkpoint
	if len(text) == 0 || text[len(text)-1] != '\n' {
		return c, auditerr.Errorf(auditerr.ErrInvalidCheckpoint, "malformed checkpoint: text does not end in a newline")
	}
	lines := strings.Split(string(text[:len(text)-1]), "\n")
	if len(lines) < 3 {
		return c, auditerr.Errorf(auditerr.ErrInvalidCheckpoint, "malformed checkpoint: %d lines, want origin, size and root", len(lines))
	}
	for i, l := range lines {
		if l == "" {
			return c, auditerr.Errorf(auditerr.ErrInvalidCheckpoint, "malformed checkpoint: line %d is empty", i+1)
		}
	}
	if err := ValidOrigin(lines[0]); err != nil {
		return c, err
	}
	c.Origin = lines[0]
	size, err := parseSize(lines[1])
	if err != nil {
		return Checkpoint{}, err
	}
	c.Size = size
	root, err := base64.StdEncoding.Strict().DecodeString(lines[2])
	if err != nil || len(root) != HashSize || base64.StdEncoding.EncodeToString(root) != lines[2] {
		return Checkpoint{}, auditerr.Errorf(auditerr.ErrInvalidCheckpoint, "malformed checkpoint: root line %q is not the base64 of %d bytes", lines[2], HashSize)
	}
	copy(c.Root[:], root)
	return c, nil
}

func parseSize(s string) (uint64, error) {
	bad := len(s) == 0 || len(s) > 1 && s[0] == '0'
	for i := 0; i < len(s) && !bad; i++ {
		bad = s[i] < '0' || s[i] > '9'
	}
	if !bad {
		if n, err := strconv.ParseUint(s, 10, 64); err == nil {
			return n, nil
		}
	}
	return 0, auditerr.Errorf(auditerr.ErrInvalidCheckpoint, "malformed checkpoint: size line %q is not a decimal tree size", s)
}

// Sign returns the signed note of c, signed by s. The signer's name should
// be c.Origin (see the package doc); c.Origin must be a valid origin.
func Sign(c Checkpoint, s note.Signer) ([]byte, error) {
	if err := ValidOrigin(c.Origin); err != nil {
		return nil, err
	}
	msg, err := note.Sign(&note.Note{Text: string(c.Body())}, s)
	if err != nil {
		return nil, auditerr.Errorf(auditerr.ErrInvalidCheckpoint, "sign checkpoint %s at size %d: %v", c.Origin, c.Size, err)
	}
	return msg, nil
}

// Open verifies the signed checkpoint msg with v and returns it. It requires
// a valid signature by v (other signatures, e.g. of witnesses, are ignored)
// and the given origin; an empty origin means v.Name(), the convention that
// a log signs with a key named after its origin. Every failure wraps
// auditerr.ErrInvalidCheckpoint.
func Open(msg []byte, origin string, v note.Verifier) (Checkpoint, error) {
	if v == nil {
		return Checkpoint{}, auditerr.Errorf(auditerr.ErrInvalidCheckpoint, "no verifier key to open the checkpoint with")
	}
	if origin == "" {
		origin = v.Name()
	}
	text, refusal := openNote(msg, v)
	if refusal != nil {
		return Checkpoint{}, openError(msg, v, refusal)
	}
	c, err := ParseBody(text)
	if err != nil {
		return Checkpoint{}, err
	}
	if c.Origin != origin {
		return Checkpoint{}, auditerr.Errorf(auditerr.ErrInvalidCheckpoint, "checkpoint is for log %q, want %q", c.Origin, origin)
	}
	return c, nil
}

// hex8 is fmt's %08x of a key hash, without fmt (see auditerr.Errorf).
func hex8(h uint32) string {
	const digits = "0123456789abcdef"
	var b [8]byte
	for i := 7; i >= 0; i-- {
		b[i] = digits[h&0xF]
		h >>= 4
	}
	return string(b[:])
}

// openError explains why openNote refused msg.
func openError(msg []byte, v note.Verifier, r *noteRefusal) error {
	switch {
	case r.invalid != nil:
		return auditerr.Errorf(auditerr.ErrInvalidCheckpoint, "checkpoint signature by %s+%s does not verify: the checkpoint was altered or forged", r.invalid.name, hex8(r.invalid.hash))
	case !r.malformed:
		var names []string
		for _, s := range r.unverified {
			names = append(names, s.name+"+"+hex8(s.hash))
		}
		if len(names) == 0 {
			return auditerr.Errorf(auditerr.ErrInvalidCheckpoint, "checkpoint has no signature by %s+%s", v.Name(), hex8(v.KeyHash()))
		}
		return auditerr.Errorf(auditerr.ErrInvalidCheckpoint, "checkpoint is not signed by %s+%s (signed by %s)", v.Name(), hex8(v.KeyHash()), strings.Join(names, ", "))
	case !bytes.Contains(msg, []byte("\n\n")):
		return auditerr.Errorf(auditerr.ErrInvalidCheckpoint, "malformed signed note: no signature block")
	default:
		return auditerr.Errorf(auditerr.ErrInvalidCheckpoint, "malformed signed note: malformed note")
	}
}

// GenerateKey returns a new Ed25519 signer key and its verifier key for a
// log named name, with randomness from rand. Errors wrap
// auditerr.ErrInvalidCheckpoint (bad name) or carry rand's failure.
func GenerateKey(rand io.Reader, name string) (skey, vkey string, err error) {
	if err := ValidOrigin(name); err != nil {
		return "", "", err
	}
	return note.GenerateKey(rand, name)
}

// NewSigner parses a signer key made by GenerateKey. Errors wrap
// auditerr.ErrInvalidCheckpoint and never repeat the key.
func NewSigner(skey string) (note.Signer, error) {
	s, err := note.NewSigner(skey)
	if err != nil {
		return nil, auditerr.Errorf(auditerr.ErrInvalidCheckpoint, "invalid checkpoint signer key: %v", err)
	}
	return s, nil
}

// NewVerifier parses a verifier key "<name>+<hash>+<base64>", accepting
// exactly the Ed25519 keys note.NewVerifier accepts. Errors wrap
// auditerr.ErrInvalidCheckpoint.
func NewVerifier(vkey string) (note.Verifier, error) {
	v, why := parseVerifierKey(strings.TrimSpace(vkey))
	if v == nil {
		return nil, auditerr.Errorf(auditerr.ErrInvalidCheckpoint, "invalid checkpoint verifier key: %s", why)
	}
	return v, nil
}
