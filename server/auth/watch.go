package auth

import (
	"context"
	"sync"
	"time"

	"github.com/stigaudit/stigaudit/core/auditerr"
)

// watches are the keys of open streams and exports, followed so that a
// revocation or an expiry ends them (docs/operations.md#abuse: within the key cache's
// cadence, 2 s).
type watches struct {
	mu      sync.Mutex
	byID    map[string]map[*watch]struct{}
	polling bool
}

// watch is one open request's hold on its key.
type watch struct {
	id     string
	cancel context.CancelCauseFunc
	timer  *time.Timer // the key's expiry, or nil
}

// WatchContext returns a context derived from ctx that is cancelled, with
// an error wrapping ErrKeyRevoked or ErrKeyExpired as its cause
// (context.Cause), when p's key is revoked or expires while the request
// runs: a revocation through these Keys ends it at once, one by another
// process sharing the database (the CLI, another replica) within
// Options.WatchEvery. A database that cannot be read ends nothing: the key
// verified when the request began, and the revocation takes effect when
// the database answers again.
//
// Long-running requests — the live stream, an export — run under it. Call
// the returned function when the request ends.
func (k *Keys) WatchContext(ctx context.Context, p Principal) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancelCause(ctx)
	w := &watch{id: p.KeyID, cancel: cancel}
	k.watches.mu.Lock()
	if k.watches.byID == nil {
		k.watches.byID = make(map[string]map[*watch]struct{})
	}
	set := k.watches.byID[p.KeyID]
	if set == nil {
		set = make(map[*watch]struct{})
		k.watches.byID[p.KeyID] = set
	}
	set[w] = struct{}{}
	start := !k.watches.polling
	k.watches.polling = true
	if !p.ExpiresAt.IsZero() {
		// Set under the lock that dropWatch takes: the timer may fire at once.
		w.timer = time.AfterFunc(max(p.ExpiresAt.Sub(k.opt.Clock.Now()), 0), func() {
			k.dropWatch(w)
			cancel(expired(p.ExpiresAt))
		})
	}
	k.watches.mu.Unlock()
	if start {
		go k.pollWatches()
	}
	return ctx, func() {
		k.dropWatch(w)
		cancel(context.Canceled)
	}
}

// dropWatch forgets w.
func (k *Keys) dropWatch(w *watch) {
	k.watches.mu.Lock()
	defer k.watches.mu.Unlock()
	if w.timer != nil {
		w.timer.Stop()
	}
	if set := k.watches.byID[w.id]; set != nil {
		delete(set, w)
		if len(set) == 0 {
			delete(k.watches.byID, w.id)
		}
	}
}

// endWatches cancels every watch of keyID with cause.
func (k *Keys) endWatches(keyID string, cause error) {
	k.watches.mu.Lock()
	set := k.watches.byID[keyID]
	delete(k.watches.byID, keyID)
	for w := range set {
		if w.timer != nil {
			w.timer.Stop()
		}
	}
	k.watches.mu.Unlock()
	for w := range set {
		w.cancel(cause)
	}
}

// watchedIDs returns the watched key ids; when there are none it marks
// the poller stopped, under the same lock, and returns nil.
func (k *Keys) watchedIDs() []string {
	k.watches.mu.Lock()
	defer k.watches.mu.Unlock()
	if len(k.watches.byID) == 0 {
		k.watches.polling = false
		return nil
	}
	ids := make([]string, 0, len(k.watches.byID))
	for id := range k.watches.byID {
		ids = append(ids, id)
	}
	return ids
}

// pollWatches re-reads the watched keys every Options.WatchEvery while any
// are watched: one primary-key lookup per distinct key, however many
// requests hold it.
func (k *Keys) pollWatches() {
	every := k.opt.WatchEvery
	if every <= 0 {
		every = time.Second
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for range t.C {
		ids := k.watchedIDs()
		if ids == nil {
			return
		}
		for _, id := range ids {
			ctx, cancel := context.WithTimeout(context.Background(), every)
			r, ok, err := k.store.KeyByID(ctx, id)
			cancel()
			switch {
			case err == nil && (!ok || r.RevokedAt != ""):
				k.forget(id)
				k.endWatches(id, auditerr.Errorf(ErrKeyRevoked, "the API key %s was revoked", id))
			case err != nil:
				// Unreadable: keep the requests (see WatchContext).
			default:
				if exp, perr := parseTime(r.ExpiresAt); perr == nil && !exp.IsZero() && !k.opt.Clock.Now().Before(exp) {
					k.endWatches(id, expired(exp))
				}
			}
		}
	}
}
