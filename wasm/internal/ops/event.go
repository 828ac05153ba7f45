package ops

import (
	"errors"
	"io"
	"strconv"

	"github.com/stigaudit/stigaudit/core/auditerr"
	"github.com/stigaudit/stigaudit/core/event"
	"github.com/stigaudit/stigaudit/core/jcs"
	"github.com/stigaudit/stigaudit/core/merkle"
	"github.com/stigaudit/stigaudit/wasm/abi"
)

// eventOp returns the event operations (build_event, emit, classify,
// merge_detail, leaf_hash), or nil for an unknown name.
func eventOp(op string) opFunc {
	switch op {
	case abi.OpBuildEvent:
		return buildEvent
	case abi.OpEmit:
		return emit
	case abi.OpClassify:
		return classify
	case abi.OpMergeDetail:
		return mergeDetail
	case abi.OpLeafHash:
		return leafHash
	}
	return nil
}

// skipped is the value answered for an instruction event whose fact is not
// an instruction fact: nothing is recorded (docs/event-format.md#instruction-events), as the HTTP API says.
const skipped = `{"skipped":"not_instruction"}`

// build parses one draft and builds its event with the host's clock and
// entropy. ok is false when the draft is an instruction event for a fact
// that is not an instruction fact.
func build(h *Host, in []byte) (ev event.Event, ok bool, err error) {
	b := &event.Builder{} // default catalogue and limits
	if h != nil && h.Builder != nil {
		b = h.Builder
	}
	if h == nil || h.Now == nil {
		if _, err := event.ParseDraft(in, b.Limits); err != nil {
			return ev, false, err
		}
		return ev, false, auditerr.Errorf(auditerr.ErrInvalidConfig, "the host supplies no clock")
	}
	ev, err = b.BuildJSON(in, h.Now(), entropyOf(h))
	if errors.Is(err, auditerr.ErrNotInstruction) {
		return ev, false, nil
	}
	return ev, err == nil, err
}

func entropyOf(h *Host) io.Reader {
	if h.Entropy == nil {
		return noEntropy{}
	}
	return h.Entropy
}

type noEntropy struct{}

func (noEntropy) Read([]byte) (int, error) { return 0, errors.New("the host supplies no entropy") }

// buildEvent: one draft event object (the body of POST /v1/audit/events for
// one event, docs/event-format.md) → the event in API form with "seq":null, exactly
// what the server would store but for seq; or {"skipped":"not_instruction"}.
func buildEvent(dst []byte, h *Host, in []byte) ([]byte, error) {
	ev, ok, err := build(h, in)
	if err != nil {
		return nil, err
	}
	if !ok {
		return append(dst, skipped...), nil
	}
	return event.AppendJSON(dst, &ev), nil
}

// emit: as buildEvent, then the canonical form goes to the host's store
// (store_append) and the answer carries the seq it returned. A negative
// result is the error of abi.StoreError.
func emit(dst []byte, h *Host, in []byte) ([]byte, error) {
	ev, ok, err := build(h, in)
	if err != nil {
		return nil, err
	}
	if !ok {
		return append(dst, skipped...), nil
	}
	if h.Append == nil {
		return nil, abi.StoreError(abi.StoreUnavailable)
	}
	seq := h.Append(event.AppendCanonical(nil, &ev))
	if seq < 0 {
		return nil, abi.StoreError(seq)
	}
	ev.Seq = seq
	return event.AppendJSON(dst, &ev), nil
}

// classify: {"entity","relation","interpret_as"} (strings or null) → true
// when the fact is an instruction fact (docs/event-format.md#instruction-events), else false.
func classify(dst []byte, _ *Host, in []byte) ([]byte, error) {
	o, err := parseObject(in, "classify", "entity", "relation", "interpret_as")
	if err != nil {
		return nil, err
	}
	f, err := o.factRef()
	if err != nil {
		return nil, err
	}
	yes, err := event.IsInstructionFact(f.Entity, f.Relation, f.InterpretAs)
	if err != nil {
		return nil, err
	}
	return strconv.AppendBool(dst, yes), nil
}

func (o object) factRef() (event.FactRef, error) {
	var f event.FactRef
	var err error
	if f.Entity, err = o.optStr("entity"); err != nil {
		return f, err
	}
	if f.Relation, err = o.optStr("relation"); err != nil {
		return f, err
	}
	f.InterpretAs, err = o.optStr("interpret_as")
	return f, err
}

// mergeDetail: {"fact":{"entity","relation","interpret_as"},"detail":...}
// → the canonical detail object of an instruction event: the fact keys
// merged with the caller's detail, the caller's keys winning (docs/event-format.md#instruction-events).
// detail is an object, null or absent, or a JSON string holding the
// detail's JSON text (so a host can pass text it has not parsed and get the
// core's own verdict on it).
func mergeDetail(dst []byte, _ *Host, in []byte) ([]byte, error) {
	o, err := parseObject(in, "merge_detail", "fact", "detail")
	if err != nil {
		return nil, err
	}
	fv, err := o.raw("fact")
	if err != nil {
		return nil, err
	}
	fo, err := parseObject(fv, "merge_detail: fact", "entity", "relation", "interpret_as")
	if err != nil {
		if auditerr.CodeOf(err) == auditerr.ErrInvalidInput.Code {
			return nil, auditerr.Errorf(auditerr.ErrInvalidField, `field "fact" must be an object`)
		}
		return nil, err
	}
	f, err := fo.factRef()
	if err != nil {
		return nil, err
	}
	detail := o["detail"] // nil when absent; "null" is no detail too
	if len(detail) > 0 && detail[0] == '"' {
		text, _ := jcs.Unquote(detail)
		detail = []byte(text)
	}
	merged, err := event.MergeDetail(f, detail)
	if err != nil {
		return nil, err
	}
	return append(dst, merged...), nil
}

// leafHash: a JSON string → "<hex>", the RFC 6962 leaf hash of its UTF-8
// bytes (for a host that holds the canonical text of an event); an event
// object in API or canonical form (an exported NDJSON line, an HTTP answer)
// → "<hex>", the leaf hash recomputed from its canonical form (a leaf_hash
// member of the input is ignored).
func leafHash(dst []byte, _ *Host, in []byte) ([]byte, error) {
	c, err := jcs.Canonicalize(nil, in, inputLimits)
	if err != nil {
		return nil, err
	}
	var h [merkle.HashSize]byte
	switch c[0] {
	case '"':
		s, _ := jcs.Unquote(c)
		h = merkle.LeafHash([]byte(s))
	case '{':
		if h, err = eventLeafHash(c); err != nil {
			return nil, err
		}
	default:
		return nil, auditerr.Errorf(auditerr.ErrInvalidInput, "leaf_hash: input must be an event object or a JSON string")
	}
	dst = append(dst, '"')
	dst = merkle.AppendHex(dst, h[:])
	return append(dst, '"'), nil
}

// eventLeafHash returns the leaf hash recomputed from the canonical form of
// an event object.
func eventLeafHash(ev []byte) ([merkle.HashSize]byte, error) {
	e, err := event.ParseEvent(ev)
	if err != nil {
		return [merkle.HashSize]byte{}, err
	}
	return event.LeafHash(event.AppendCanonical(nil, &e)), nil
}
