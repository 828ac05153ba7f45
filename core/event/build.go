package event

import (
	"io"
	"time"

	"github.com/stigaudit/stigaudit/core/auditerr"
	"github.com/stigaudit/stigaudit/core/catalog"
	"github.com/stigaudit/stigaudit/core/jcs"
	"github.com/stigaudit/stigaudit/core/sha256s"
	"github.com/stigaudit/stigaudit/core/uuid7"
)

// Limits bound what one emit may carry: each event's detail (docs/event-format.md#detail) and
// a whole request or batch (docs/operations.md#batches). One value serves every layer — the
// HTTP server's body limit, ParseEmitRequest, Build and the Log's batches
// (stigaudit.Limits is this type) — so a request over a bound is refused
// with the same code whichever layer sees it first. Zero fields mean the
// defaults (DefaultLimits).
type Limits struct {
	// MaxDetailBytes is the largest canonical detail, in bytes
	// (detail_too_large).
	MaxDetailBytes int
	// MaxDetailDepth is the deepest nesting of the detail; the detail object
	// itself is depth 1, so {"a":{"b":1}} is depth 2 (detail_too_deep).
	MaxDetailDepth int
	// MaxRequestBytes is the largest emit request, one event or a whole
	// batch, in the bytes the client sends (too_large).
	MaxRequestBytes int
	// MaxBatchEvents is the most events one batch may hold
	// (batch_too_large).
	MaxBatchEvents int
	// MaxBatchBytes bounds the sum of a batch's canonical details, the
	// bytes an answer or an export shows (batch_too_large). A batch whose
	// request fits MaxRequestBytes exceeds it only when its numbers grow in
	// canonical form (1e20 is written out in 21 digits).
	MaxBatchBytes int
}

// Default limits.
const (
	DefaultMaxDetailBytes  = 16 << 10
	DefaultMaxDetailDepth  = 16
	DefaultMaxRequestBytes = 1 << 20
	DefaultMaxBatchEvents  = 1000
	DefaultMaxBatchBytes   = 1 << 20
)

// DefaultLimits returns 16 KiB of canonical detail, 16 levels deep, in
// requests of at most 1 MiB and batches of at most 1000 events and 1 MiB
// of canonical details.
func DefaultLimits() Limits {
	return Limits{
		MaxDetailBytes: DefaultMaxDetailBytes, MaxDetailDepth: DefaultMaxDetailDepth,
		MaxRequestBytes: DefaultMaxRequestBytes, MaxBatchEvents: DefaultMaxBatchEvents, MaxBatchBytes: DefaultMaxBatchBytes,
	}
}

// WithDefaults returns l with every unset (zero or negative) field
// replaced by its default.
func (l Limits) WithDefaults() Limits { return l.orDefault() }

// orDefault replaces unset (zero or negative) limits by the defaults.
func (l Limits) orDefault() Limits {
	if l.MaxDetailBytes <= 0 {
		l.MaxDetailBytes = DefaultMaxDetailBytes
	}
	if l.MaxDetailDepth <= 0 {
		l.MaxDetailDepth = DefaultMaxDetailDepth
	}
	if l.MaxRequestBytes <= 0 {
		l.MaxRequestBytes = DefaultMaxRequestBytes
	}
	if l.MaxBatchEvents <= 0 {
		l.MaxBatchEvents = DefaultMaxBatchEvents
	}
	if l.MaxBatchBytes <= 0 {
		l.MaxBatchBytes = DefaultMaxBatchBytes
	}
	return l
}

// RequestTooLarge is the error (too_large) of an emit request over
// l.MaxRequestBytes, as ParseEmitRequest returns it: a host that stops
// reading a request body at the limit returns it too, so the client sees
// one answer whichever layer counted the bytes.
func (l Limits) RequestTooLarge() error {
	return auditerr.Errorf(auditerr.ErrTooLarge, "the request body is more than %d bytes, the most one emit request (one event or a whole batch) may carry", l.orDefault().MaxRequestBytes)
}

// BatchTooLarge is the error (batch_too_large) of a batch of n events, more
// than l.MaxBatchEvents.
func (l Limits) BatchTooLarge(n int) error {
	return auditerr.Errorf(auditerr.ErrBatchTooLarge, "a batch holds at most %d events, got %d", l.orDefault().MaxBatchEvents, n)
}

// Builder turns drafts into events. Its zero value builds against the
// default catalogue and limits. A Builder is not changed by Build and may be
// shared by concurrent callers.
type Builder struct {
	// Catalogue is the closed set of accepted types; nil means
	// catalog.Default().
	Catalogue *catalog.Catalogue
	// Limits bound the detail; zero fields mean the DefaultLimits values.
	Limits Limits
}

// Build validates d and returns the event it describes, as of now (the
// host's wall clock), reading entropy only when it must generate the id.
// The event has Seq -1 and its LeafHash set.
//
// Every field is checked, and the error carries the code of the first
// problem found, in this order: event_type (missing_field,
// unknown_event_type), entity_uri (missing_field), id (invalid_id), tenant
// (invalid_tenant; "" becomes DefaultTenant), hlc (invalid_hlc), outcome
// (invalid_outcome; "" becomes success), the other string fields
// (invalid_field: see MaxFieldBytes and checkText's character rules), the
// fact, the detail (invalid_detail, detail_too_large, detail_too_deep, and
// inexact_number for a number its canonical form would change) and the
// type's required detail keys (missing_detail_key: absent, null, of the
// wrong JSON type or outside its values).
//
// For instruction_quarantined and instruction_promoted the fact is required
// (missing_field), classified with IsInstructionFact, and a fact that is
// not an instruction fact fails with an error wrapping
// auditerr.ErrNotInstruction: nothing is to be recorded. Otherwise the detail
// becomes MergeDetail's merge and an empty Source becomes EntityURI. A fact
// on any other type is invalid_field. An empty detail object is stored as
// nil. A failing entropy source is entropy_unavailable, a clock outside years
// 0000–9999 invalid_input.
func (b *Builder) Build(d *Draft, now time.Time, entropy io.Reader) (Event, error) {
	return b.build(d, false, now, entropy, "")
}

// BuildJSON reads one draft event object as ParseDraft does, within
// b.Limits, and builds it as Build does: it returns exactly what
// ParseDraft followed by Build would, errors included, but reads the
// detail once (ParseDraft leaves it canonical, so Build need not
// canonicalise it again).
func (b *Builder) BuildJSON(data []byte, now time.Time, entropy io.Reader) (Event, error) {
	lim := b.Limits.orDefault()
	// The common draft is read with its time stamp in the same allocation
	// as its fields (see draftFast).
	var tsb [len(TSLayout)]byte
	tsBytes := tsb[:]
	if !formatTS(&tsb, now) {
		tsBytes = nil // build reports the clock in its turn
	}
	if d, ts, ok := draftFast(data, lim, tsBytes); ok {
		return b.build(&d, true, now, entropy, ts)
	}
	d, err := parseDraftFull(data, lim)
	if err != nil {
		return Event{}, err
	}
	return b.build(&d, true, now, entropy, "")
}

// build is Build; canonical tells that d.Detail is already canonical and
// within the limits (ParseDraft with the same limits checked it), and ts,
// when not empty, is now in the form of Event.TS.
func (b *Builder) build(d *Draft, canonical bool, now time.Time, entropy io.Reader, ts string) (Event, error) {
	cat := b.Catalogue
	if cat == nil {
		cat = catalog.Default()
	}
	lim := b.Limits.orDefault()
	e := Event{Seq: -1}

	if d.Type == "" {
		return Event{}, auditerr.Errorf(auditerr.ErrMissingField, "event_type is required")
	}
	typ, ok := cat.Lookup(d.Type)
	if !ok {
		return Event{}, auditerr.Errorf(auditerr.ErrUnknownEventType, "event_type %q is not in the catalogue", clip(d.Type))
	}
	e.Type = typ.Name()
	if d.EntityURI == "" {
		return Event{}, auditerr.Errorf(auditerr.ErrMissingField, "entity_uri is required")
	}
	if d.ID != "" {
		id, err := uuid7.Normalize(d.ID)
		if err != nil {
			return Event{}, err
		}
		e.ID = id
	}
	tenant, err := NormalizeTenant(d.Tenant)
	if err != nil {
		return Event{}, err
	}
	e.Tenant = tenant
	if d.HLC != "" && !ValidHLC(d.HLC) {
		return Event{}, auditerr.Errorf(auditerr.ErrInvalidHLC, "hlc %q is not <wall_ms>.<counter>", clip(d.HLC))
	}
	e.HLC = d.HLC
	switch d.Outcome {
	case "":
		e.Outcome = OutcomeSuccess
	case OutcomeSuccess, OutcomeFailure, OutcomeDenied:
		e.Outcome = d.Outcome
	default:
		return Event{}, auditerr.Errorf(auditerr.ErrInvalidOutcome, "outcome %q must be success, failure or denied", clip(d.Outcome))
	}
	for _, f := range [...]struct {
		name, v string
		max     int
	}{
		{"entity_uri", d.EntityURI, MaxFieldBytes},
		{"emitter", d.Emitter, MaxFieldBytes},
		{"oidc_sub", d.OIDCSub, MaxFieldBytes},
		{"fact_id", d.FactID, MaxFieldBytes},
		{"source", d.Source, MaxSourceBytes},
		{"attested_key_id", d.AttestedKeyID, MaxFieldBytes},
		{"scope", d.Scope, MaxFieldBytes},
	} {
		if err := checkText(f.name, f.v, f.max); err != nil {
			return Event{}, err
		}
	}
	e.EntityURI, e.Emitter, e.OIDCSub, e.FactID = d.EntityURI, d.Emitter, d.OIDCSub, d.FactID
	e.Source, e.AttestedKeyID, e.Scope = d.Source, d.AttestedKeyID, d.Scope

	instruction := IsInstructionType(e.Type)
	if instruction {
		if d.Fact == nil {
			return Event{}, auditerr.Errorf(auditerr.ErrMissingField, "fact is required for %s", e.Type)
		}
		isInstr, err := IsInstructionFact(d.Fact.Entity, d.Fact.Relation, d.Fact.InterpretAs)
		if err != nil {
			return Event{}, err
		}
		if err := checkFact(d.Fact); err != nil {
			return Event{}, err
		}
		if !isInstr {
			return Event{}, auditerr.Errorf(auditerr.ErrNotInstruction, "%s: the fact is not an instruction fact; nothing recorded", e.Type)
		}
	} else if d.Fact != nil {
		return Event{}, auditerr.Errorf(auditerr.ErrInvalidField, "fact is accepted only for %s and %s", TypeInstructionQuarantined, TypeInstructionPromoted)
	}

	var detail []byte
	if canonical {
		detail = d.Detail // nil for null, else a canonical object
	} else if len(d.Detail) > 0 {
		detail, err = canonicalDetail(make([]byte, 0, len(d.Detail)), d.Detail, lim)
		if err != nil {
			return Event{}, err
		}
	}
	if instruction {
		detail = mergeCanonical(make([]byte, 0, len(detail)+96), d.Fact, detail)
		if len(detail) > lim.MaxDetailBytes {
			return Event{}, detailTooLarge(lim)
		}
		if e.Source == "" {
			e.Source = e.EntityURI
		}
	}
	if len(detail) == 2 { // {}
		detail = nil
	}
	if err := typ.CheckDetail(detail); err != nil {
		return Event{}, err
	}
	e.Detail = detail

	var tsb [len(TSLayout)]byte
	if ts == "" {
		if !formatTS(&tsb, now) {
			return Event{}, auditerr.Errorf(auditerr.ErrInvalidInput, "clock reading in year %d is outside years 0000-9999", now.UTC().Year())
		}
	}
	if e.ID == "" {
		id, err := uuid7.New(now, entropy)
		if err != nil {
			return Event{}, err
		}
		e.ID = id
	}
	if ts == "" {
		ts = string(tsb[:])
	}
	e.TS = ts

	// Hash 0x00 ‖ canonical in one buffer, on the stack for typical events.
	var buf [1024]byte
	c := append(buf[:0], 0x00)
	c = AppendCanonical(c, &e)
	e.LeafHash = sha256s.Sum256(c)
	return e, nil
}

// canonicalDetail canonicalises a detail object within lim, appending to
// dst. "null" means no detail and returns nil.
func canonicalDetail(dst, detail []byte, lim Limits) ([]byte, error) {
	if len(detail) == 0 {
		return nil, nil
	}
	out, err := jcs.Canonicalize(dst, detail, jcs.Limits{MaxOutput: lim.MaxDetailBytes, MaxDepth: lim.MaxDetailDepth, ExactNumbers: true})
	if err != nil {
		switch auditerr.CodeOf(err) {
		case auditerr.ErrInexactNumber.Code:
			return nil, auditerr.Errorf(auditerr.ErrInexactNumber, "detail: %v", err)
		case auditerr.ErrOutputTooLarge.Code:
			return nil, detailTooLarge(lim)
		case auditerr.ErrTooDeep.Code:
			return nil, auditerr.Errorf(auditerr.ErrDetailTooDeep, "detail nests deeper than %d levels", lim.MaxDetailDepth)
		}
		return nil, auditerr.Errorf(auditerr.ErrInvalidDetail, "detail: %v", err)
	}
	out = out[len(dst):]
	switch out[0] {
	case '{':
		return out, nil
	case 'n': // null
		return nil, nil
	}
	return nil, auditerr.Errorf(auditerr.ErrInvalidDetail, "detail must be a JSON object or null")
}

func detailTooLarge(lim Limits) error {
	return auditerr.Errorf(auditerr.ErrDetailTooLarge, "canonical detail exceeds %d bytes", lim.MaxDetailBytes)
}

func sha256Sum(b []byte) [32]byte { return sha256s.Sum256(b) }

// normalizedID checks that id is a UUID already in normalised form.
func normalizedID(id string) (string, error) {
	n, err := uuid7.Normalize(id)
	if err != nil {
		return "", err
	}
	if n != id {
		return "", auditerr.Errorf(auditerr.ErrInvalidID, "id %q is not in lower case", clip(id))
	}
	return n, nil
}
