package server

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/stigaudit/stigaudit"
	"github.com/stigaudit/stigaudit/core/event"
	"github.com/stigaudit/stigaudit/hostfns"
	"github.com/stigaudit/stigaudit/server/api"
	"github.com/stigaudit/stigaudit/server/auth"
	"github.com/stigaudit/stigaudit/server/exportapi"
	"github.com/stigaudit/stigaudit/server/health"
	"github.com/stigaudit/stigaudit/server/metrics"
	"github.com/stigaudit/stigaudit/server/redact"
	"github.com/stigaudit/stigaudit/server/retention"
	"github.com/stigaudit/stigaudit/server/stream"
	"github.com/stigaudit/stigaudit/server/tlog"
	"github.com/stigaudit/stigaudit/web"
)

// Store is what the server reads of the log's store beside the Log: events
// by id and seq, and the stored tree (proofs, tiles).
type Store interface {
	hostfns.Store
	hostfns.Getter
	hostfns.TreeReader
}

// Config is everything one server serves. Log, Keys and Store are
// required. Each other part is optional: the routes that need a part are
// mounted only when it is given (so a test mounts what it exercises, with
// the same route table as the binary).
type Config struct {
	// Log is the audit log served.
	Log *stigaudit.Log
	// Keys authenticates requests.
	Keys *auth.Keys
	// Store is the Log's store.
	Store Store
	// Logger receives server-side failures; default slog.Default().
	Logger *slog.Logger

	// Metrics records HTTP requests.
	Metrics *metrics.Metrics
	// Gatherer is served at /metrics; nil: not on this listener.
	Gatherer prometheus.Gatherer
	// Ready are the conditions /readyz checks after the store's ping.
	Ready []health.Check
	// RateLimit is the most requests a second one source address may
	// send; 0 turns the limit off.
	RateLimit float64
	// Redaction decides per request whether reads, streams and exports
	// are redacted; nil serves clear data and refuses redact=hmac.
	Redaction *redact.Policy

	// Checkpointer signs the log: with it the server serves checkpoints,
	// proofs, tlog-tiles, receipts and ?proof=1.
	Checkpointer *tlog.Checkpointer
	// Witnessed, if set, returns the newest checkpoint meeting the witness
	// quorum, cosignatures appended (server/witness), which
	// GET /v1/audit/checkpoint then serves; WitnessedSized is the same for
	// receipts.
	Witnessed      func() (note []byte, ok bool)
	WitnessedSized func() (note []byte, size uint64, ok bool)
	// MaxWait bounds POST /v1/audit/events?wait=; default api.DefaultMaxWait.
	MaxWait time.Duration
	// History, if set, serves GET /v1/audit/verifier-keys.
	History func() (tlog.History, error)

	// ExportSigner signs the checkpoint each export ends with; with it
	// the server serves GET /v1/audit/export and POST /v1/audit/hash.
	ExportSigner exportapi.Signer
	// Hub delivers live commits (it must observe the Log); with it the
	// server serves GET /v1/audit/stream, with heartbeats every
	// StreamHeartbeat and writes bounded by StreamWriteTimeout (defaults:
	// stream.DefaultHeartbeat, stream.DefaultWriteTimeout).
	Hub                *stream.Hub
	StreamHeartbeat    time.Duration
	StreamWriteTimeout time.Duration
	// Purges tells when a purged event was purged (the store's Purging),
	// for GET /v1/audit/events/{id}.
	Purges interface {
		PurgedAt(ctx context.Context, seq int64) (string, error)
	}
	// Stats, if set, serves GET /v1/audit/stats (the store's counts per
	// minute: sqlitestore.Store or pgstore.Store).
	Stats api.StatsReader
	// Web, if set, serves the browser preview (its Catalogue and Limits
	// default to the Log's).
	Web *web.Config
}

// Server is the HTTP surface of one stigaudit node: every route of
// docs/api.md, mounted by one table (routes.go). It is an http.Handler.
type Server struct {
	cfg Config
	e   *echo.Echo

	api      *api.Handlers
	proofs   *tlog.Routes
	tiles    *tlog.Tiles
	receipts *tlog.Receipts
	export   *exportapi.Handlers
	stream   *stream.Handler
	events   *retention.Routes
	site     *web.Site
}

// New assembles the server: the handlers of each route package over cfg's
// parts, and the route table.
func New(cfg Config) (*Server, error) {
	if cfg.Log == nil || cfg.Keys == nil || cfg.Store == nil {
		return nil, errors.New("server: Config needs Log, Keys and Store")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	s := &Server{cfg: cfg}
	ac := api.Config{Log: cfg.Log, Keys: cfg.Keys, Metrics: cfg.Metrics, Logger: cfg.Logger, Ready: cfg.Ready,
		RateLimit: cfg.RateLimit, Redaction: cfg.Redaction, MaxWait: cfg.MaxWait, Stats: cfg.Stats}
	var prover *tlog.Prover
	if cp := cfg.Checkpointer; cp != nil {
		prover = tlog.NewProver(cfg.Store, cp)
		s.receipts = &tlog.Receipts{Prover: prover, Checkpointer: cp, Witnessed: cfg.WitnessedSized}
		s.proofs = &tlog.Routes{Store: cfg.Store, Checkpointer: cp, Prover: prover, Witnessed: cfg.Witnessed, History: cfg.History}
		s.tiles = &tlog.Tiles{Tree: cfg.Store, Store: cfg.Store, Checkpointer: cp}
		ac.Prover, ac.Receipts = prover, s.receipts
	}
	s.api = api.New(ac)
	if cfg.ExportSigner != nil {
		s.export = exportapi.New(exportapi.Config{Log: cfg.Log, Keys: cfg.Keys, Signer: cfg.ExportSigner, Tree: cfg.Store, Policy: cfg.Redaction, Logger: cfg.Logger})
	}
	if cfg.Hub != nil {
		s.stream = stream.New(stream.Config{Log: cfg.Log, Keys: cfg.Keys, Hub: cfg.Hub, Policy: cfg.Redaction, Logger: cfg.Logger,
			Heartbeat: cfg.StreamHeartbeat, WriteTimeout: cfg.StreamWriteTimeout})
	}
	s.events = &retention.Routes{Store: cfg.Store, Purges: cfg.Purges, Keys: cfg.Keys}
	if s.receipts != nil {
		s.events.Receipt = s.receipts.Receipt
	}
	if cfg.Web != nil {
		wc := *cfg.Web
		if wc.Catalogue == nil {
			wc.Catalogue = cfg.Log.Catalogue()
		}
		if wc.Limits == (event.Limits{}) {
			wc.Limits = cfg.Log.Limits()
		}
		site, err := web.New(wc)
		if err != nil {
			return nil, err
		}
		s.site = site
	}
	s.e = s.api.Echo()
	s.routes()
	return s, nil
}

// ServeHTTP serves a request.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.e.ServeHTTP(w, r) }
