package sink

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/stigaudit/stigaudit/core/auditerr"
	"github.com/stigaudit/stigaudit/core/event"
)

// Defaults of the NATS sink.
const (
	DefaultNATSStream  = "STIGAUDIT"
	DefaultNATSPrefix  = "stigaudit"
	DefaultNATSWindow  = 2 * time.Minute
	natsMaxPending     = 4096
	natsRetryBaseDelay = 50 * time.Millisecond
)

// NATSOptions configure a NATS sink. The zero value uses the defaults.
type NATSOptions struct {
	// Stream is the JetStream stream the sink publishes into, created on
	// first use if missing (and then left alone: an existing stream is
	// the operator's); default "STIGAUDIT".
	Stream string
	// Prefix is the first subject token; events go to
	// <Prefix>.<tenant>.<event_type> and a created stream takes
	// <Prefix>.>; default "stigaudit".
	Prefix string
	// DuplicateWindow is the Duplicates setting of a created stream: how
	// long JetStream remembers a message id to drop a re-publication;
	// default 2 minutes.
	DuplicateWindow time.Duration
	// Render writes each message's data; default event.AppendJSON.
	// ParseWith sets it for format=ocsf.
	Render Render
}

// NATS publishes committed events to a NATS JetStream stream, one message
// per event: the subject is <prefix>.<tenant>.<event_type>, the data the
// event's JSON object (as the HTTP API returns it; with format=ocsf its
// OCSF record, NATSOptions.Render), and the Nats-Msg-Id
// header the event's id, so that JetStream drops a re-publication of the
// same event within the stream's duplicate window — a retried batch, or
// the same event published by several replicas.
//
// Write publishes a batch asynchronously, waits for every
// acknowledgement, and re-publishes what was not acknowledged (same ids, so
// nothing is stored twice) until the Write's deadline; only then does the
// batch fail, and the Dispatcher writes it again later, from the sink's
// cursor. Delivery is therefore at least once, however long NATS is down.
// The connection reconnects forever in the background; a server that is
// down at start-up does not stop stigaudit from starting.
type NATS struct {
	name string
	opts NATSOptions
	nc   *nats.Conn
	js   jetstream.JetStream

	mu     sync.Mutex
	ready  bool // the stream exists
	buf    []byte
	closed bool
}

// NewNATS connects (in the background) to the NATS server at rawURL, a
// nats:// URL whose query may set stream=NAME, prefix=P and window=DURATION
// (see NATSOptions); opts give the defaults. Errors wrap
// auditerr.ErrInvalidConfig.
func NewNATS(rawURL string, opts NATSOptions) (*NATS, error) {
	u, err := url.Parse(rawURL)
	if err != nil || u.Scheme != "nats" || u.Host == "" {
		return nil, auditerr.Errorf(auditerr.ErrInvalidConfig, "sink %q: want nats://host:port[?stream=NAME&prefix=P&window=2m]", redactURL(rawURL))
	}
	if u.Path != "" && u.Path != "/" {
		return nil, auditerr.Errorf(auditerr.ErrInvalidConfig, "sink %q: a nats:// sink takes no path (name the stream with ?stream=NAME)", redactURL(rawURL))
	}
	q := u.Query()
	if v := q.Get("stream"); v != "" {
		opts.Stream = v
	}
	if v := q.Get("prefix"); v != "" {
		opts.Prefix = v
	}
	if v := q.Get("window"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			return nil, auditerr.Errorf(auditerr.ErrInvalidConfig, "sink %q: window %q is not a positive duration", redactURL(rawURL), v)
		}
		opts.DuplicateWindow = d
	}
	for k := range q {
		if k != "stream" && k != "prefix" && k != "window" {
			return nil, auditerr.Errorf(auditerr.ErrInvalidConfig, "sink %q: unknown parameter %q (want stream, prefix, window)", redactURL(rawURL), k)
		}
	}
	if opts.Stream == "" {
		opts.Stream = DefaultNATSStream
	}
	if opts.Prefix == "" {
		opts.Prefix = DefaultNATSPrefix
	}
	if opts.DuplicateWindow <= 0 {
		opts.DuplicateWindow = DefaultNATSWindow
	}
	if opts.Render == nil {
		opts.Render = event.AppendJSON
	}
	if strings.ContainsAny(opts.Stream, ".*> \t") || strings.ContainsAny(opts.Prefix, "*> \t") || strings.HasSuffix(opts.Prefix, ".") {
		return nil, auditerr.Errorf(auditerr.ErrInvalidConfig, "sink %q: stream %q or prefix %q is not a valid NATS name", redactURL(rawURL), opts.Stream, opts.Prefix)
	}
	server := *u
	server.RawQuery = ""
	nc, err := nats.Connect(server.String(),
		nats.Name("stigaudit"),
		nats.RetryOnFailedConnect(true), // start even if NATS is down; connect in the background
		nats.MaxReconnects(-1),
		nats.ReconnectWait(time.Second),
		// No buffering while disconnected: a publish then fails at once,
		// instead of being sent after a reconnect behind an earlier one
		// that was lost with the connection — which would put a later
		// event in the stream before an earlier one.
		nats.ReconnectBufSize(-1),
	)
	if err != nil {
		return nil, errors.Join(auditerr.Errorf(auditerr.ErrInvalidConfig, "sink %q: cannot connect", redactURL(rawURL)), err)
	}
	js, err := jetstream.New(nc, jetstream.WithPublishAsyncMaxPending(natsMaxPending))
	if err != nil {
		nc.Close()
		return nil, errors.Join(auditerr.Errorf(auditerr.ErrInvalidConfig, "sink %q: JetStream", redactURL(rawURL)), err)
	}
	server.User = nil
	return &NATS{name: "nats:" + strings.TrimPrefix(server.String(), "nats:") + "/" + opts.Stream, opts: opts, nc: nc, js: js}, nil
}

// redactURL hides a URL's password for messages.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable URL)"
	}
	return u.Redacted()
}

// Name returns "nats://host:port/STREAM".
func (s *NATS) Name() string { return s.name }

// Subject returns the subject an event is published to.
func (s *NATS) Subject(e *event.Event) string {
	return s.opts.Prefix + "." + e.Tenant + "." + e.Type
}

// ensureStream creates the stream if it does not exist. An existing
// stream is used as it is.
func (s *NATS) ensureStream(ctx context.Context) error {
	if s.ready {
		return nil
	}
	_, err := s.js.Stream(ctx, s.opts.Stream)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		_, err = s.js.CreateStream(ctx, jetstream.StreamConfig{
			Name:        s.opts.Stream,
			Description: "stigaudit committed audit events",
			Subjects:    []string{s.opts.Prefix + ".>"},
			Storage:     jetstream.FileStorage,
			Duplicates:  s.opts.DuplicateWindow,
		})
		if errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) {
			err = nil // another replica created it meanwhile
		}
	}
	if err != nil {
		return fmt.Errorf("sink %s: ensure stream: %w", s.name, err)
	}
	s.ready = true
	return nil
}

// Write publishes events and returns once JetStream has acknowledged every
// one (a duplicate counts as acknowledged), re-publishing the others with
// a growing pause until ctx ends.
func (s *NATS) Write(ctx context.Context, events []event.Event) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return fmt.Errorf("sink %s: closed", s.name)
	}
	if err := s.ensureStream(ctx); err != nil {
		return err
	}
	pending := make([]int, len(events)) // indexes of events not acknowledged yet
	for i := range pending {
		pending[i] = i
	}
	delay := natsRetryBaseDelay
	var lastErr error
	for {
		pending, lastErr = s.publish(ctx, events, pending)
		if len(pending) == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("sink %s: %d of %d events not acknowledged: %w", s.name, len(pending), len(events), errors.Join(ctx.Err(), lastErr))
		case <-time.After(delay):
		}
		delay = min(2*delay, 2*time.Second)
	}
}

// publish sends the events at idx, pipelined, and returns the indexes
// from the first one not acknowledged on, with its error. The stream keeps
// the events in seq order even when NATS goes away mid-batch: messages go
// out on one connection in order, a publish while disconnected fails at
// once (no reconnect buffer) and ends the batch, so what the stream holds
// is a prefix of the batch; the resend from the first unacknowledged event
// continues where it stopped (the event id as Nats-Msg-Id makes JetStream
// drop a resend of one it already holds).
func (s *NATS) publish(ctx context.Context, events []event.Event, idx []int) ([]int, error) {
	futures := make([]jetstream.PubAckFuture, 0, len(idx))
	var lastErr error
	sent := len(idx)
	for k, i := range idx {
		e := &events[i]
		msg := nats.NewMsg(s.Subject(e))
		s.buf = s.opts.Render(s.buf[:0], e)
		msg.Data = append([]byte(nil), s.buf...)
		f, err := s.js.PublishMsgAsync(msg, jetstream.WithMsgID(e.ID))
		if err != nil {
			sent, lastErr = k, err
			break
		}
		futures = append(futures, f)
	}
	first := sent // the first index (into idx) not acknowledged
	for k, f := range futures {
		select {
		case <-f.Ok():
			continue
		case err := <-f.Err():
			lastErr = err
		case <-ctx.Done():
			// Not acknowledged in time: the caller re-publishes or gives up.
			lastErr = ctx.Err()
		}
		first = min(first, k)
	}
	if first == len(idx) {
		return nil, nil
	}
	return idx[first:], lastErr
}

// Close flushes and closes the connection.
func (s *NATS) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	// Write waits for its acknowledgements, so little can be in flight.
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	select {
	case <-s.js.PublishAsyncComplete():
	case <-ctx.Done():
	}
	s.nc.Close()
	return nil
}
