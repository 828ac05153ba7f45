package sink

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/stigaudit/stigaudit/core/auditerr"
	"github.com/stigaudit/stigaudit/core/event"
)

// Defaults and limits of the syslog sink.
const (
	// DefaultSyslogFacility is 13, "log audit" (RFC 5424 §6.2.1).
	DefaultSyslogFacility = 13
	// DefaultSyslogPEN is the private enterprise number of the structured
	// data's SD-ID, stigaudit@PEN: 32473 is the number RFC 5612 reserves
	// for documentation; set your organisation's with ?pen=.
	DefaultSyslogPEN = "32473"
	// DefaultSyslogTCPPort and DefaultSyslogTLSPort are used when the spec
	// names no port: 514, the customary plain TCP syslog port, and 6514,
	// syslog over TLS (RFC 5425).
	DefaultSyslogTCPPort = "514"
	DefaultSyslogTLSPort = "6514"
	// SyslogAppName is the APP-NAME of every message.
	SyslogAppName = "stigaudit"

	// syslogMinInterval spaces the sink's connections (one per Write): a
	// trickle of small commits then waits a little and is sent in fewer,
	// larger batches instead of a connection per event.
	syslogMinInterval = 10 * time.Millisecond
)

// Severities (RFC 5424 §6.2.1) by outcome.
const (
	SeverityWarning       = 4 // outcome failure
	SeverityNotice        = 5 // outcome denied, and any unknown outcome
	SeverityInformational = 6 // outcome success
)

// SyslogOptions configure a syslog sink beyond its spec. The zero value
// uses the defaults.
type SyslogOptions struct {
	// Hostname is the HOSTNAME of every message; default os.Hostname().
	Hostname string
	// TLS, if set, replaces the TLS configuration built from the spec's
	// ca, cert and key (syslog+tls only); set its ServerName.
	TLS *tls.Config
	// Render writes each message's MSG; default event.AppendCanonical.
	// ParseWith sets it for format=ocsf (the OCSF record; the structured
	// data, leaf included, stays that of the event).
	Render Render
}

// Syslog sends committed events to a syslog receiver (rsyslog, syslog-ng,
// a SIEM's collector) over TCP or TLS, one RFC 5424 message per event,
// framed by octet counting (RFC 6587 §3.4.1, the framing RFC 5425 requires
// over TLS):
//
//	LEN SP <PRI>1 TIMESTAMP HOSTNAME stigaudit - MSGID [stigaudit@PEN seq="7" id="…" tenant="…" outcome="…" leaf="…"] MSG
//
// PRI is facility×8 + severity: the facility is ?facility= (default 13,
// log audit), the severity comes from the outcome (success 6
// informational, denied 5 notice, failure 4 warning). TIMESTAMP is the
// event's ts, MSGID the event type (cut to RFC 5424's 32 characters),
// PROCID "-". MSG is the event's canonical form (RFC 8785 JSON, the bytes
// its leaf hash covers), without a BOM: a receiver can recompute
// SHA-256(0x00 ‖ MSG) and compare it with the leaf parameter. With
// format=ocsf (SyslogOptions.Render) MSG is the event's OCSF record
// instead; the structured data is the same, so the record is still traced
// to its seq, id and leaf. See AppendMessage.
//
// Plain TCP syslog has no acknowledgement: bytes a receiver had not read
// from its socket when it stopped are lost without the sender knowing. So
// that a daemon restart loses nothing, each Write opens a connection,
// sends its batch, half-closes the connection and waits for the receiver
// to close its side, which it does only after reading everything before
// the end of stream; a reset, a refused connection or the Write's deadline
// fail the Write, and the Dispatcher sends the batch again from the sink's
// cursor (after its backoff, 100 ms doubling to 5 s: the sink's reconnect
// backoff). Delivery is therefore at least once; receivers de-duplicate by
// the id parameter. What the receiver does with a message after reading
// it (queueing, writing to disk) is its own affair: give rsyslog a disk
// queue if a crash of the daemon must not lose what it has read.
type Syslog struct {
	name     string
	addr     string
	tls      *tls.Config // nil for plain TCP
	facility int
	sdID     string
	hostname string
	render   Render
	dialer   net.Dialer

	mu       sync.Mutex
	buf, msg []byte
	last     time.Time // when the last connection was opened
	closed   bool
}

// NewSyslog returns a syslog sink for rawURL:
//
//	syslog+tcp://HOST[:PORT][?facility=N&pen=PEN]
//	syslog+tls://HOST[:PORT][?ca=FILE&cert=FILE&key=FILE&facility=N&pen=PEN]
//
// The port defaults to 514 (tcp) or 6514 (tls). facility is 0 to 23
// (default 13, log audit); pen the private enterprise number of the SD-ID
// stigaudit@PEN (digits, dot-separated parts allowed; default 32473). Over
// TLS the receiver's certificate must verify against the PEM certificates
// in ca (default: the system's roots) for HOST; cert and key, together,
// present a client certificate. Nothing is dialled until the first Write.
// Errors wrap auditerr.ErrInvalidConfig.
func NewSyslog(rawURL string, opts SyslogOptions) (*Syslog, error) {
	c, err := parseSyslogSpec(rawURL)
	if err != nil {
		return nil, err
	}
	s := &Syslog{
		name:     c.scheme + "://" + c.addr,
		addr:     c.addr,
		facility: c.facility,
		sdID:     "stigaudit@" + c.pen,
		hostname: opts.Hostname,
		render:   opts.Render,
		dialer:   net.Dialer{KeepAlive: -1},
	}
	if s.hostname == "" {
		s.hostname, _ = os.Hostname()
	}
	if s.render == nil {
		s.render = event.AppendCanonical
	}
	s.hostname = syslogHeaderField(s.hostname, 255)
	if c.scheme == "syslog+tls" {
		s.tls = opts.TLS
		if s.tls == nil {
			if s.tls, err = c.tlsConfig(); err != nil {
				return nil, errors.Join(auditerr.Errorf(auditerr.ErrInvalidConfig, "sink %q: TLS", redactURL(rawURL)), err)
			}
		}
	}
	return s, nil
}

// syslogSpec is a parsed syslog sink spec.
type syslogSpec struct {
	scheme, addr, host string
	facility           int
	pen                string
	caFile, cert, key  string
}

// parseSyslogSpec parses and checks a syslog+tcp:// or syslog+tls:// spec
// (see NewSyslog). Its errors wrap auditerr.ErrInvalidConfig.
func parseSyslogSpec(rawURL string) (syslogSpec, error) {
	bad := func(format string, args ...any) (syslogSpec, error) {
		return syslogSpec{}, auditerr.Errorf(auditerr.ErrInvalidConfig, "sink %q: "+format, append([]any{redactURL(rawURL)}, args...)...)
	}
	const want = "want syslog+tcp://host[:port][?facility=N&pen=PEN] or syslog+tls://host[:port][?ca=FILE&cert=FILE&key=FILE&facility=N&pen=PEN]"
	u, err := url.Parse(rawURL)
	if err != nil || (u.Scheme != "syslog+tcp" && u.Scheme != "syslog+tls") || u.Opaque != "" || u.Host == "" {
		return bad(want)
	}
	if u.User != nil || (u.Path != "" && u.Path != "/") || u.Fragment != "" {
		return bad("a syslog sink takes no user, path or fragment (%s)", want)
	}
	c := syslogSpec{scheme: u.Scheme, host: u.Hostname(), facility: DefaultSyslogFacility, pen: DefaultSyslogPEN}
	port := u.Port()
	if port == "" {
		if strings.HasSuffix(u.Host, ":") {
			return bad("empty port")
		}
		port = DefaultSyslogTCPPort
		if c.scheme == "syslog+tls" {
			port = DefaultSyslogTLSPort
		}
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 || c.host == "" {
		return bad("host %q or port %q is not valid", c.host, port)
	}
	c.addr = net.JoinHostPort(c.host, port)
	q, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return bad("query: %v", err)
	}
	for k, vs := range q {
		if len(vs) != 1 {
			return bad("parameter %q given %d times", k, len(vs))
		}
		v := vs[0]
		switch k {
		case "facility":
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 || n > 23 || v != strconv.Itoa(n) {
				return bad("facility %q is not a number from 0 to 23", v)
			}
			c.facility = n
		case "pen":
			if !validPEN(v) {
				return bad("pen %q is not a private enterprise number (digits, dot-separated parts allowed)", v)
			}
			c.pen = v
		case "ca", "cert", "key":
			if c.scheme != "syslog+tls" {
				return bad("%s= is for syslog+tls:// only", k)
			}
			if v == "" {
				return bad("%s= names no file", k)
			}
			switch k {
			case "ca":
				c.caFile = v
			case "cert":
				c.cert = v
			default:
				c.key = v
			}
		default:
			return bad("unknown parameter %q (want facility, pen, and for syslog+tls ca, cert, key)", k)
		}
	}
	if (c.cert == "") != (c.key == "") {
		return bad("cert= and key= go together")
	}
	return c, nil
}

// validPEN reports whether v can follow the "@" of an SD-ID after
// "stigaudit": decimal parts separated by dots, the SD-ID within RFC
// 5424's 32 characters.
func validPEN(v string) bool {
	if v == "" || len("stigaudit@")+len(v) > 32 {
		return false
	}
	for part := range strings.SplitSeq(v, ".") {
		if part == "" {
			return false
		}
		for _, c := range []byte(part) {
			if c < '0' || c > '9' {
				return false
			}
		}
	}
	return true
}

// tlsConfig loads the spec's files into a client configuration.
func (c syslogSpec) tlsConfig() (*tls.Config, error) {
	cfg := &tls.Config{ServerName: c.host, MinVersion: tls.VersionTLS12}
	if c.caFile != "" {
		pem, err := os.ReadFile(c.caFile)
		if err != nil {
			return nil, fmt.Errorf("reading ca: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("ca %s holds no PEM certificate", c.caFile)
		}
		cfg.RootCAs = pool
	}
	if c.cert != "" {
		pair, err := tls.LoadX509KeyPair(c.cert, c.key)
		if err != nil {
			return nil, fmt.Errorf("loading the client certificate: %w", err)
		}
		cfg.Certificates = []tls.Certificate{pair}
	}
	return cfg, nil
}

// Name returns "syslog+tcp://host:port" or "syslog+tls://host:port": the
// query (facility, PEN, files) is not part of it, so changing them keeps
// the sink's cursor.
func (s *Syslog) Name() string { return s.name }

// Write sends events, one message each, on a connection of its own and
// returns once the receiver has closed the connection after reading them
// all (see Syslog).
func (s *Syslog) Write(ctx context.Context, events []event.Event) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return fmt.Errorf("sink %s: closed", s.name)
	}
	if len(events) == 0 {
		return nil
	}
	s.buf = s.buf[:0]
	for i := range events {
		s.msg = s.AppendMessage(s.msg[:0], &events[i])
		s.buf = strconv.AppendInt(s.buf, int64(len(s.msg)), 10)
		s.buf = append(s.buf, ' ')
		s.buf = append(s.buf, s.msg...)
	}
	if wait := syslogMinInterval - time.Since(s.last); wait > 0 {
		select {
		case <-ctx.Done():
		case <-time.After(wait):
		}
	}
	s.last = time.Now()
	if err := s.send(ctx, s.buf); err != nil {
		return fmt.Errorf("sink %s: batch of %d events (seqs %d..%d): %w", s.name, len(events), events[0].Seq, events[len(events)-1].Seq, err)
	}
	return nil
}

// send writes b on a new connection and waits for the receiver to close
// it after reading b: it half-closes the connection (after a TLS
// close_notify) and reads to the end of stream. Only a clean end of
// stream counts: a reset means the receiver closed with bytes unread.
func (s *Syslog) send(ctx context.Context, b []byte) error {
	raw, err := s.dialer.DialContext(ctx, "tcp", s.addr)
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	defer raw.Close()
	// Abort whatever blocks when ctx ends (deadline or Close).
	stop := context.AfterFunc(ctx, func() { _ = raw.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	var w io.Writer = raw
	var tc *tls.Conn
	if s.tls != nil {
		tc = tls.Client(raw, s.tls)
		if err := tc.HandshakeContext(ctx); err != nil {
			return fmt.Errorf("TLS handshake: %w", err)
		}
		w = tc
	}
	if _, err := w.Write(b); err != nil {
		return fmt.Errorf("write: %w", err)
	}
	if tc != nil {
		if err := tc.CloseWrite(); err != nil {
			return fmt.Errorf("TLS close_notify: %w", err)
		}
	}
	if tcp, ok := raw.(*net.TCPConn); ok {
		if err := tcp.CloseWrite(); err != nil {
			return fmt.Errorf("half-close: %w", err)
		}
	}
	// The receiver sends nothing in syslog (only TLS records: tickets, its
	// close_notify), and closes once it has read to our end of stream.
	if _, err := io.Copy(io.Discard, raw); err != nil {
		if ctx.Err() != nil {
			err = errors.Join(ctx.Err(), err)
		}
		return fmt.Errorf("waiting for the receiver to close the connection (it may not have read every message): %w", err)
	}
	return nil
}

// Close stops the sink: a Write after Close fails. It holds no connection
// between Writes.
func (s *Syslog) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	return nil
}

// AppendMessage appends the RFC 5424 message of e (without its framing):
//
//	<PRI>1 TIMESTAMP HOSTNAME stigaudit - MSGID [SD-ID seq="…" id="…" tenant="…" outcome="…" leaf="…"] MSG
//
// with the sink's facility, hostname and SD-ID (see Syslog).
func (s *Syslog) AppendMessage(dst []byte, e *event.Event) []byte {
	return appendSyslogMessage(dst, s.facility, s.hostname, s.sdID, s.render, e)
}

// SyslogSeverity returns the severity of an event with outcome: success 6
// (informational), denied 5 (notice), failure 4 (warning), anything else
// 5.
func SyslogSeverity(outcome string) int {
	switch outcome {
	case event.OutcomeSuccess:
		return SeverityInformational
	case event.OutcomeFailure:
		return SeverityWarning
	default:
		return SeverityNotice
	}
}

func appendSyslogMessage(dst []byte, facility int, hostname, sdID string, render Render, e *event.Event) []byte {
	dst = append(dst, '<')
	dst = strconv.AppendInt(dst, int64(facility*8+SyslogSeverity(e.Outcome)), 10)
	dst = append(dst, ">1 "...)
	dst = append(dst, syslogHeaderField(e.TS, 64)...)
	dst = append(dst, ' ')
	dst = append(dst, hostname...)
	dst = append(dst, " "+SyslogAppName+" - "...)
	dst = append(dst, syslogHeaderField(e.Type, 32)...)
	dst = append(dst, " ["...)
	dst = append(dst, sdID...)
	dst = append(dst, ` seq="`...)
	dst = strconv.AppendInt(dst, e.Seq, 10)
	dst = append(dst, `" id="`...)
	dst = AppendSDParamValue(dst, e.ID)
	dst = append(dst, `" tenant="`...)
	dst = AppendSDParamValue(dst, e.Tenant)
	dst = append(dst, `" outcome="`...)
	dst = AppendSDParamValue(dst, e.Outcome)
	dst = append(dst, `" leaf="`...)
	for _, c := range e.LeafHash {
		dst = append(dst, hexDigits[c>>4], hexDigits[c&0x0F])
	}
	dst = append(dst, `"] `...)
	return render(dst, e)
}

const hexDigits = "0123456789abcdef"

// AppendSDParamValue appends v as the inside of an RFC 5424 PARAM-VALUE
// (§6.3.3): '"', '\' and ']' escaped with a backslash, invalid UTF-8
// replaced by U+FFFD.
func AppendSDParamValue(dst []byte, v string) []byte {
	v = strings.ToValidUTF8(v, "\uFFFD")
	for i := 0; i < len(v); i++ {
		switch c := v[i]; c {
		case '"', '\\', ']':
			dst = append(dst, '\\', c)
		default:
			dst = append(dst, c)
		}
	}
	return dst
}

// syslogHeaderField returns v as a header field of at most limit
// characters: PRINTUSASCII (33 to 126), anything else replaced by '_',
// and "-" (the NILVALUE) when empty.
func syslogHeaderField(v string, limit int) string {
	if v == "" {
		return "-"
	}
	if len(v) > limit {
		v = v[:limit]
	}
	for i := 0; i < len(v); i++ {
		if v[i] < 33 || v[i] > 126 {
			b := []byte(v)
			for j := i; j < len(b); j++ {
				if b[j] < 33 || b[j] > 126 {
					b[j] = '_'
				}
			}
			return string(b)
		}
	}
	return v
}
