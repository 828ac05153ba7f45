package event

import (
	"bytes"
	"unsafe"

	"github.com/stigaudit/stigaudit/core/auditerr"
	"github.com/stigaudit/stigaudit/core/catalog"
	"github.com/stigaudit/stigaudit/core/jcs"
)

// reader extracts fields from one canonical JSON text. Parsing canonicalises
// the whole input first — one strict pass that also validates it — and then
// walks the canonical text: strings without escapes become substrings of a
// single string copy of it, so a request costs one allocation for all its
// string fields, and a detail is already canonical where it lies.
type reader struct {
	canon []byte
	str   string // string(canon)
}

// newReader canonicalises data; exact refuses numbers the canonical form
// would change (inexact_number), as emit requests must.
func newReader(data []byte, exact bool) (reader, error) {
	canon, err := jcs.Canonicalize(make([]byte, 0, len(data)), data, jcs.Limits{ExactNumbers: exact})
	if err != nil {
		switch auditerr.CodeOf(err) {
		case auditerr.ErrTooDeep.Code:
			return reader{}, auditerr.Errorf(auditerr.ErrDetailTooDeep, "%v", err)
		case auditerr.ErrInvalidJSON.Code, auditerr.ErrInexactNumber.Code:
			return reader{}, err
		}
		return reader{}, auditerr.Errorf(auditerr.ErrInvalidJSON, "%v", err)
	}
	return reader{canon: canon, str: string(canon)}, nil
}

// offset returns where v, a subslice of r.canon, starts in it.
func (r *reader) offset(v []byte) int { return cap(r.canon) - cap(v) }

// text returns the string value v decoded, sharing r.str when it has no
// escapes.
func (r *reader) text(v []byte) string {
	if bytes.IndexByte(v[1:len(v)-1], '\\') >= 0 {
		s, _ := jcs.Unquote(v)
		return s
	}
	off := r.offset(v)
	return r.str[off+1 : off+len(v)-1]
}

// optString reads a string-or-null field; null is "".
func (r *reader) optString(field string, v []byte) (string, error) {
	switch v[0] {
	case '"':
		return r.text(v), nil
	case 'n':
		return "", nil
	}
	return "", auditerr.Errorf(auditerr.ErrInvalidField, "%s must be a string or null", field)
}

// optStringPtr reads a string-or-null field; null is nil.
func (r *reader) optStringPtr(field string, v []byte) (*string, error) {
	if v[0] == 'n' {
		return nil, nil
	}
	s, err := r.optString(field, v)
	if err != nil {
		return nil, err
	}
	return &s, nil
}

// depth returns the nesting depth of a canonical value (0 for scalars).
func depth(v []byte) int {
	d, max := 0, 0
	for i := 0; i < len(v); i++ {
		switch v[i] {
		case '"':
			for i++; i < len(v) && v[i] != '"'; i++ {
				if v[i] == '\\' {
					i++
				}
			}
		case '{', '[':
			d++
			if d > max {
				max = d
			}
		case '}', ']':
			d--
		}
	}
	return max
}

func detailField(v []byte, lim Limits) ([]byte, error) {
	switch v[0] {
	case 'n':
		return nil, nil
	case '{':
	default:
		return nil, auditerr.Errorf(auditerr.ErrInvalidDetail, "detail must be a JSON object or null")
	}
	if len(v) > lim.MaxDetailBytes {
		return nil, detailTooLarge(lim)
	}
	if depth(v) > lim.MaxDetailDepth {
		return nil, auditerr.Errorf(auditerr.ErrDetailTooDeep, "detail nests deeper than %d levels", lim.MaxDetailDepth)
	}
	return v[:len(v):len(v)], nil
}

// ParseDraft reads one event object of an emit request (docs/event-format.md): the
// fields id, event_type, hlc, tenant_id, entity_uri, emitter, oidc_sub,
// fact_id, source, attested_key_id, scope and outcome as strings or null
// (null is ""), detail as an object or null, and fact as null or an object
// of entity, relation and interpret_as, each a string or null.
//
// Malformed JSON is invalid_json; a field of the wrong JSON type is
// invalid_field naming it; seq, ts and leaf_hash, which the log assigns, are
// invalid_field; any other member is unknown_field; a detail that is not an
// object is invalid_detail, and one beyond lim (zero fields: DefaultLimits)
// detail_too_large or detail_too_deep. A number anywhere in the object
// whose canonical form has another value (jcs.SameDecimal) is
// inexact_number. The draft's Detail is canonical. The remaining checks are
// Build's.
func ParseDraft(data []byte, lim Limits) (Draft, error) {
	lim = lim.orDefault()
	if d, _, ok := draftFast(data, lim, nil); ok {
		return d, nil
	}
	return parseDraftFull(data, lim)
}

// parseDraftFull is ParseDraft by canonicalising the whole object first:
// it decides every input, and words every error.
func parseDraftFull(data []byte, lim Limits) (Draft, error) {
	r, err := newReader(data, true)
	if err != nil {
		return Draft{}, err
	}
	if r.canon[0] != '{' {
		return Draft{}, auditerr.Errorf(auditerr.ErrInvalidInput, "an event must be a JSON object")
	}
	return r.draft(r.canon, lim)
}

// Bits of draftFast's seen set, one per draft member.
const (
	seenID = 1 << iota
	seenType
	seenHLC
	seenTenant
	seenEntity
	seenEmitter
	seenOIDCSub
	seenFactID
	seenSource
	seenAttested
	seenScope
	seenOutcome
	seenDetail
)

// draftFast reads the common draft — every member a string or null but the
// detail, an object or null, and no fact — straight from data, instead of
// canonicalising the whole object and walking the result. It reports false
// for anything else, including every input ParseDraft refuses, and
// parseDraftFull then decides; for what it accepts it returns exactly the
// Draft parseDraftFull returns (TestDraftFastMatchesFull, FuzzParseDraft).
//
// It makes one allocation: a copy of data, followed by ts and then by the
// detail's canonical form. The fields are substrings of the copy, the
// returned string is ts (for Builder.BuildJSON, which passes the time
// stamp), and the detail is a slice of the rest, capped at its length, so
// that changing its bytes cannot change a string (the string bytes are
// never written after they are copied).
func draftFast(data []byte, lim Limits, ts []byte) (Draft, string, bool) {
	var d Draft
	var seen uint16
	buf := make([]byte, len(data)+len(ts), 2*len(data)+len(ts)+16)
	copy(buf[copy(buf, data):], ts)
	text := unsafe.String(unsafe.SliceData(buf), len(buf))
	f := jcs.ScanObject(text[:len(data)])
	for f.Next() {
		var dst *string
		var bit uint16
		switch f.Name() {
		case "id":
			dst, bit = &d.ID, seenID
		case "event_type":
			dst, bit = &d.Type, seenType
		case "hlc":
			dst, bit = &d.HLC, seenHLC
		case "tenant_id":
			dst, bit = &d.Tenant, seenTenant
		case "entity_uri":
			dst, bit = &d.EntityURI, seenEntity
		case "emitter":
			dst, bit = &d.Emitter, seenEmitter
		case "oidc_sub":
			dst, bit = &d.OIDCSub, seenOIDCSub
		case "fact_id":
			dst, bit = &d.FactID, seenFactID
		case "source":
			dst, bit = &d.Source, seenSource
		case "attested_key_id":
			dst, bit = &d.AttestedKeyID, seenAttested
		case "scope":
			dst, bit = &d.Scope, seenScope
		case "outcome":
			dst, bit = &d.Outcome, seenOutcome
		case "detail":
			bit = seenDetail
		default:
			return Draft{}, "", false
		}
		if seen&bit != 0 {
			return Draft{}, "", false
		}
		seen |= bit
		switch k := f.Kind(); {
		case k == 'n':
			if !f.Null() {
				return Draft{}, "", false
			}
		case dst != nil && k == '"':
			s, ok := f.String()
			if !ok {
				return Draft{}, "", false
			}
			*dst = s
		case dst == nil && k == '{':
			// The detail is depth 1 here and depth 2 in the whole
			// object, which Canonicalize bounds by jcs.HardMaxDepth.
			c, err := f.Canonical(buf[len(buf):], jcs.Limits{
				MaxOutput:    lim.MaxDetailBytes,
				MaxDepth:     min(lim.MaxDetailDepth, jcs.HardMaxDepth-1),
				ExactNumbers: true,
			})
			if err != nil {
				return Draft{}, "", false
			}
			d.Detail = c[:len(c):len(c)]
		default:
			return Draft{}, "", false
		}
	}
	return d, text[len(data):], f.Err() == nil
}

func (r *reader) draft(obj []byte, lim Limits) (Draft, error) {
	var d Draft
	it := jcs.Members(obj)
	for it.Next() {
		m := it.Member()
		var err error
		switch string(m.Key) {
		case "id":
			d.ID, err = r.optString("id", m.Value)
		case "event_type":
			d.Type, err = r.optString("event_type", m.Value)
		case "hlc":
			d.HLC, err = r.optString("hlc", m.Value)
		case "tenant_id":
			d.Tenant, err = r.optString("tenant_id", m.Value)
		case "entity_uri":
			d.EntityURI, err = r.optString("entity_uri", m.Value)
		case "emitter":
			d.Emitter, err = r.optString("emitter", m.Value)
		case "oidc_sub":
			d.OIDCSub, err = r.optString("oidc_sub", m.Value)
		case "fact_id":
			d.FactID, err = r.optString("fact_id", m.Value)
		case "source":
			d.Source, err = r.optString("source", m.Value)
		case "attested_key_id":
			d.AttestedKeyID, err = r.optString("attested_key_id", m.Value)
		case "scope":
			d.Scope, err = r.optString("scope", m.Value)
		case "outcome":
			d.Outcome, err = r.optString("outcome", m.Value)
		case "detail":
			d.Detail, err = detailField(m.Value, lim)
		case "fact":
			d.Fact, err = r.fact(m.Value)
		case "seq", "ts", "leaf_hash":
			err = auditerr.Errorf(auditerr.ErrInvalidField, "%s is assigned by the log and may not be sent", m.Key)
		default:
			err = auditerr.Errorf(auditerr.ErrUnknownField, "unknown field %q", clip(m.Name()))
		}
		if err != nil {
			return Draft{}, err
		}
	}
	if err := it.Err(); err != nil {
		return Draft{}, err
	}
	return d, nil
}

func (r *reader) fact(v []byte) (*FactRef, error) {
	switch v[0] {
	case 'n':
		return nil, nil
	case '{':
	default:
		return nil, auditerr.Errorf(auditerr.ErrInvalidField, "fact must be an object or null")
	}
	f := new(FactRef)
	it := jcs.Members(v)
	for it.Next() {
		m := it.Member()
		var err error
		switch string(m.Key) {
		case "entity":
			f.Entity, err = r.optStringPtr("fact.entity", m.Value)
		case "relation":
			f.Relation, err = r.optStringPtr("fact.relation", m.Value)
		case "interpret_as":
			f.InterpretAs, err = r.optStringPtr("fact.interpret_as", m.Value)
		default:
			err = auditerr.Errorf(auditerr.ErrUnknownField, "unknown field \"fact.%s\"", clip(m.Name()))
		}
		if err != nil {
			return nil, err
		}
	}
	return f, it.Err()
}

// ParseEmitRequest reads the body of an emit request: one event object
// (batch false, one draft) or {"events":[...]} (batch true, the drafts in
// order). A batch holds at most lim.MaxBatchEvents events (batch_too_large)
// and nothing beside "events" (unknown_field); a request is at most
// lim.MaxRequestBytes (too_large, lim.RequestTooLarge). Each event is read
// as by ParseDraft; when any is bad the error is an *auditerr.BatchError
// (code invalid_batch) naming every bad event by index.
func ParseEmitRequest(data []byte, lim Limits) (drafts []Draft, batch bool, err error) {
	lim = lim.orDefault()
	if len(data) > lim.MaxRequestBytes {
		return nil, false, lim.RequestTooLarge()
	}
	r, err := newReader(data, true)
	var inexact map[int]*auditerr.Error
	if auditerr.CodeOf(err) == auditerr.ErrInexactNumber.Code {
		// In a batch, name every event with an inexact number by index,
		// and read the others as usual.
		if inexact = inexactEvents(data); inexact != nil {
			r, err = newReader(data, false)
		}
	}
	if err != nil {
		return nil, false, err
	}
	if r.canon[0] != '{' {
		return nil, false, auditerr.Errorf(auditerr.ErrInvalidInput, "the request must be an event object or {\"events\":[...]}")
	}
	var events []byte
	it := jcs.Members(r.canon)
	for it.Next() {
		if m := it.Member(); m.NameIs("events") {
			events = m.Value
		}
	}
	if events == nil {
		d, err := r.draft(r.canon, lim)
		if err != nil {
			return nil, false, err
		}
		return []Draft{d}, false, nil
	}
	it = jcs.Members(r.canon)
	for it.Next() {
		if m := it.Member(); !m.NameIs("events") {
			return nil, true, auditerr.Errorf(auditerr.ErrUnknownField, "unknown field %q beside \"events\"", clip(m.Name()))
		}
	}
	if events[0] != '[' {
		return nil, true, auditerr.Errorf(auditerr.ErrInvalidField, "events must be an array")
	}
	n := 0
	for el := jcs.Elements(events); el.Next(); {
		n++
	}
	if n > lim.MaxBatchEvents {
		return nil, true, lim.BatchTooLarge(n)
	}
	drafts = make([]Draft, 0, n)
	var bad []*auditerr.Error
	el := jcs.Elements(events)
	for i := 0; el.Next(); i++ {
		v := el.Member().Value
		if e, ok := inexact[i]; ok {
			bad = append(bad, e)
			continue
		}
		var d Draft
		var err error
		if v[0] != '{' {
			err = auditerr.Errorf(auditerr.ErrInvalidField, "an event must be a JSON object")
		} else {
			d, err = r.draft(v, lim)
		}
		if err != nil {
			bad = append(bad, auditerr.AtIndex(err, i))
			continue
		}
		drafts = append(drafts, d)
	}
	if len(bad) > 0 {
		return nil, true, &auditerr.BatchError{Items: bad}
	}
	return drafts, true, nil
}

// inexactEvents returns, for a batch request {"events":[...]} that is
// valid JSON, the error of each event holding a number its canonical form
// would change, by index (offsets within the event); nil when data is not
// such a batch or no event holds one.
func inexactEvents(data []byte) map[int]*auditerr.Error {
	f := jcs.ScanObject(string(data))
	var events string
	for f.Next() {
		raw, err := f.Raw(jcs.Limits{})
		if err != nil {
			return nil
		}
		if f.Name() == "events" && raw != "" && raw[0] == '[' {
			events = raw
		}
	}
	if f.Err() != nil || events == "" {
		return nil
	}
	var out map[int]*auditerr.Error
	el := jcs.ScanArray(events)
	for i := 0; el.Next(); i++ {
		raw, err := el.Raw(jcs.Limits{})
		if err != nil {
			return nil
		}
		if _, err := jcs.Canonicalize(nil, []byte(raw), jcs.Limits{ExactNumbers: true}); auditerr.CodeOf(err) == auditerr.ErrInexactNumber.Code {
			if out == nil {
				out = make(map[int]*auditerr.Error)
			}
			out[i] = auditerr.AtIndex(err, i)
		}
	}
	if el.Err() != nil {
		return nil
	}
	return out
}

// ParseEvent reads an event in the API form AppendJSON writes or in the
// canonical form AppendCanonical writes, with or without seq and leaf_hash:
// an exported NDJSON line, an HTTP answer, a store row from another host.
//
// It checks the form of every field as stored (id already normalised,
// tenant already normal, ts in the fixed-width form, event_type a valid name
// — not necessarily in this node's catalogue) but not Build's content
// rules, so that it reads back whatever a log holds; the verifier then
// recomputes the leaf hash. Seq is -1 when absent or null. LeafHash is the
// given leaf_hash, or when absent computed from the canonical form. An empty
// detail object reads as nil.
func ParseEvent(data []byte) (Event, error) {
	r, err := newReader(data, false)
	if err != nil {
		return Event{}, err
	}
	if r.canon[0] != '{' {
		return Event{}, auditerr.Errorf(auditerr.ErrInvalidInput, "an event must be a JSON object")
	}
	e := Event{Seq: -1}
	var have struct{ id, typ, ts, tenant, entity, outcome, hash bool }
	it := jcs.Members(r.canon)
	for it.Next() {
		m := it.Member()
		v := m.Value
		var err error
		switch string(m.Key) {
		case "seq":
			e.Seq, err = parseSeq(v)
		case "id":
			if e.ID, err = r.reqString("id", v); err == nil {
				if _, nerr := normalizedID(e.ID); nerr != nil {
					err = nerr
				}
			}
			have.id = true
		case "event_type":
			if e.Type, err = r.reqString("event_type", v); err == nil && !catalog.ValidName(e.Type) {
				err = auditerr.Errorf(auditerr.ErrInvalidEventType, "event_type %q is not a valid name", clip(e.Type))
			}
			have.typ = true
		case "ts":
			if e.TS, err = r.reqString("ts", v); err == nil && !ValidTS(e.TS) {
				err = auditerr.Errorf(auditerr.ErrInvalidField, "ts %q is not of the form %s", clip(e.TS), TSLayout)
			}
			have.ts = true
		case "hlc":
			if e.HLC, err = r.optString("hlc", v); err == nil && e.HLC != "" && !ValidHLC(e.HLC) {
				err = auditerr.Errorf(auditerr.ErrInvalidHLC, "hlc %q is not <wall_ms>.<counter>", clip(e.HLC))
			}
		case "tenant_id":
			if e.Tenant, err = r.reqString("tenant_id", v); err == nil && !validTenant(e.Tenant) {
				err = auditerr.Errorf(auditerr.ErrInvalidTenant, "tenant_id %q is not normalised", clip(e.Tenant))
			}
			have.tenant = true
		case "entity_uri":
			e.EntityURI, err = r.reqString("entity_uri", v)
			have.entity = true
		case "emitter":
			e.Emitter, err = r.optString("emitter", v)
		case "oidc_sub":
			e.OIDCSub, err = r.optString("oidc_sub", v)
		case "fact_id":
			e.FactID, err = r.optString("fact_id", v)
		case "source":
			e.Source, err = r.optString("source", v)
		case "attested_key_id":
			e.AttestedKeyID, err = r.optString("attested_key_id", v)
		case "scope":
			e.Scope, err = r.optString("scope", v)
		case "outcome":
			if e.Outcome, err = r.reqString("outcome", v); err == nil {
				switch e.Outcome {
				case OutcomeSuccess, OutcomeFailure, OutcomeDenied:
				default:
					err = auditerr.Errorf(auditerr.ErrInvalidOutcome, "outcome %q must be success, failure or denied", clip(e.Outcome))
				}
			}
			have.outcome = true
		case "detail":
			switch v[0] {
			case 'n':
			case '{':
				if len(v) > 2 {
					e.Detail = v[:len(v):len(v)]
				}
			default:
				err = auditerr.Errorf(auditerr.ErrInvalidDetail, "detail must be a JSON object or null")
			}
		case "leaf_hash":
			e.LeafHash, err = parseHash(v)
			have.hash = true
		default:
			err = auditerr.Errorf(auditerr.ErrUnknownField, "unknown field %q", clip(m.Name()))
		}
		if err != nil {
			return Event{}, err
		}
	}
	if err := it.Err(); err != nil {
		return Event{}, err
	}
	for _, f := range [...]struct {
		name string
		ok   bool
	}{{"id", have.id}, {"event_type", have.typ}, {"ts", have.ts}, {"tenant_id", have.tenant}, {"entity_uri", have.entity}, {"outcome", have.outcome}} {
		if !f.ok {
			return Event{}, auditerr.Errorf(auditerr.ErrMissingField, "%s is required", f.name)
		}
	}
	if !have.hash {
		var buf [1024]byte
		c := append(buf[:0], 0x00)
		c = AppendCanonical(c, &e)
		e.LeafHash = sha256Sum(c)
	}
	return e, nil
}

// reqString reads a required, non-empty string field.
func (r *reader) reqString(field string, v []byte) (string, error) {
	if v[0] != '"' {
		return "", auditerr.Errorf(auditerr.ErrInvalidField, "%s must be a string", field)
	}
	s := r.text(v)
	if s == "" {
		return "", auditerr.Errorf(auditerr.ErrMissingField, "%s must not be empty", field)
	}
	return s, nil
}

// parseSeq reads null or a non-negative integer up to 2^53.
func parseSeq(v []byte) (int64, error) {
	if string(v) == "null" {
		return -1, nil
	}
	if len(v) > 16 {
		return 0, auditerr.Errorf(auditerr.ErrInvalidField, "seq must be a non-negative integer or null")
	}
	var n int64
	for _, c := range v {
		if c < '0' || c > '9' {
			return 0, auditerr.Errorf(auditerr.ErrInvalidField, "seq must be a non-negative integer or null")
		}
		n = n*10 + int64(c-'0')
	}
	if n > 1<<53 {
		return 0, auditerr.Errorf(auditerr.ErrInvalidField, "seq is beyond 2^53")
	}
	return n, nil
}

// parseHash reads 64 lower-case hex digits in quotes.
func parseHash(v []byte) ([32]byte, error) {
	var h [32]byte
	if len(v) != 66 || v[0] != '"' {
		return h, auditerr.Errorf(auditerr.ErrInvalidField, "leaf_hash must be 64 lower-case hex digits")
	}
	for i := range h {
		hi, lo := unhex(v[1+2*i]), unhex(v[2+2*i])
		if hi < 0 || lo < 0 {
			return h, auditerr.Errorf(auditerr.ErrInvalidField, "leaf_hash must be 64 lower-case hex digits")
		}
		h[i] = byte(hi<<4 | lo)
	}
	return h, nil
}

func unhex(c byte) int {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0')
	case c >= 'a' && c <= 'f':
		return int(c-'a') + 10
	}
	return -1
}
