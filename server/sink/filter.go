package sink

import (
	"bytes"
	"context"
	"net/url"
	"slices"
	"strings"

	"github.com/stigaudit/stigaudit/core/auditerr"
	"github.com/stigaudit/stigaudit/core/event"
	"github.com/stigaudit/stigaudit/server/redact"
)

// filterKeys are the query parameters of a sink spec that ParseWith takes
// for the Filter, whatever the sink's kind; they are removed from the spec
// before the sink itself reads it.
var filterKeys = [...]string{"event_type", "format", "outcome", "redact", "tenant"}

// ErrRedactionNotConfigured is wrapped by ParseWith's error for a spec
// with redact= when ParseOptions.Redaction is nil.
var ErrRedactionNotConfigured = auditerr.Errorf(auditerr.ErrInvalidConfig, "sink: redact= needs the server's redaction salt (ParseOptions.Redaction)")

// Filter selects the events a sink receives, how they are redacted and in
// which format they are written.
// Within a field the values are alternatives; the fields must all match.
// An empty field selects everything.
type Filter struct {
	// EventTypes, Tenants and Outcomes are the accepted event_type,
	// tenant_id and outcome values.
	EventTypes, Tenants, Outcomes []string
	// Redact is "" (clear data), redact.ModeHMAC (the server's profile,
	// serve --redact-fields) or a list of fields as redact.ParseProfile
	// reads it.
	Redact string
	// Format is "" (FormatCanonical, the sink's own rendering) or
	// FormatOCSF. The inner sink renders it (its Render option, which
	// ParseWith sets to match); a Filtered wrapper only names it and,
	// when ParseWith made it, readies the OCSF encoder before each Write.
	Format string
}

// Empty reports whether f selects every event in the clear, in the sink's
// own format.
func (f Filter) Empty() bool {
	return len(f.EventTypes) == 0 && len(f.Tenants) == 0 && len(f.Outcomes) == 0 && f.Redact == "" && f.Format == ""
}

// String returns f in a canonical query form, keys and values sorted:
// event_type=a,b&format=ocsf&outcome=denied&redact=hmac&tenant=acme.
// Filters that select the same events the same way, in the same format,
// have the same String; the default format=canonical is left out.
func (f Filter) String() string {
	var parts []string
	add := func(k string, vs []string) {
		if len(vs) == 0 {
			return
		}
		esc := make([]string, len(vs))
		for i, v := range vs {
			esc[i] = url.QueryEscape(v)
		}
		parts = append(parts, k+"="+strings.Join(esc, ","))
	}
	add("event_type", f.EventTypes)
	if f.Format != "" {
		add("format", []string{f.Format})
	}
	add("outcome", f.Outcomes)
	if f.Redact != "" {
		add("redact", []string{f.Redact})
	}
	add("tenant", f.Tenants)
	return strings.Join(parts, "&")
}

func (f Filter) match(e *event.Event) bool {
	return (len(f.EventTypes) == 0 || slices.Contains(f.EventTypes, e.Type)) &&
		(len(f.Tenants) == 0 || slices.Contains(f.Tenants, e.Tenant)) &&
		(len(f.Outcomes) == 0 || slices.Contains(f.Outcomes, e.Outcome))
}

// splitFilter takes the filter parameters (filterKeys) out of spec's
// query, keeping the others, in their order and spelling, for the sink
// itself. A spec without filter parameters comes back unchanged. Errors
// wrap auditerr.ErrInvalidConfig.
func splitFilter(spec string) (string, Filter, error) {
	var f Filter
	base, query, ok := strings.Cut(spec, "?")
	if !ok {
		return spec, f, nil
	}
	var kept []string
	redacts, formats := 0, 0
	for _, part := range strings.Split(query, "&") {
		rawKey, rawVal, _ := strings.Cut(part, "=")
		key, err := url.QueryUnescape(rawKey)
		if err != nil || !slices.Contains(filterKeys[:], key) {
			kept = append(kept, part) // the sink's own, or its own error
			continue
		}
		val, err := url.QueryUnescape(rawVal)
		if err != nil {
			return "", f, auditerr.Errorf(auditerr.ErrInvalidConfig, "sink %q: %s: %v", redactURL(spec), key, err)
		}
		if key == "format" {
			formats++
			switch {
			case formats > 1:
				return "", f, auditerr.Errorf(auditerr.ErrInvalidConfig, "sink %q: format given more than once", redactURL(spec))
			case val == FormatOCSF:
				f.Format = val
			case val != FormatCanonical:
				return "", f, auditerr.Errorf(auditerr.ErrInvalidConfig, "sink %q: format %q is not canonical or ocsf", redactURL(spec), val)
			}
			continue
		}
		if key == "redact" {
			redacts++
			if redacts > 1 {
				return "", f, auditerr.Errorf(auditerr.ErrInvalidConfig, "sink %q: redact given more than once", redactURL(spec))
			}
			if val == redact.ModeHMAC {
				f.Redact = val
				continue
			}
			p, err := redact.ParseProfile(val)
			if err != nil {
				return "", f, auditerr.Errorf(auditerr.ErrInvalidConfig, "sink %q: redact: %v", redactURL(spec), err)
			}
			if p.Empty() {
				return "", f, auditerr.Errorf(auditerr.ErrInvalidConfig, "sink %q: redact wants hmac or a list of fields", redactURL(spec))
			}
			f.Redact = p.String()
			continue
		}
		for v := range strings.SplitSeq(val, ",") {
			if v = strings.TrimSpace(v); v == "" {
				return "", f, auditerr.Errorf(auditerr.ErrInvalidConfig, "sink %q: %s has an empty value", redactURL(spec), key)
			}
			switch key {
			case "event_type":
				f.EventTypes = append(f.EventTypes, v)
			case "tenant":
				f.Tenants = append(f.Tenants, v)
			case "outcome":
				if v != event.OutcomeSuccess && v != event.OutcomeFailure && v != event.OutcomeDenied {
					return "", f, auditerr.Errorf(auditerr.ErrInvalidConfig, "sink %q: outcome %q is not success, failure or denied", redactURL(spec), v)
				}
				f.Outcomes = append(f.Outcomes, v)
			}
		}
	}
	for _, vs := range []*[]string{&f.EventTypes, &f.Tenants, &f.Outcomes} {
		slices.Sort(*vs)
		*vs = slices.Compact(*vs)
	}
	if len(kept) > 0 {
		base += "?" + strings.Join(kept, "&")
	}
	return base, f, nil
}

// Filtered is a sink that passes its inner sink only the events its Filter
// selects, redacted as the Filter says, before the inner sink renders
// them (so format=ocsf maps the redacted event). ParseWith wraps every
// kind of sink in one when its spec carries filter or format parameters.
//
// Its Name is the inner sink's followed by "?" and the Filter's canonical
// String, so its cursor (CursorName) is its own: changing a sink's filter
// or format starts a new cursor, as changing its path does, and one
// destination may be fed twice under different filters. The events a Filtered sink leaves
// out count as delivered: its cursor moves past them with the batch they
// came in.
type Filtered struct {
	inner  Sink
	filter Filter
	name   string
	red    *redact.Redactor // nil: clear data
	// ready, if set (format=ocsf made by ParseWith), readies the inner
	// sink's rendering before each Write: it waits for the log's origin.
	ready func(context.Context) error
}

// NewFiltered wraps inner in f. A Filter that redacts needs pol's hasher
// (and, for redact=hmac, its profile); without pol it fails with
// ErrRedactionNotConfigured.
func NewFiltered(inner Sink, f Filter, pol *redact.Policy) (*Filtered, error) {
	s := &Filtered{inner: inner, filter: f, name: inner.Name()}
	if !f.Empty() {
		s.name += "?" + f.String()
	}
	switch {
	case f.Redact == "":
	case pol == nil || pol.Hasher() == nil:
		return nil, ErrRedactionNotConfigured
	case f.Redact == redact.ModeHMAC:
		s.red = pol.Hasher().NewRedactor(pol.Profile())
	default:
		p, err := redact.ParseProfile(f.Redact)
		if err != nil {
			return nil, err
		}
		s.red = pol.Hasher().NewRedactor(p)
	}
	return s, nil
}

// Name returns the inner sink's name and the filter (see Filtered).
func (s *Filtered) Name() string { return s.name }

// Filter returns the sink's filter.
func (s *Filtered) Filter() Filter { return s.filter }

// Unwrap returns the inner sink.
func (s *Filtered) Unwrap() Sink { return s.inner }

// Write passes the selected events, redacted, to the inner sink; a batch
// of which none is selected is not passed on at all, and succeeds.
func (s *Filtered) Write(ctx context.Context, events []event.Event) error {
	var out []event.Event
	for i := range events {
		if s.filter.match(&events[i]) {
			out = append(out, events[i])
		}
	}
	if len(out) == 0 {
		return nil
	}
	if s.ready != nil {
		if err := s.ready(ctx); err != nil {
			return err
		}
	}
	if s.red != nil {
		for i := range out {
			// An error leaves the event with its fields redacted and its
			// detail removed (a store fault): nothing passes in the clear,
			// and the sink is not held up for good by one bad row.
			_ = s.red.Apply(&out[i])
			out[i].Detail = bytes.Clone(out[i].Detail) // Apply's buffer is reused
		}
	}
	return s.inner.Write(ctx, out)
}

// Reopen reopens the inner sink if it is a Reopener.
func (s *Filtered) Reopen() error {
	if r, ok := s.inner.(Reopener); ok {
		return r.Reopen()
	}
	return nil
}

// Close closes the inner sink.
func (s *Filtered) Close() error { return s.inner.Close() }
