package sink

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/stigaudit/stigaudit/core/auditerr"
	"github.com/stigaudit/stigaudit/core/catalog"
	"github.com/stigaudit/stigaudit/core/event"
	"github.com/stigaudit/stigaudit/server/redact"
)

// Sink is a destination for committed events.
//
// Write is called from one goroutine at a time per sink, with events in seq
// order; it should return when ctx is done. A Write that returns an error
// (or panics) is retried, with the same first event, until it succeeds:
// delivery is at least once, so a Write that failed part-way may be sent
// again in full. Close is called once, after the last Write.
type Sink interface {
	// Name identifies the sink in logs, in the {sink} metric label and in
	// the name of its durable cursor (CursorName).
	Name() string
	Write(ctx context.Context, events []event.Event) error
	Close() error
}

// CursorName is the name under which s's position is kept in the
// database: "sink/" followed by s.Name(). Renaming a sink (another path or
// URL, or another filter: see Filtered) therefore starts a new cursor.
func CursorName(s Sink) string { return "sink/" + s.Name() }

// ParseOptions give Parse what some sinks need besides their spec.
type ParseOptions struct {
	// DataDir holds the webhook secret file when neither WebhookSecret nor
	// STIGAUDIT_WEBHOOK_SECRET is set (see WebhookSecret).
	DataDir string
	// WebhookSecret, if set, keys webhook signatures.
	WebhookSecret string
	// Redaction gives a spec's redact= the server's salt and, for
	// redact=hmac, its profile (serve --redact-fields). Without it a spec
	// with redact= is refused (ErrRedactionNotConfigured).
	Redaction *redact.Policy
	// Origin returns the log's origin, the metadata.log_name of a
	// format=ocsf sink's records. It is called at that sink's first Write
	// (serve learns the origin from the checkpoint key after the sinks
	// are made) and may wait for it until ctx ends; see KnownOrigin.
	// Without it a spec with format=ocsf is refused
	// (ErrOriginNotConfigured).
	Origin func(ctx context.Context) (string, error)
	// Catalogue, if set, is the log's catalogue: its operator types that
	// declare an OCSF class are rendered in it by format=ocsf sinks
	// (ocsf.Encoder.WithCatalogue); without it they get ocsf.Default.
	Catalogue *catalog.Catalogue
}

// Parse makes a sink from a command-line spec:
//
//	file:PATH[?max_size=1MiB&max_age=24h&keep=10]  append JSON lines to PATH, rotated (see File)
//	nats://HOST:PORT[?stream=S&prefix=P&window=D]  publish to NATS JetStream (see NATS)
//	https://HOST/PATH, http://...   POST signed NDJSON batches (see Webhook)
//	syslog+tcp://HOST:PORT, syslog+tls://HOST:PORT[?ca=FILE]  RFC 5424 messages (see NewSyslog)
//
// Every spec may also carry filter parameters, taken out before the sink
// reads its spec and applied by a Filtered wrapper: event_type=, tenant=
// and outcome= (each repeatable or comma-separated) select events, and
// redact=hmac (the server's profile) or redact=FIELD,... redacts them
// with the server's salt (ParseOptions.Redaction). format=ocsf writes each
// event as its OCSF record (of the redacted event) instead of the sink's
// own form (format=canonical, the default): a file or webhook line, a
// NATS message's data, a syslog message's MSG (ParseOptions.Origin).
//
// A webhook's secret comes from STIGAUDIT_WEBHOOK_SECRET (use ParseWith to
// keep it in a data directory instead). Errors wrap
// auditerr.ErrInvalidConfig.
func Parse(spec string) (Sink, error) { return ParseWith(spec, ParseOptions{}) }

// ParseWith is Parse with options.
func ParseWith(spec string, o ParseOptions) (Sink, error) {
	inner, filter, err := splitFilter(spec)
	if err != nil {
		return nil, err
	}
	var render Render // nil: the sink's own form
	var lazy *lazyOCSF
	if filter.Format == FormatOCSF {
		if o.Origin == nil {
			return nil, fmt.Errorf("sink %q: %w", redactURL(spec), ErrOriginNotConfigured)
		}
		lazy = &lazyOCSF{origin: o.Origin, cat: o.Catalogue}
		render = lazy.render
	}
	s, err := parseKind(inner, o, render)
	if err != nil || filter.Empty() {
		return s, err
	}
	fs, err := NewFiltered(s, filter, o.Redaction)
	if err != nil {
		_ = s.Close()
		return nil, fmt.Errorf("sink %q: %w", redactURL(spec), err)
	}
	if lazy != nil {
		fs.ready = lazy.ready
	}
	return fs, nil
}

// parseKind makes the sink of a spec without its filter and format
// parameters, rendering events with render (nil: the sink's default).
func parseKind(spec string, o ParseOptions, render Render) (Sink, error) {
	scheme, rest, ok := strings.Cut(spec, ":")
	if !ok {
		return nil, auditerr.Errorf(auditerr.ErrInvalidConfig, "sink %q: want file:PATH, nats://HOST:PORT or https://URL", spec)
	}
	switch scheme {
	case "file":
		path, opt, err := parseFileSpec(rest)
		if err != nil {
			return nil, err
		}
		opt.Render = render
		f, err := OpenFileWith(path, opt)
		if err != nil {
			return nil, errors.Join(auditerr.Errorf(auditerr.ErrInvalidConfig, "sink %q: cannot open the file", spec), err)
		}
		return f, nil
	case "nats":
		return NewNATS(spec, NATSOptions{Render: render})
	case "syslog+tcp", "syslog+tls":
		return NewSyslog(spec, SyslogOptions{Render: render})
	case "http", "https":
		secret, _, err := WebhookSecret(o.WebhookSecret, o.DataDir)
		if err != nil {
			return nil, fmt.Errorf("sink %q: %w", redactURL(spec), err)
		}
		return NewWebhook(spec, WebhookOptions{Secret: secret, Render: render})
	default:
		return nil, auditerr.Errorf(auditerr.ErrInvalidConfig, "sink %q: unknown kind %q (want file:PATH, nats://HOST:PORT or https://URL)", spec, scheme)
	}
}
