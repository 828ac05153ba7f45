package event

import (
	"strings"
	"unicode/utf8"

	"github.com/stigaudit/stigaudit/core/auditerr"
	"github.com/stigaudit/stigaudit/core/jcs"
)

// Instruction event types (docs/event-format.md#instruction-events): they are recorded only for instruction
// facts, and their detail carries the fact.
const (
	TypeInstructionQuarantined = "instruction_quarantined"
	TypeInstructionPromoted    = "instruction_promoted"
)

// IsInstructionType reports whether events of type typ describe a fact and
// take a FactRef.
func IsInstructionType(typ string) bool {
	return typ == TypeInstructionQuarantined || typ == TypeInstructionPromoted
}

// The values of a fact's interpret_as (docs/event-format.md#instruction-events); null is also valid.
const (
	InterpretContent     = "content"
	InterpretInstruction = "instruction"
	// InterpretCode is reserved by the seed's ADR: valid, never an
	// instruction by itself.
	InterpretCode = "code"
)

// InstructionPrefix marks the entity or relation of an instruction fact.
const InstructionPrefix = "instruction:"

// IsInstructionFact reports whether a fact is an instruction fact (the
// seed's ADR-003 rule, docs/event-format.md#instruction-events): interpretAs is "instruction", or entity or
// relation starts with "instruction:" (exactly, case-sensitively; nil and ""
// never match). interpretAs must be nil, "content", "instruction" or
// "code"; anything else fails with invalid_interpret_as. "code" is reserved
// by the seed's ADR: it is valid and, like "content", never makes a fact an
// instruction fact by itself — the seed's is_instruction_fact still answers
// true for an entity or relation in the instruction: namespace, and so does
// this function.
func IsInstructionFact(entity, relation, interpretAs *string) (bool, error) {
	if interpretAs != nil {
		switch *interpretAs {
		case InterpretInstruction:
			return true, nil
		case InterpretContent, InterpretCode:
		default:
			return false, auditerr.Errorf(auditerr.ErrInvalidInterpretAs,
				"interpret_as %q must be \"content\", \"instruction\", \"code\" or null", clip(*interpretAs))
		}
	}
	return (entity != nil && strings.HasPrefix(*entity, InstructionPrefix)) ||
		(relation != nil && strings.HasPrefix(*relation, InstructionPrefix)), nil
}

// Names of the detail keys that carry the fact, in canonical order.
const (
	DetailFactEntity      = "fact_entity"
	DetailFactInterpretAs = "fact_interpret_as"
	DetailFactRelation    = "fact_relation"
)

// MergeDetail returns the canonical detail of an instruction event: the
// object {fact_entity, fact_relation, fact_interpret_as} (nil values as JSON
// null) merged with the caller's detail, the caller's keys winning. detail
// is any JSON object text, or nil or "null" for none; it and the result are
// bounded by DefaultLimits (invalid_detail, detail_too_large,
// detail_too_deep). The fact's strings must be valid UTF-8 (invalid_field).
func MergeDetail(f FactRef, detail []byte) ([]byte, error) {
	lim := DefaultLimits()
	canon, err := canonicalDetail(nil, detail, lim)
	if err != nil {
		return nil, err
	}
	if err := checkFact(&f); err != nil {
		return nil, err
	}
	out := mergeCanonical(make([]byte, 0, len(canon)+96), &f, canon)
	if len(out) > lim.MaxDetailBytes {
		return nil, detailTooLarge(lim)
	}
	return out, nil
}

func checkFact(f *FactRef) error {
	for _, p := range [...]struct {
		name string
		v    *string
	}{{"fact.entity", f.Entity}, {"fact.relation", f.Relation}, {"fact.interpret_as", f.InterpretAs}} {
		if p.v != nil && !utf8.ValidString(*p.v) {
			return auditerr.Errorf(auditerr.ErrInvalidField, "%s: invalid UTF-8", p.name)
		}
	}
	return nil
}

// mergeCanonical appends to dst the canonical object of the fact keys merged
// with the canonical object canon (or nil), canon's keys winning. Both are
// sorted, so one pass suffices.
func mergeCanonical(dst []byte, f *FactRef, canon []byte) []byte {
	facts := [3]struct {
		name string
		v    *string
	}{{DetailFactEntity, f.Entity}, {DetailFactInterpretAs, f.InterpretAs}, {DetailFactRelation, f.Relation}}
	next := 0
	dst = append(dst, '{')
	n := 0
	writeFact := func() {
		if n > 0 {
			dst = append(dst, ',')
		}
		n++
		dst = append(dst, '"')
		dst = append(dst, facts[next].name...)
		dst = append(dst, '"', ':')
		if v := facts[next].v; v != nil {
			dst = jcs.AppendString(dst, *v)
		} else {
			dst = append(dst, "null"...)
		}
		next++
	}
	if canon != nil {
		it := jcs.Members(canon)
		for it.Next() {
			m := it.Member()
			for next < len(facts) {
				c := m.CompareName(facts[next].name)
				if c < 0 {
					break
				}
				if c == 0 {
					next++ // the caller's value wins
					break
				}
				writeFact()
			}
			if n > 0 {
				dst = append(dst, ',')
			}
			n++
			dst = append(dst, '"')
			dst = append(dst, m.Key...)
			dst = append(dst, '"', ':')
			dst = append(dst, m.Value...)
		}
	}
	for next < len(facts) {
		writeFact()
	}
	return append(dst, '}')
}
