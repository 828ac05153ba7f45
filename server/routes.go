package server

import (
	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/stigaudit/stigaudit/server/api"
	"github.com/stigaudit/stigaudit/server/auth"
	"github.com/stigaudit/stigaudit/server/exportapi"
	"github.com/stigaudit/stigaudit/server/stream"
	"github.com/stigaudit/stigaudit/server/tlog"
	"github.com/stigaudit/stigaudit/web"
)

// routes is the route table: every route the server serves, with who may
// call it (docs/api.md). Every route runs behind the API's middleware
// (api.Handlers.Echo): the query check before routing, then the metrics,
// panic recovery and the per-source rate limit.
func (s *Server) routes() {
	e := s.e
	authn := api.Authenticate(s.cfg.Keys)
	read := []echo.MiddlewareFunc{authn, api.Require(auth.PermRead)}
	auditRead := []echo.MiddlewareFunc{authn, api.Require(auth.PermAuditRead)}
	write := []echo.MiddlewareFunc{authn, api.Require(auth.PermAuditWrite)}
	admin := []echo.MiddlewareFunc{authn, api.Require(auth.PermAdmin)}

	// Health and metrics: no key.
	e.GET("/healthz", s.api.Healthz)
	e.GET("/readyz", s.api.Ready)
	if s.cfg.Gatherer != nil {
		e.GET("/metrics", echo.WrapHandler(promhttp.HandlerFor(s.cfg.Gatherer, promhttp.HandlerOpts{})))
	}

	// Events in, events out.
	e.POST("/v1/audit/events", s.api.PostEvents, write...)
	e.GET("/v1/audit", s.api.ListEvents, read...)
	e.GET("/v1/audit/facts/:fact_id", s.api.FactTrail, read...)
	e.GET("/v1/admin/audit", s.api.AdminList, auditRead...)
	e.GET("/v1/audit/events/:id", s.events.Event, read...)
	if s.cfg.Stats != nil {
		e.GET(api.StatsRoute, s.api.Stats, read...) // scoped as the list: read its entity, audit.read its tenant
	}
	if s.receipts != nil {
		e.GET("/v1/audit/events/:id/receipt", s.events.EventReceipt, read...)
	}

	// Tamper evidence: checkpoints, proofs, the key history, tlog-tiles.
	if s.proofs != nil {
		e.GET("/v1/audit/checkpoint", s.proofs.Checkpoint, read...)
		e.GET("/v1/audit/proof/inclusion", s.proofs.Inclusion, read...)
		e.GET("/v1/audit/proof/consistency", s.proofs.Consistency, read...)
		if s.cfg.History != nil {
			e.GET("/v1/audit/verifier-keys", s.proofs.VerifierKeys, read...)
		}
		e.GET(tlog.TilesPrefix+"/checkpoint", s.tiles.Checkpoint, read...)
		e.GET(tlog.TilesPrefix+"/tile/*", s.tiles.Tile, read...) // entry bundles: admin, checked by Tile
	}

	// Export (audit.read, checked by Export so that a refusal is
	// recorded), the redaction hash lookup, the live stream.
	if s.export != nil {
		e.GET(exportapi.Route, s.export.Export, authn)
		e.POST(exportapi.HashRoute, s.export.Hash, admin...)
	}
	if s.stream != nil {
		e.GET(stream.Route, s.stream.Stream, auditRead...)
	}

	// The browser preview: public assets, and who a key is.
	if s.site != nil {
		for _, add := range []func(string, echo.HandlerFunc, ...echo.MiddlewareFunc) *echo.Route{e.GET, e.HEAD} {
			add("/", s.site.Index)
			add(web.PathConfig, s.site.Config)
			add("/web/:name", s.site.File)
		}
		e.GET(web.PathSession, s.site.Session, authn)
	}
}
