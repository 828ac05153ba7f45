package receipt

import (
	"bytes"
	"encoding/base64"
	"strconv"

	"golang.org/x/mod/sumdb/note"

	"github.com/stigaudit/stigaudit/core/auditerr"
	"github.com/stigaudit/stigaudit/core/checkpoint"
	"github.com/stigaudit/stigaudit/core/event"
	"github.com/stigaudit/stigaudit/core/merkle"
)

// Header is the first line of every receipt.
const Header = "c2sp.org/tlog-proof@v1"

// MaxHashes bounds the inclusion proof: a tree of 2^63 leaves needs 63.
const MaxHashes = 63

// Receipt is one event's proof of inclusion.
type Receipt struct {
	// Event is the event's canonical bytes (the tlog-proof extra data).
	Event []byte
	// Index is the event's seq, its leaf index.
	Index uint64
	// Hashes is the RFC 6962 inclusion proof, leaf's sibling first.
	Hashes [][]byte
	// Checkpoint is the signed note the proof leads to, with whatever
	// cosignatures it carries.
	Checkpoint []byte
}

// Marshal renders r in the tlog-proof text format.
func (r Receipt) Marshal() []byte {
	b := make([]byte, 0, len(Header)+8+base64.StdEncoding.EncodedLen(len(r.Event))+24+45*len(r.Hashes)+len(r.Checkpoint))
	b = append(b, Header...)
	b = append(b, "\nextra "...)
	b = base64.StdEncoding.AppendEncode(b, r.Event)
	b = append(b, "\nindex "...)
	b = strconv.AppendUint(b, r.Index, 10)
	b = append(b, '\n')
	for _, h := range r.Hashes {
		b = base64.StdEncoding.AppendEncode(b, h)
		b = append(b, '\n')
	}
	b = append(b, '\n')
	return append(b, r.Checkpoint...)
}

// strict decodes standard base64 and refuses the encodings that set the
// bits base64 leaves unused: every value has one encoding, so no byte of a
// receipt can change while it still verifies.
var strict = base64.StdEncoding.Strict()

// Parse reads a receipt. Every failure wraps auditerr.ErrInvalidProof.
func Parse(b []byte) (Receipt, error) {
	var r Receipt
	line := func() ([]byte, bool) {
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			return nil, false
		}
		l := b[:i]
		b = b[i+1:]
		return l, true
	}
	l, ok := line()
	if !ok || string(l) != Header {
		return r, invalid("the first line is not %s", Header)
	}
	if l, ok = line(); !ok {
		return r, invalid("it ends after the header")
	}
	if rest, found := bytes.CutPrefix(l, []byte("extra ")); found {
		ev, err := strict.DecodeString(string(rest))
		if err != nil || len(ev) == 0 {
			return r, invalid("the extra line is not base64 event bytes")
		}
		r.Event = ev
		if l, ok = line(); !ok {
			return r, invalid("it ends after the extra line")
		}
	}
	idx, found := bytes.CutPrefix(l, []byte("index "))
	if !found {
		return r, invalid("no index line")
	}
	n, err := strconv.ParseUint(string(idx), 10, 63)
	if err != nil || strconv.FormatUint(n, 10) != string(idx) {
		return r, invalid("index %q is not a decimal without leading zeroes", idx)
	}
	r.Index = n
	for {
		if l, ok = line(); !ok {
			return r, invalid("no blank line before the checkpoint")
		}
		if len(l) == 0 {
			break
		}
		h, err := strict.DecodeString(string(l))
		if err != nil || len(h) != merkle.HashSize {
			return r, invalid("proof line %d is not a base64 SHA-256 hash", len(r.Hashes)+1)
		}
		if len(r.Hashes) == MaxHashes {
			return r, invalid("more than %d proof hashes", MaxHashes)
		}
		r.Hashes = append(r.Hashes, h)
	}
	if len(b) == 0 {
		return r, invalid("no checkpoint")
	}
	r.Checkpoint = b
	return r, nil
}

// Verified is what a receipt proves.
type Verified struct {
	// Checkpoint is the opened checkpoint the event is included in.
	Checkpoint checkpoint.Checkpoint
	// Event is the event, parsed from its canonical bytes, with Seq and
	// LeafHash set.
	Event event.Event
	// Raw is the signed checkpoint note as the receipt carries it, with its
	// cosignatures, for a witness policy to check.
	Raw []byte
}

// Verify parses a receipt and checks it: the event bytes are canonical
// bytes of an event, their leaf hash is entry Index of the checkpoint's
// tree (inclusion proof), and the checkpoint is signed by v for origin (""
// means v's name). Failures wrap auditerr.ErrInvalidProof, or
// auditerr.ErrInvalidCheckpoint for the signature.
func Verify(b []byte, origin string, v note.Verifier) (Verified, error) {
	r, err := Parse(b)
	if err != nil {
		return Verified{}, err
	}
	if r.Event == nil {
		return Verified{}, invalid("the receipt carries no event (no extra line)")
	}
	c, err := checkpoint.Open(r.Checkpoint, origin, v)
	if err != nil {
		return Verified{}, err
	}
	if r.Index >= c.Size {
		return Verified{}, invalid("index %d is not in the checkpoint's tree of size %d", r.Index, c.Size)
	}
	e, err := event.ParseEvent(r.Event)
	if err != nil {
		return Verified{}, invalid("the event bytes are not an event: %v", err)
	}
	if canon := event.AppendCanonical(nil, &e); !bytes.Equal(canon, r.Event) {
		return Verified{}, invalid("the event bytes are not in canonical form")
	}
	leaf := event.LeafHash(r.Event)
	if err := merkle.VerifyInclusion(leaf, r.Index, c.Size, r.Hashes, c.Root); err != nil {
		return Verified{}, invalid("the event is not entry %d of the checkpoint's tree: %v", r.Index, err)
	}
	e.Seq, e.LeafHash = int64(r.Index), leaf
	return Verified{Checkpoint: c, Event: e, Raw: r.Checkpoint}, nil
}

func invalid(format string, args ...any) error {
	return auditerr.Errorf(auditerr.ErrInvalidProof, "receipt: "+format, args...)
}
