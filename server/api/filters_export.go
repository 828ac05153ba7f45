package api

import (
	"net/url"

	"github.com/stigaudit/stigaudit"
	"github.com/stigaudit/stigaudit/hostfns"
	"github.com/stigaudit/stigaudit/server/auth"
)

// ParseFilters parses the read filters (docs/api.md#reads) of vals exactly as the list
// routes do — every parameter checked, none ignored, the scope the key
// imposes applied (its tenant unless admin, its own entity_uri without
// audit.read) — for routes that live outside this package (export,
// stream). The event_type filter is checked against log's catalogue.
//
// vals may carry only the list routes' parameters: a route with parameters
// of its own removes them first. limit keeps its list meaning (1–1000,
// default DefaultLimit), and cursor must be one issued for the same route,
// order and filters (see EncodeCursor); on success the query's After is
// the cursor's position, or -1.
func ParseFilters(log *stigaudit.Log, vals url.Values, p auth.Principal, route string, order hostfns.Order) (hostfns.Query, error) {
	return parseQuery(log.Catalogue(), vals, p, route, order, "")
}

// EncodeCursor returns the opaque cursor that continues q (as returned by
// ParseFilters for route) after the event with seq last. ParseFilters
// accepts it back for the same route, order and filters only.
func EncodeCursor(route string, q *hostfns.Query, last int64) string {
	return encodeCursor(q.Order, last, filterHash(route, q))
}
