package sink

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/stigaudit/stigaudit/core/auditerr"
	"github.com/stigaudit/stigaudit/core/catalog"
	"github.com/stigaudit/stigaudit/core/event"
	"github.com/stigaudit/stigaudit/server/ocsf"
)

// Formats of a sink spec's format= parameter.
const (
	// FormatCanonical (the default) is each sink's own rendering: the
	// event's JSON object as the HTTP API returns it (file, webhook, NATS)
	// or its canonical form (syslog MSG).
	FormatCanonical = "canonical"
	// FormatOCSF renders each event as its OCSF record
	// (ocsf.Encoder.AppendRecord), as GET /v1/audit/export?format=ocsf does.
	FormatOCSF = "ocsf"
)

// ErrOriginNotConfigured is wrapped by ParseWith's error for a spec with
// format=ocsf when ParseOptions.Origin is nil.
var ErrOriginNotConfigured = auditerr.Errorf(auditerr.ErrInvalidConfig, "sink: format=ocsf needs the log's origin (ParseOptions.Origin)")

// Render appends the body of one event as a sink writes it: a file or
// webhook line, a NATS message's data, a syslog message's MSG. A sink
// whose Render is nil uses its default (FormatCanonical).
type Render func(dst []byte, e *event.Event) []byte

// OCSFRender returns the Render of format=ocsf: e's OCSF record made by
// enc (no inclusion proof).
func OCSFRender(enc *ocsf.Encoder) Render {
	return func(dst []byte, e *event.Event) []byte { return enc.AppendRecord(dst, e, nil) }
}

// lazyOCSF is the format=ocsf rendering of a parsed sink. Its encoder is
// made once the log's origin is known (serve learns it from the
// checkpoint key after the sinks are made): the Filtered wrapper calls
// ready before each Write of the inner sink, whose Render is render.
type lazyOCSF struct {
	origin func(context.Context) (string, error)
	cat    *catalog.Catalogue // nil: operator types get ocsf.Default
	mu     sync.Mutex
	enc    atomic.Pointer[ocsf.Encoder]
}

// ready makes the encoder if it is not made yet, waiting for the origin
// until ctx ends.
func (l *lazyOCSF) ready(ctx context.Context) error {
	if l.enc.Load() != nil {
		return nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.enc.Load() != nil {
		return nil
	}
	origin, err := l.origin(ctx)
	if err == nil && origin == "" {
		err = fmt.Errorf("empty origin")
	}
	if err != nil {
		return fmt.Errorf("sink: format=ocsf: the log's origin is not known: %w", err)
	}
	enc := ocsf.NewEncoder(origin)
	if l.cat != nil {
		if enc, err = enc.WithCatalogue(l.cat); err != nil {
			return fmt.Errorf("sink: format=ocsf: %w", err)
		}
	}
	l.enc.Store(enc)
	return nil
}

// render appends e's OCSF record; ready must have succeeded.
func (l *lazyOCSF) render(dst []byte, e *event.Event) []byte {
	return l.enc.Load().AppendRecord(dst, e, nil)
}

// KnownOrigin returns a ParseOptions.Origin for a log whose origin is
// known when its sinks are made.
func KnownOrigin(origin string) func(context.Context) (string, error) {
	return func(context.Context) (string, error) { return origin, nil }
}
