package api

import (
	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/stigaudit/stigaudit/server/auth"
)

// mount serves this package's routes as server/routes.go mounts them (the
// server package cannot be imported here: it imports this one), with
// /metrics from g when it is not nil.
func mount(cfg Config, g prometheus.Gatherer) *echo.Echo {
	h := New(cfg)
	e := h.Echo()
	authn := Authenticate(cfg.Keys)
	e.GET("/healthz", h.Healthz)
	e.GET("/readyz", h.Ready)
	if g != nil {
		e.GET("/metrics", echo.WrapHandler(promhttp.HandlerFor(g, promhttp.HandlerOpts{})))
	}
	e.POST("/v1/audit/events", h.PostEvents, authn, Require(auth.PermAuditWrite))
	e.GET("/v1/audit", h.ListEvents, authn, Require(auth.PermRead))
	e.GET("/v1/audit/facts/:fact_id", h.FactTrail, authn, Require(auth.PermRead))
	e.GET("/v1/admin/audit", h.AdminList, authn, Require(auth.PermAuditRead))
	if cfg.Stats != nil {
		e.GET(StatsRoute, h.Stats, authn, Require(auth.PermRead))
	}
	return e
}
