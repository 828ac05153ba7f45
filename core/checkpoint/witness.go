package checkpoint

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"strconv"
	"strings"

	"github.com/stigaudit/stigaudit/core/auditerr"
)

// Witness is a witness's C2SP tlog-cosignature key (cosignature/v1,
// Ed25519), so that every host — the browser too — can count the
// cosignatures on a checkpoint without the Go-only formats library.
type Witness struct {
	// Name is the key name the witness signs under.
	Name string
	hash uint32
	key  ed25519.PublicKey
}

// algCosignatureV is signed-note's algorithm byte of cosignature/v1 keys.
const algCosignatureV = 0x04

// NewWitness parses a witness verifier key "<name>+<hash>+<base64(0x04 ‖
// key)>"; an Ed25519 note key (0x01) is taken as the same key's
// cosignature/v1 form. Errors wrap auditerr.ErrInvalidConfig.
func NewWitness(vkey string) (Witness, error) {
	bad := func(why string) (Witness, error) {
		return Witness{}, auditerr.Errorf(auditerr.ErrInvalidConfig, "witness key %q: %s", vkey, why)
	}
	name, rest, ok := strings.Cut(vkey, "+")
	hash16, b64, ok2 := strings.Cut(rest, "+")
	if !ok || !ok2 || !validNoteName(name) || len(hash16) != 8 {
		return bad("not <name>+<hash>+<base64 key>")
	}
	raw, err := base64.StdEncoding.DecodeString(b64)
	if err != nil || len(raw) != 1+ed25519.PublicKeySize || (raw[0] != algCosignatureV && raw[0] != algEd25519) {
		return bad("not an Ed25519 cosignature key")
	}
	h, err := strconv.ParseUint(hash16, 16, 32)
	if err != nil || uint32(h) != keyHash(name, raw) {
		return bad("its hash does not match its name and key")
	}
	w := Witness{Name: name, key: ed25519.PublicKey(raw[1:])}
	w.hash = keyHash(name, append([]byte{algCosignatureV}, raw[1:]...))
	return w, nil
}

// keyHash is signed-note's key ID: the first 4 bytes of SHA-256(name ‖
// '\n' ‖ alg ‖ key).
func keyHash(name string, algKey []byte) uint32 {
	h := sha256.New()
	h.Write([]byte(name))
	h.Write([]byte{'\n'})
	h.Write(algKey)
	return binary.BigEndian.Uint32(h.Sum(nil))
}

// Cosigners returns which of ws carry a valid cosignature/v1 on the signed
// checkpoint note msg (its text up to the blank line), each named once.
func Cosigners(msg []byte, ws []Witness) []string {
	split := bytes.LastIndex(msg, []byte("\n\n"))
	if split < 0 {
		return nil
	}
	text, sigs := msg[:split+1], msg[split+2:]
	var out []string
	seen := map[string]bool{}
	for _, line := range strings.Split(string(sigs), "\n") {
		rest, ok := strings.CutPrefix(line, "— ")
		if !ok {
			continue
		}
		name, b64, _ := strings.Cut(rest, " ")
		sig, err := base64.StdEncoding.DecodeString(b64)
		if err != nil || len(sig) != 4+8+ed25519.SignatureSize {
			continue
		}
		for _, w := range ws {
			if w.Name != name || w.hash != binary.BigEndian.Uint32(sig) || seen[w.Name] {
				continue
			}
			t := binary.BigEndian.Uint64(sig[4:])
			m := append([]byte("cosignature/v1\ntime "+strconv.FormatUint(t, 10)+"\n"), text...)
			if ed25519.Verify(w.key, m, sig[12:]) {
				seen[w.Name] = true
				out = append(out, w.Name)
			}
		}
	}
	return out
}

// Policy is a C2SP tlog-policy: witnesses and a quorum over them.
type Policy struct {
	// Witnesses, by the names the policy gives them.
	Witnesses map[string]Witness
	quorum    *component
}

type component struct {
	witness string // a witness, or
	k       int    // a group: k of its members
	members []*component
}

// ParsePolicy parses a tlog-policy file ("log", "witness NAME VKEY [URL]",
// "group NAME k|any|all MEMBER...", "quorum NAME|none", # comments), as
// transparency-dev/formats' witness.ParsePolicy reads it. Errors wrap
// auditerr.ErrInvalidConfig.
func ParsePolicy(text string) (*Policy, error) {
	bad := func(line int, format string, args ...any) (*Policy, error) {
		return nil, auditerr.Errorf(auditerr.ErrInvalidConfig, "witness policy line %d: "+format, append([]any{line}, args...)...)
	}
	p := &Policy{Witnesses: map[string]Witness{}}
	comps := map[string]*component{}
	quorum := ""
	keywords := map[string]bool{"witness": true, "group": true, "any": true, "all": true, "none": true, "quorum": true, "log": true}
	for i, line := range strings.Split(text, "\n") {
		line, _, _ = strings.Cut(line, "#")
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		switch f[0] {
		case "log":
		case "witness":
			if len(f) != 3 && len(f) != 4 {
				return bad(i+1, "want witness NAME KEY [URL]")
			}
			if keywords[f[1]] || comps[f[1]] != nil {
				return bad(i+1, "name %q is a keyword or already used", f[1])
			}
			w, err := NewWitness(f[2])
			if err != nil {
				return nil, err
			}
			p.Witnesses[f[1]] = w
			comps[f[1]] = &component{witness: f[1]}
		case "group":
			if len(f) < 4 {
				return bad(i+1, "want group NAME k MEMBER...")
			}
			if keywords[f[1]] || comps[f[1]] != nil {
				return bad(i+1, "name %q is a keyword or already used", f[1])
			}
			g := &component{}
			for _, m := range f[3:] {
				c := comps[m]
				if c == nil {
					return bad(i+1, "unknown member %q", m)
				}
				g.members = append(g.members, c)
			}
			switch f[2] {
			case "any":
				g.k = 1
			case "all":
				g.k = len(g.members)
			default:
				k, err := strconv.Atoi(f[2])
				if err != nil || k < 1 || k > len(g.members) {
					return bad(i+1, "threshold %q is not from 1 to %d", f[2], len(g.members))
				}
				g.k = k
			}
			comps[f[1]] = g
		case "quorum":
			if len(f) != 2 {
				return bad(i+1, "want quorum NAME")
			}
			quorum = f[1]
		default:
			return bad(i+1, "unknown keyword %q", f[0])
		}
	}
	switch {
	case quorum == "":
		return nil, auditerr.Errorf(auditerr.ErrInvalidConfig, "witness policy: no quorum line")
	case quorum == "none":
		return p, nil
	case comps[quorum] == nil:
		return nil, auditerr.Errorf(auditerr.ErrInvalidConfig, "witness policy: quorum %q names nothing", quorum)
	}
	p.quorum = comps[quorum]
	return p, nil
}

// Met reports whether the named cosigners meet the quorum.
func (p *Policy) Met(cosigners []string) bool {
	if p.quorum == nil {
		return true
	}
	set := map[string]bool{}
	for name, w := range p.Witnesses {
		for _, c := range cosigners {
			if c == w.Name {
				set[name] = true
			}
		}
	}
	var met func(c *component) bool
	met = func(c *component) bool {
		if c.members == nil {
			return set[c.witness]
		}
		n := 0
		for _, m := range c.members {
			if met(m) {
				n++
			}
		}
		return n >= c.k
	}
	return met(p.quorum)
}

// Describe says what the quorum is, e.g. "2 of w1, w2, w3".
func (p *Policy) Describe() string {
	if p.quorum == nil {
		return "none"
	}
	var d func(c *component) string
	d = func(c *component) string {
		if c.members == nil {
			return c.witness
		}
		parts := make([]string, len(c.members))
		for i, m := range c.members {
			parts[i] = d(m)
		}
		s := strconv.Itoa(c.k) + " of " + strings.Join(parts, ", ")
		if len(c.members) > 1 && c.members[0].members != nil {
			s = "(" + s + ")"
		}
		return s
	}
	return d(p.quorum)
}

// List returns the policy's witnesses, for Cosigners.
func (p *Policy) List() []Witness {
	out := make([]Witness, 0, len(p.Witnesses))
	for _, w := range p.Witnesses {
		out = append(out, w)
	}
	return out
}
