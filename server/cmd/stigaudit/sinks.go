package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/stigaudit/stigaudit"
	"github.com/stigaudit/stigaudit/core/event"
	"github.com/stigaudit/stigaudit/hostfns/pgstore"
	"github.com/stigaudit/stigaudit/server/metrics"
	"github.com/stigaudit/stigaudit/server/sink"
	"github.com/stigaudit/stigaudit/server/stream"
)

// sinkDrainTimeout bounds how long stopping waits for the sinks to catch
// up with the log; what they have not delivered by then they deliver after
// the next start, from their cursors.
const sinkDrainTimeout = 5 * time.Second

// feedSinks starts delivering the log to sinks and returns the log's
// Observer — the event counter of m, the sinks, the live streams of hub,
// the emit outcomes of m — and the function that stops it (call it before
// the log is closed: it saves the sinks' cursors in the store).
//
// Each sink is delivered at least once and in seq order from a cursor kept
// in the database (sink.Dispatcher); the Observer only hands it the events
// just committed, so that a sink keeping up need not read them back.
//
// On SQLite the one server observes every commit and feeds everything
// directly. On PostgreSQL every replica observes the shared log, so the
// counter and the sinks are fed through a pgstore.Feed instead: only the
// replica elected for the "sinks" feed counts and delivers (the sinks'
// Dispatcher is Active only there), each sink resuming from its cursor
// when leadership moves. And a replica reads the other replicas' commits
// back only while it needs them: while it feeds the sinks or serves a live
// stream (stigaudit.Selective). Emit outcomes and HTTP metrics stay per
// replica.
func feedSinks(ctx context.Context, store backend, m *metrics.Metrics, sinks []sink.Sink, hub *stream.Hub, logger *slog.Logger) (stigaudit.Observer, func(), error) {
	fail := func(err error) (stigaudit.Observer, func(), error) {
		for _, s := range sinks {
			_ = s.Close()
		}
		return nil, nil, fmt.Errorf("sinks: %w", err)
	}
	opt := sink.Options{Log: store, Cursors: store, Reporter: m, Logger: logger}
	pg, isPG := store.shared, store.replicated()
	var feedRef atomic.Pointer[pgstore.Feed]
	if isPG {
		opt.Active = func() bool {
			f := feedRef.Load()
			return f != nil && f.IsLeader()
		}
	}
	d, err := sink.NewDispatcher(ctx, sinks, opt)
	if err != nil {
		return fail(err)
	}
	closeSinks := func() {
		cctx, cancel := context.WithTimeout(context.Background(), sinkDrainTimeout)
		defer cancel()
		if err := d.Close(cctx); err != nil {
			logger.Warn("stopping the sinks", slog.String("error", err.Error()))
		}
	}
	if !isPG {
		return sinkObserver{Metrics: m, sinks: d, hub: hub}, closeSinks, nil
	}
	feed, err := pg.NewFeed("sinks", pgstore.FeedOptions{
		Deliver: func(evs []event.Event) {
			m.Committed(evs)
			d.Enqueue(evs)
		},
		Drain:  closeSinks, // while still leading: the sinks save their cursors
		Logger: logger,
	})
	if err != nil {
		closeSinks()
		return nil, nil, fmt.Errorf("sink feed: %w", err)
	}
	feedRef.Store(feed)
	stop := func() {
		if err := feed.Close(); err != nil {
			logger.Warn("stopping the sink feed", slog.String("error", err.Error()))
		}
		closeSinks() // already closed by the feed's Drain; idempotent
	}
	return replicaObserver{Metrics: m, feed: feed, hub: hub}, stop, nil
}

// sinkObserver is the SQLite server's Observer: committed events are
// counted, offered to the sinks and to the live streams; emit outcomes go
// to the metrics.
type sinkObserver struct {
	*metrics.Metrics
	sinks *sink.Dispatcher
	hub   *stream.Hub
}

// Committed counts the events and offers them to the sinks and the live
// streams.
func (o sinkObserver) Committed(evs []event.Event) {
	o.Metrics.Committed(evs)
	o.sinks.Enqueue(evs)
	o.hub.Committed(evs)
}

// replicaObserver is a PostgreSQL replica's Observer: committed events go
// to the sink feed (counted and delivered only on the feed's leader) and
// to the live streams; emit outcomes go to the replica's own metrics.
type replicaObserver struct {
	*metrics.Metrics
	feed *pgstore.Feed
	hub  *stream.Hub
}

// Committed offers the events to the feed and the live streams.
func (o replicaObserver) Committed(evs []event.Event) {
	o.feed.Offer(evs)
	o.hub.Committed(evs)
}

// WantsAll asks for the other replicas' commits only while they are
// needed: this replica feeds the sinks, or serves a live stream.
func (o replicaObserver) WantsAll() bool {
	return o.feed.IsLeader() || o.hub.Readers() > 0
}

var _ stigaudit.Selective = replicaObserver{}

// reopenSinksOnSIGHUP reopens every sink that can (sink.Reopener: file
// sinks, after logrotate moved their file away) on each SIGHUP, until the
// returned function is called. A sink reopens between two of its Writes,
// so no line is lost or split; one that fails to reopen tries again at
// its next Write.
func reopenSinksOnSIGHUP(sinks []sink.Sink, logger *slog.Logger) func() {
	var rs []sink.Sink
	for _, s := range sinks {
		if _, ok := s.(sink.Reopener); ok {
			rs = append(rs, s)
		}
	}
	if len(rs) == 0 {
		return func() {}
	}
	return onSIGHUP(func() {
		for _, s := range rs {
			if err := s.(sink.Reopener).Reopen(); err != nil {
				logger.Error("reopening a sink on SIGHUP", slog.String("sink", s.Name()), slog.String("error", err.Error()))
			}
		}
		logger.Info("sinks reopened", slog.Int("sinks", len(rs)))
	})
}

// onSIGHUP calls do on every SIGHUP, one at a time, until the returned
// function is called.
func onSIGHUP(do func()) (stop func()) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	done := make(chan struct{})
	go func() {
		for {
			select {
			case <-done:
				return
			case <-hup:
				do()
			}
		}
	}()
	return func() {
		signal.Stop(hup)
		close(done)
	}
}
