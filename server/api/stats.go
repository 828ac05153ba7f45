package api

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/stigaudit/stigaudit/core/event"
	"github.com/stigaudit/stigaudit/hostfns"
	"github.com/stigaudit/stigaudit/server/auth"
	"github.com/stigaudit/stigaudit/server/redact"
)

// StatsReader counts events per minute (sqlitestore.Store and
// pgstore.Store implement it; declared here, where it is used).
type StatsReader interface {
	// Stats returns the counts of q per minute and key, in (minute, key)
	// order.
	Stats(ctx context.Context, q hostfns.StatsQuery) ([]hostfns.StatsRow, error)
}

// StatsRoute is the path of the counts.
const StatsRoute = "/v1/audit/stats"

// MaxStatsBuckets is the most buckets one stats answer holds (a week of
// minutes).
const MaxStatsBuckets = 7 * 24 * 60

// statsBuckets are the bucket widths GET /v1/audit/stats takes.
var statsBuckets = map[string]time.Duration{
	"1m": time.Minute, "5m": 5 * time.Minute, "1h": time.Hour, "1d": 24 * time.Hour,
}

// statsParams are the parameters of GET /v1/audit/stats; none repeats.
var statsParams = map[string]bool{"since": true, "until": true, "bucket": true, "group": true, "tenant_id": true}

// statsRequest is a checked GET /v1/audit/stats.
type statsRequest struct {
	q            hostfns.StatsQuery
	since, until time.Time
	bucket       string
	width        time.Duration
}

// Stats is GET /v1/audit/stats: counts of events per bucket of time and
// value of one column, with their totals, scoped as the list is
// (docs/api.md#stats).
func (s *Handlers) Stats(c echo.Context) error {
	vals := c.QueryParams()
	asked := url.Values{}
	if vs, ok := vals[redact.Param]; ok && s.redaction != nil {
		asked[redact.Param] = vs
		delete(vals, redact.Param)
	}
	p := PrincipalOf(c)
	req, err := parseStats(vals, p)
	if err != nil {
		return err
	}
	var r *redact.Redactor
	if s.redaction != nil {
		if r, err = s.redaction.ForRequest(p, asked); err != nil {
			return err
		}
	}
	rows, err := s.stats.Stats(c.Request().Context(), req.q)
	if err != nil {
		return err
	}
	if r != nil && req.q.Group == hostfns.GroupEntityURI {
		// The keys are entity_uri values: redacted as a list answer's.
		for i := range rows {
			e := event.Event{EntityURI: rows[i].Key}
			if err := r.Apply(&e); err != nil {
				return fmt.Errorf("redact: %w", err)
			}
			rows[i].Key = e.EntityURI
		}
	}
	return c.JSONBlob(http.StatusOK, appendStats(nil, req, rows))
}

// parseStats checks every parameter and scopes the counts to what p may
// read: its own entity for a read key, its tenant for audit.read, any
// tenant (or all) for admin.
func parseStats(vals url.Values, p auth.Principal) (statsRequest, error) {
	req := statsRequest{q: hostfns.StatsQuery{Group: hostfns.GroupOutcome}, bucket: "1h", width: time.Hour}
	var since, until string
	for name, vs := range vals {
		if !statsParams[name] {
			return req, invalidParam("unknown parameter %q", name)
		}
		if len(vs) > 1 {
			return req, invalidParam("parameter %q is repeated", name)
		}
		v := vs[0]
		if v == "" {
			return req, invalidParam("parameter %q is empty", name)
		}
		switch name {
		case "since":
			since = v
		case "until":
			until = v
		case "bucket":
			w, ok := statsBuckets[v]
			if !ok {
				return req, invalidParam("bucket must be 1m, 5m, 1h or 1d, not %q", v)
			}
			req.bucket, req.width = v, w
		case "group":
			if v != hostfns.GroupEventType && v != hostfns.GroupOutcome && v != hostfns.GroupEntityURI {
				return req, invalidParam("group must be event_type, outcome or entity_uri, not %q", v)
			}
			req.q.Group = v
		case "tenant_id":
			t, err := TenantParam(v, p)
			if err != nil {
				return req, err
			}
			req.q.Tenant = t
		}
	}
	var err error
	if req.since, err = statsTime("since", since, req); err != nil {
		return req, err
	}
	if req.until, err = statsTime("until", until, req); err != nil {
		return req, err
	}
	if !req.since.Before(req.until) {
		return req, invalidParam("since %s is not before until %s", since, until)
	}
	if n := req.until.Sub(req.since) / req.width; n > MaxStatsBuckets {
		return req, invalidParam("since to until holds %d buckets of %s; at most %d", n, req.bucket, MaxStatsBuckets)
	}
	req.q.Since, req.q.Until = minuteKey(req.since), minuteKey(req.until)

	if !p.IsAdmin() {
		req.q.Tenant = p.Tenant
	}
	if !p.Can(auth.PermAuditRead) {
		req.q.EntityURI = p.EntityURI
	}
	return req, req.q.Check()
}

// statsTime reads a required bound: RFC 3339, at the start of a bucket
// (buckets start at UTC midnight and every whole bucket width after it).
func statsTime(name, v string, req statsRequest) (time.Time, error) {
	if v == "" {
		return time.Time{}, invalidParam("parameter %q is required", name)
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return t, invalidParam("%s must be an RFC 3339 time such as 2026-05-03T12:00:00Z, not %q", name, v)
	}
	t = t.UTC()
	if t.Year() < 1 || t.Year() > 9999 {
		return t, invalidParam("%s %q is outside years 0001-9999 in UTC", name, v)
	}
	// The zero time is a UTC midnight, so Truncate aligns to UTC days too.
	if !t.Truncate(req.width).Equal(t) {
		return t, invalidParam("%s %q is not at the start of a %s bucket (UTC)", name, v, req.bucket)
	}
	return t, nil
}

// minuteKey is the hostfns minute key of t.
func minuteKey(t time.Time) string { return t.Format(tsLayout)[:hostfns.MinuteLen] }

// statsCount is one key's count in a bucket or the totals.
type statsCount struct {
	key string
	n   int64
}

// appendStats appends the answer: every bucket from since to until, in
// order, with its counts by key in key order (an empty object for none),
// and the totals. rows are in (minute, key) order, as the store answers.
func appendStats(b []byte, req statsRequest, rows []hostfns.StatsRow) []byte {
	n := int(req.until.Sub(req.since) / req.width)
	buckets := make([][]statsCount, n)
	totals := map[string]int64{}
	minute, i := "", -1
	for _, r := range rows {
		if r.Minute != minute { // rows come minute by minute: one parse each
			minute, i = r.Minute, -1
			if m, err := time.Parse("2006-01-02T15:04", r.Minute); err == nil {
				i = int(m.Sub(req.since) / req.width)
			}
		}
		if i < 0 || i >= n {
			continue // the store answers the window only, in minute keys
		}
		totals[r.Key] += r.Count
		cs := buckets[i]
		if j := slices.IndexFunc(cs, func(c statsCount) bool { return c.key == r.Key }); j >= 0 {
			cs[j].n += r.Count // a later minute of the same bucket
			continue
		}
		buckets[i] = append(cs, statsCount{r.Key, r.Count})
	}
	quoted := map[string][]byte{} // each key's JSON, encoded once
	appendCounts := func(b []byte, cs []statsCount) []byte {
		slices.SortFunc(cs, func(a, b statsCount) int { return strings.Compare(a.key, b.key) })
		b = append(b, '{')
		for i, c := range cs {
			if i > 0 {
				b = append(b, ',')
			}
			q, ok := quoted[c.key]
			if !ok {
				q = appendString(nil, c.key)
				quoted[c.key] = q
			}
			b = append(b, q...)
			b = append(b, ':')
			b = strconv.AppendInt(b, c.n, 10)
		}
		return append(b, '}')
	}
	b = slices.Grow(b, 64*n+32*len(rows)+256) // about the answer's size
	b = append(b, `{"bucket":`...)
	b = appendString(b, req.bucket)
	b = append(b, `,"group":`...)
	b = appendString(b, req.q.Group)
	b = append(b, `,"since":`...)
	b = appendString(b, req.since.Format(time.RFC3339))
	b = append(b, `,"until":`...)
	b = appendString(b, req.until.Format(time.RFC3339))
	b = append(b, `,"buckets":[`...)
	for i, cs := range buckets {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"start":"`...)
		b = req.since.Add(time.Duration(i)*req.width).AppendFormat(b, time.RFC3339)
		b = append(b, `","counts":`...)
		b = appendCounts(b, cs)
		b = append(b, '}')
	}
	b = append(b, `],"totals":`...)
	all := make([]statsCount, 0, len(totals))
	for k, v := range totals {
		all = append(all, statsCount{k, v})
	}
	b = appendCounts(b, all)
	return append(b, '}')
}
