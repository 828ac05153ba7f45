package export

import (
	"strconv"

	"github.com/stigaudit/stigaudit/core/auditerr"
	"github.com/stigaudit/stigaudit/core/event"
	"github.com/stigaudit/stigaudit/core/jcs"
	"github.com/stigaudit/stigaudit/core/merkle"
)

// Purged reports whether a retention purge removed e's content: a live
// event always has an entity_uri, a purged one keeps only seq, id, ts,
// tenant_id, event_type, outcome and its leaf hash.
func Purged(e *event.Event) bool { return e.EntityURI == "" }

// appendPurgedLine writes a purged event's line: what the purge kept, with
// "purged":true, members sorted as in every other line. Its content cannot
// be re-hashed, so a verifier takes its leaf_hash as given — the leaf still
// binds the event's place in the tree.
func appendPurgedLine(b []byte, e *event.Event, proof *merkle.InclusionProof) []byte {
	b = append(b, `{"event_type":`...)
	b = jcs.AppendString(b, e.Type)
	b = append(b, `,"id":`...)
	b = jcs.AppendString(b, e.ID)
	b = append(b, `,"leaf_hash":"`...)
	b = merkle.AppendHex(b, e.LeafHash[:])
	b = append(b, `","outcome":`...)
	b = jcs.AppendString(b, e.Outcome)
	if proof != nil {
		b = append(b, `,"proof":`...)
		b = proof.AppendCanonicalJSON(b)
	}
	b = append(b, `,"purged":true,"seq":`...)
	b = strconv.AppendInt(b, e.Seq, 10)
	b = append(b, `,"tenant_id":`...)
	b = jcs.AppendString(b, e.Tenant)
	b = append(b, `,"ts":`...)
	b = jcs.AppendString(b, e.TS)
	return append(b, '}')
}

// parsePurgedLine reads a line written by appendPurgedLine (its proof
// already cut out).
func parsePurgedLine(line []byte) (event.Event, error) {
	e := event.Event{Seq: -1}
	var haveLeaf bool
	it := jcs.Members(line)
	for it.Next() {
		m := it.Member()
		str := func() string { s, _ := jcs.Unquote(m.Value); return s }
		switch m.Name() {
		case "event_type":
			e.Type = str()
		case "id":
			e.ID = str()
		case "outcome":
			e.Outcome = str()
		case "tenant_id":
			e.Tenant = str()
		case "ts":
			e.TS = str()
		case "purged":
		case "seq":
			n, err := strconv.ParseInt(string(m.Value), 10, 64)
			if err != nil || n < 0 {
				return e, auditerr.Errorf(auditerr.ErrInvalidField, "a purged line's seq is not a non-negative integer")
			}
			e.Seq = n
		case "leaf_hash":
			h, err := merkle.ParseHash(str())
			if err != nil {
				return e, auditerr.Errorf(auditerr.ErrInvalidField, "a purged line's leaf_hash is not 64 hex digits")
			}
			e.LeafHash, haveLeaf = h, true
		default:
			return e, auditerr.Errorf(auditerr.ErrUnknownField, "a purged line carries only what the purge kept, not %q", m.Name())
		}
	}
	if err := it.Err(); err != nil {
		return e, auditerr.Errorf(auditerr.ErrInvalidJSON, "a purged line is not a JSON object: %v", err)
	}
	if e.Seq < 0 || !haveLeaf {
		return e, auditerr.Errorf(auditerr.ErrMissingField, "a purged line must carry its seq and leaf_hash")
	}
	return e, nil
}
