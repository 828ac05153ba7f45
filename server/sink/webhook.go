package sink

import (
	"bytes"
	"context"
	"crypto/hmac"
	crand "crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/stigaudit/stigaudit/core/auditerr"
	"github.com/stigaudit/stigaudit/core/event"
	"github.com/stigaudit/stigaudit/server/secretfile"
)

// Webhook headers and defaults.
const (
	// SignatureHeader carries "sha256=" and the lowercase hex HMAC-SHA256
	// of the request body under the webhook secret.
	SignatureHeader = "X-Stigaudit-Signature"
	// WebhookSecretEnv names the environment variable holding the secret.
	WebhookSecretEnv = "STIGAUDIT_WEBHOOK_SECRET"
	// WebhookSecretFile is the secret's file in the data directory, used
	// (and created) when WebhookSecretEnv is unset.
	WebhookSecretFile = "webhook.secret"

	DefaultWebhookAttempts = 6
	DefaultWebhookBackoff  = 200 * time.Millisecond
	DefaultWebhookMaxWait  = 5 * time.Second
	DefaultWebhookTimeout  = 10 * time.Second
)

// WebhookOptions configure a Webhook. Secret is required.
type WebhookOptions struct {
	// Secret keys the HMAC of every body.
	Secret []byte
	// Client sends the requests; default an http.Client with a 10s timeout.
	Client *http.Client
	// Attempts bounds the POSTs of one batch (the first and its retries);
	// default 6.
	Attempts int
	// Backoff is the pause before the first retry, doubled (with jitter)
	// before each next one up to MaxWait; defaults 200ms and 5s. A
	// Retry-After header (seconds) is honoured up to MaxWait.
	Backoff, MaxWait time.Duration
	// Render writes each event's line of the body (without its newline);
	// default event.AppendJSON. ParseWith sets it for format=ocsf.
	Render Render
}

// Webhook POSTs committed events to an HTTP(S) endpoint in batches: the
// body is NDJSON, one event object per line exactly as the HTTP API returns
// it (or as WebhookOptions.Render writes it: format=ocsf, OCSF records), in
// seq order, with Content-Type application/x-ndjson and the
// X-Stigaudit-Signature header "sha256=<hex HMAC-SHA256(secret, body)>", so
// the receiver can authenticate the sender and detect tampering in transit.
//
// A batch is retried on network errors, 408, 429 and 5xx answers, with
// exponential backoff and jitter, up to Attempts POSTs and the Write's
// deadline; any other answer fails it at once. A failed batch is counted
// and logged by the Dispatcher and written again later, from the sink's
// cursor, until the endpoint takes it: delivery is at least once (a batch
// whose answer was lost is sent again), so receivers should de-duplicate
// by event id. A batch the endpoint keeps refusing (a 4xx) holds the sink
// at that event until the endpoint is fixed; emits never wait for the
// webhook.
type Webhook struct {
	url  string
	name string
	opts WebhookOptions
	buf  bytes.Buffer
}

// NewWebhook returns a webhook sink posting to rawURL (http:// or https://).
// Errors wrap auditerr.ErrInvalidConfig.
func NewWebhook(rawURL string, opts WebhookOptions) (*Webhook, error) {
	u, err := url.Parse(rawURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, auditerr.Errorf(auditerr.ErrInvalidConfig, "sink %q: want http(s)://host/path", redactURL(rawURL))
	}
	if len(opts.Secret) == 0 {
		return nil, auditerr.Errorf(auditerr.ErrInvalidConfig, "sink %q: a webhook needs a secret (%s, or %s in the data directory)", redactURL(rawURL), WebhookSecretEnv, WebhookSecretFile)
	}
	if opts.Client == nil {
		opts.Client = &http.Client{Timeout: DefaultWebhookTimeout}
	}
	if opts.Attempts <= 0 {
		opts.Attempts = DefaultWebhookAttempts
	}
	if opts.Backoff <= 0 {
		opts.Backoff = DefaultWebhookBackoff
	}
	if opts.MaxWait <= 0 {
		opts.MaxWait = DefaultWebhookMaxWait
	}
	if opts.Render == nil {
		opts.Render = event.AppendJSON
	}
	name := *u
	name.User, name.RawQuery, name.Fragment = nil, "", ""
	return &Webhook{url: rawURL, name: "webhook:" + name.String(), opts: opts}, nil
}

// Name returns "webhook:" and the URL without credentials or query.
func (w *Webhook) Name() string { return w.name }

// Sign returns the X-Stigaudit-Signature value of body under secret.
func Sign(secret, body []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// VerifySignature reports whether header is the signature of body under
// secret, in constant time: what a receiver runs.
func VerifySignature(secret, body []byte, header string) bool {
	return hmac.Equal([]byte(header), []byte(Sign(secret, body)))
}

// errPermanent marks an answer that retrying cannot change.
var errPermanent = errors.New("refused")

// Write POSTs events as one NDJSON body, retrying as described on Webhook.
func (w *Webhook) Write(ctx context.Context, events []event.Event) error {
	w.buf.Reset()
	var line []byte
	for i := range events {
		line = w.opts.Render(line[:0], &events[i])
		w.buf.Write(line)
		w.buf.WriteByte('\n')
	}
	body := w.buf.Bytes()
	sig := Sign(w.opts.Secret, body)
	wait := w.opts.Backoff
	var err error
	for attempt := 1; ; attempt++ {
		var retryAfter time.Duration
		retryAfter, err = w.post(ctx, body, sig)
		if err == nil || errors.Is(err, errPermanent) || attempt >= w.opts.Attempts || ctx.Err() != nil {
			break
		}
		pause := wait/2 + rand.N(wait/2+1) // jitter: [wait/2, wait]
		if retryAfter > pause {
			pause = min(retryAfter, w.opts.MaxWait)
		}
		select {
		case <-ctx.Done():
		case <-time.After(pause):
		}
		wait = min(2*wait, w.opts.MaxWait)
	}
	if err != nil {
		return fmt.Errorf("sink %s: batch of %d events (seqs %d..%d): %w", w.name, len(events), events[0].Seq, events[len(events)-1].Seq, err)
	}
	return nil
}

// post sends one request. It returns the server's Retry-After, if any.
func (w *Webhook) post(ctx context.Context, body []byte, sig string) (time.Duration, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.url, bytes.NewReader(body))
	if err != nil {
		return 0, fmt.Errorf("%w: %w", errPermanent, err)
	}
	req.Header.Set("Content-Type", "application/x-ndjson")
	req.Header.Set("User-Agent", "stigaudit-webhook")
	req.Header.Set(SignatureHeader, sig)
	resp, err := w.opts.Client.Do(req)
	if err != nil {
		return 0, err
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10)) // reuse the connection
	resp.Body.Close()
	switch code := resp.StatusCode; {
	case code >= 200 && code < 300:
		return 0, nil
	case code == http.StatusRequestTimeout || code == http.StatusTooManyRequests || code >= 500:
		var after time.Duration
		if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && s > 0 {
			after = time.Duration(s) * time.Second
		}
		return after, fmt.Errorf("HTTP %d", code)
	default:
		return 0, fmt.Errorf("%w: HTTP %d", errPermanent, code)
	}
}

// Close does nothing: a Webhook holds no resources beyond its client's idle
// connections.
func (w *Webhook) Close() error {
	if t, ok := w.opts.Client.Transport.(interface{ CloseIdleConnections() }); ok {
		t.CloseIdleConnections()
	}
	return nil
}

// WebhookSecret returns the webhook secret: explicit if set, otherwise the
// environment variable STIGAUDIT_WEBHOOK_SECRET, otherwise the file
// webhook.secret in dataDir, created (32 random bytes, hex, mode 0600) if
// missing. where says which, for the operator. Errors wrap
// auditerr.ErrInvalidConfig.
func WebhookSecret(explicit, dataDir string) (secret []byte, where string, err error) {
	if explicit != "" {
		return []byte(explicit), "configuration", nil
	}
	if v := os.Getenv(WebhookSecretEnv); v != "" {
		return []byte(v), WebhookSecretEnv, nil
	}
	if dataDir == "" {
		return nil, "", auditerr.Errorf(auditerr.ErrInvalidConfig, "webhook secret: set %s or give a data directory", WebhookSecretEnv)
	}
	path := filepath.Join(dataDir, WebhookSecretFile)
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		var raw [32]byte
		if _, err := crand.Read(raw[:]); err != nil {
			return nil, "", err
		}
		b = []byte(hex.EncodeToString(raw[:]) + "\n")
		if err := os.MkdirAll(dataDir, 0o700); err != nil {
			return nil, "", errors.Join(auditerr.Errorf(auditerr.ErrInvalidConfig, "webhook secret: create %s", dataDir), err)
		}
		err := secretfile.Create(path, b)
		if errors.Is(err, os.ErrExist) {
			return WebhookSecret("", dataDir) // created meanwhile: read it
		}
		if err != nil {
			return nil, "", errors.Join(auditerr.Errorf(auditerr.ErrInvalidConfig, "webhook secret: write %s", path), err)
		}
	} else if err != nil {
		return nil, "", errors.Join(auditerr.Errorf(auditerr.ErrInvalidConfig, "webhook secret: read %s", path), err)
	}
	s := strings.TrimSpace(string(b))
	if s == "" {
		return nil, "", auditerr.Errorf(auditerr.ErrInvalidConfig, "webhook secret: %s is empty", path)
	}
	return []byte(s), path, nil
}
