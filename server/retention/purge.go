package retention

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/stigaudit/stigaudit"
	"github.com/stigaudit/stigaudit/core/auditerr"
	"github.com/stigaudit/stigaudit/core/event"
	"github.com/stigaudit/stigaudit/core/jcs"
	"github.com/stigaudit/stigaudit/hostfns"
)

// Defaults of Config.
const (
	DefaultInterval = time.Hour
	// chunk is the most seqs one purge statement covers (one short write
	// transaction each).
	chunk = 1000
)

// Actors of the events the Purger records.
const (
	Actor   = "urn:stigaudit:retention"
	Emitter = "urn:stigaudit:server"
)

// Config configures a Purger.
type Config struct {
	// Purging is the store's SQL for purges: sqlitestore.Store.Purging()
	// or pgstore.Store.Purging(), one per Purger.
	Purging Purging
	// Log records what the Purger does.
	Log *stigaudit.Log
	// Policy is the retention setting; it must pass Check.
	Policy Policy
	// Clock gives the time the cutoff is computed from; default the system
	// clock.
	Clock hostfns.Clock
	// Interval is the time between purges after Start; default
	// DefaultInterval.
	Interval time.Duration
	// Logger receives purge failures; default slog.Default().
	Logger *slog.Logger
}

// Purger purges the content of events older than the retention period,
// through the one audited path (see the package doc). It is safe for
// concurrent use; purges run one at a time.
type Purger struct {
	cfg Config

	mu sync.Mutex // one purge at a time; guards db's state
	db Purging

	started  atomic.Bool
	stopOnce sync.Once
	stop     chan struct{}
	done     chan struct{}
}

// New returns a Purger for cfg, or an error when the policy is refused.
func New(cfg Config) (*Purger, error) {
	if cfg.Purging == nil || cfg.Log == nil {
		return nil, auditerr.Errorf(auditerr.ErrInvalidConfig, "retention: Config needs Purging and Log")
	}
	if err := cfg.Policy.Check(); err != nil {
		return nil, err
	}
	if cfg.Clock == nil {
		cfg.Clock = hostfns.SystemClock{}
	}
	if cfg.Interval <= 0 {
		cfg.Interval = DefaultInterval
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &Purger{cfg: cfg, db: cfg.Purging, stop: make(chan struct{}), done: make(chan struct{})}, nil
}

// retentionDetail is the detail of a config_change about retention.
type retentionDetail struct {
	Setting       string `json:"setting"`
	Days          *int   `json:"days"`
	FloorOverride bool   `json:"floor_override"`
}

// RecordConfig records the retention setting as a config_change event in
// the default tenant, unless the last one recorded says the same. It
// returns whether it recorded one.
func (p *Purger) RecordConfig(ctx context.Context) (bool, error) {
	unlock, err := p.db.LockConfig(ctx)
	if err != nil {
		return false, err
	}
	defer unlock()
	var prev *retentionDetail
	q := hostfns.Query{Tenant: event.DefaultTenant, Types: []string{"config_change"}, Order: hostfns.Descending, After: -1, Limit: hostfns.MaxQueryLimit}
	for prev == nil {
		page, err := p.cfg.Log.Query(ctx, q)
		if err != nil {
			return false, err
		}
		for i := range page.Events {
			var d retentionDetail
			if json.Unmarshal(page.Events[i].Detail, &d) == nil && d.Setting == "retention" && d.Days != nil {
				prev = &d
				break
			}
		}
		if !page.HasMore || len(page.Events) == 0 {
			break
		}
		q.After = page.Events[len(page.Events)-1].Seq
	}
	pol := p.cfg.Policy
	if prev != nil && *prev.Days == pol.Days && prev.FloorOverride == pol.Override {
		return false, nil
	}
	d := []byte(`{"setting":"retention","days":`)
	d = strconv.AppendInt(d, int64(pol.Days), 10)
	d = append(d, `,"floor_days":`...)
	d = strconv.AppendInt(d, FloorDays, 10)
	d = append(d, `,"floor_override":`...)
	d = strconv.AppendBool(d, pol.Override)
	if prev != nil {
		d = append(d, `,"previous_days":`...)
		d = strconv.AppendInt(d, int64(*prev.Days), 10)
	}
	d = append(d, '}')
	_, err = p.cfg.Log.Emit(ctx, event.Draft{
		Type: "config_change", Tenant: event.DefaultTenant, EntityURI: Actor, Emitter: Emitter,
		Source: "retention", Detail: d,
	})
	return err == nil, err
}

// TenantResult is what one purge did in one tenant.
type TenantResult struct {
	Tenant string
	// Planned is the number of events announced; Purged those purged.
	Planned, Purged int64
	// FirstSeq and LastSeq bound the announced events.
	FirstSeq, LastSeq int64
	// StartID is the id of the admin_action that announced the purge.
	StartID string
}

// Result is what one purge did.
type Result struct {
	// Cutoff is the ts before which content is purged.
	Cutoff string
	// Tenants lists the tenants that had events to purge.
	Tenants []TenantResult
}

// Purged returns the number of events purged.
func (r *Result) Purged() int64 {
	var n int64
	for _, t := range r.Tenants {
		n += t.Purged
	}
	return n
}

// Purging is the part of a purge written in the store's SQL
// (sqlitestore.Store.Purging, pgstore.Store.Purging). A Purger calls it
// one purge at a time.
type Purging interface {
	// Lock makes this purge the only one running on the database, or
	// reports (ok false) that another process is purging it. unlock is
	// called when the purge ends.
	Lock(ctx context.Context) (unlock func(), ok bool, err error)
	// LockConfig waits until this process is the only one recording the
	// retention setting.
	LockConfig(ctx context.Context) (unlock func(), err error)
	// Plan returns, per tenant in tenant order, the number and the seq
	// range of the live events with a ts before cutoff.
	Plan(ctx context.Context, cutoff string) ([]hostfns.PurgeRange, error)
	// Purge purges tenant's live events with a ts before cutoff among seqs
	// [from, to), at stamp, in one statement, and returns how many.
	Purge(ctx context.Context, tenant string, from, to int64, stamp, cutoff string) (int64, error)
	// Purged records that everything the last plan found is purged, so
	// the next plan may skip it.
	Purged(ctx context.Context, cutoff string)
}

// Purge purges, now, the content of every event older than the retention
// period, recording it as the package doc says. With a retention of 0 it
// does nothing; neither does it while another process (a replica sharing
// a PostgreSQL log) purges.
func (p *Purger) Purge(ctx context.Context) (Result, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	var res Result
	days := p.cfg.Policy.Days
	if days == 0 {
		return res, nil
	}
	now := p.cfg.Clock.Now().UTC()
	cutoff, err := event.FormatTS(now.AddDate(0, 0, -days))
	if err != nil {
		return res, err
	}
	stamp, err := event.FormatTS(now)
	if err != nil {
		return res, err
	}
	res.Cutoff = cutoff
	unlock, ok, err := p.db.Lock(ctx)
	if err != nil || !ok {
		return res, err
	}
	defer unlock()
	plan, err := p.db.Plan(ctx, cutoff)
	if err != nil {
		return res, err
	}
	for _, r := range plan {
		res.Tenants = append(res.Tenants, TenantResult{Tenant: r.Tenant, Planned: r.Count, FirstSeq: r.FirstSeq, LastSeq: r.LastSeq})
	}

	// Announce every tenant's purge before purging anything.
	for i := range res.Tenants {
		t := &res.Tenants[i]
		ev, err := p.cfg.Log.Emit(ctx, p.draft(t, "start", cutoff, nil))
		if err != nil {
			for j := range res.Tenants[:i] {
				p.record(ctx, &res.Tenants[j], cutoff, fmt.Errorf("aborted: %w", err))
			}
			return res, fmt.Errorf("retention: recording the purge of tenant %s: %w", t.Tenant, err)
		}
		t.StartID = ev.ID
	}
	var firstErr error
	for i := range res.Tenants {
		t := &res.Tenants[i]
		var err error
		if firstErr == nil {
			err = p.purgeTenant(ctx, t, stamp, cutoff)
			firstErr = err
		} else {
			err = fmt.Errorf("aborted: %w", firstErr)
		}
		p.record(ctx, t, cutoff, err)
	}
	if firstErr != nil {
		return res, firstErr
	}
	p.db.Purged(ctx, cutoff)
	return res, nil
}

// purgeTenant purges t's announced events, chunk by chunk.
func (p *Purger) purgeTenant(ctx context.Context, t *TenantResult, stamp, cutoff string) error {
	for from := t.FirstSeq; from <= t.LastSeq; from += chunk {
		n, err := p.db.Purge(ctx, t.Tenant, from, min(from+chunk, t.LastSeq+1), stamp, cutoff)
		if err != nil {
			return err
		}
		t.Purged += n
	}
	return nil
}

// record stores the end of a tenant's purge; a failure is logged.
func (p *Purger) record(ctx context.Context, t *TenantResult, cutoff string, cause error) {
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if _, err := p.cfg.Log.Emit(rctx, p.draft(t, "end", cutoff, cause)); err != nil {
		p.cfg.Logger.LogAttrs(ctx, slog.LevelError, "could not record the end of a retention purge",
			slog.String("tenant", t.Tenant), slog.Int64("purged", t.Purged), slog.String("error", err.Error()))
	}
	if cause != nil {
		p.cfg.Logger.LogAttrs(ctx, slog.LevelError, "retention purge failed",
			slog.String("tenant", t.Tenant), slog.Int64("purged", t.Purged), slog.String("error", cause.Error()))
	}
}

func (p *Purger) draft(t *TenantResult, phase, cutoff string, cause error) event.Draft {
	d := []byte(`{"action":"retention_purge","phase":`)
	d = jcs.AppendString(d, phase)
	d = append(d, `,"retention_days":`...)
	d = strconv.AppendInt(d, int64(p.cfg.Policy.Days), 10)
	d = append(d, `,"cutoff":`...)
	d = jcs.AppendString(d, cutoff)
	d = append(d, `,"first_seq":`...)
	d = strconv.AppendInt(d, t.FirstSeq, 10)
	d = append(d, `,"last_seq":`...)
	d = strconv.AppendInt(d, t.LastSeq, 10)
	d = append(d, `,"events":`...)
	d = strconv.AppendInt(d, t.Planned, 10)
	outcome := event.OutcomeSuccess
	if phase == "end" {
		d = append(d, `,"start_id":`...)
		d = jcs.AppendString(d, t.StartID)
		d = append(d, `,"purged":`...)
		d = strconv.AppendInt(d, t.Purged, 10)
		if cause != nil {
			outcome = event.OutcomeFailure
			d = append(d, `,"error":`...)
			d = jcs.AppendString(d, cause.Error())
		}
	}
	d = append(d, '}')
	return event.Draft{
		Type: "admin_action", Tenant: t.Tenant, EntityURI: Actor, Emitter: Emitter,
		Source: "retention", Outcome: outcome, Detail: d,
	}
}

// Start purges now and then every Interval, in the background, until
// Stop. A failed purge is logged and retried at the next interval.
func (p *Purger) Start() {
	if !p.started.CompareAndSwap(false, true) {
		return
	}
	go func() {
		defer close(p.done)
		t := time.NewTicker(p.cfg.Interval)
		defer t.Stop()
		for {
			ctx, cancel := context.WithCancel(context.Background())
			go func() {
				select {
				case <-p.stop:
					cancel()
				case <-ctx.Done():
				}
			}()
			res, err := p.Purge(ctx)
			cancel()
			if err != nil {
				p.cfg.Logger.Error("retention purge failed", slog.String("error", err.Error()))
			} else if n := res.Purged(); n > 0 {
				p.cfg.Logger.Info("retention purge", slog.Int64("events", n), slog.String("cutoff", res.Cutoff))
			}
			select {
			case <-p.stop:
				return
			case <-t.C:
			}
		}
	}()
}

// Stop ends the background purges started by Start and waits for a purge
// in progress (which stops between chunks).
func (p *Purger) Stop() {
	p.stopOnce.Do(func() { close(p.stop) })
	if p.started.Load() {
		<-p.done
	}
}
