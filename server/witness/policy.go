package witness

import (
	"bufio"
	"bytes"
	"fmt"
	"net/url"
	"strings"

	fwitness "github.com/transparency-dev/formats/witness"
	"golang.org/x/mod/sumdb/note"

	"github.com/stigaudit/stigaudit/core/auditerr"
)

// Policy is a parsed C2SP tlog-policy: the witnesses (name, cosignature
// verifier key, URL) and the quorum a checkpoint's cosignatures must meet.
type Policy struct {
	// Witnesses are the policy's witnesses, in the order of the file.
	Witnesses []Witness
	quorum    fwitness.Group
}

// Witness is one witness of a policy.
type Witness struct {
	// Name is the witness's name in the policy file (metrics and logs).
	Name string
	// URL is the submission prefix; requests go to URL + "/add-checkpoint".
	URL string
	// Verifier checks its cosignatures (cosignature/v1, Ed25519).
	Verifier note.Verifier
}

// ParsePolicy parses a tlog-policy file: "log", "witness NAME VKEY URL",
// "group NAME k|any|all MEMBER...", "quorum NAME|none" lines, "#"
// comments. The quorum rules are transparency-dev/formats' (the reference
// parser); errors wrap auditerr.ErrInvalidConfig.
func ParsePolicy(text []byte) (*Policy, error) {
	q, err := fwitness.ParsePolicy(text)
	if err != nil {
		return nil, auditerr.Errorf(auditerr.ErrInvalidConfig, "witness policy: %v", err)
	}
	p := &Policy{quorum: q}
	endpoints := q.Endpoints() // add-checkpoint URL → verifier, for the witnesses the quorum names
	sc := bufio.NewScanner(bytes.NewReader(text))
	for sc.Scan() {
		line, _, _ := strings.Cut(sc.Text(), "#")
		f := strings.Fields(line)
		if len(f) != 4 || f[0] != "witness" {
			continue
		}
		u, err := url.Parse(f[3])
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, auditerr.Errorf(auditerr.ErrInvalidConfig, "witness policy: witness %s: URL %q is not http(s)://host/...", f[1], f[3])
		}
		v, ok := endpoints[u.JoinPath("/add-checkpoint").String()]
		if !ok {
			continue // not part of the quorum: nothing to ask it
		}
		p.Witnesses = append(p.Witnesses, Witness{Name: f[1], URL: strings.TrimSuffix(u.String(), "/"), Verifier: v})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("witness policy: %w", err)
	}
	return p, nil
}

// Satisfied reports whether the signed note carries cosignatures that
// meet the quorum.
func (p *Policy) Satisfied(signedNote []byte) bool { return p.quorum.Satisfied(signedNote) }

// None reports whether the policy asks for no cosignature ("quorum none").
func (p *Policy) None() bool { return p.quorum.N == 0 }
