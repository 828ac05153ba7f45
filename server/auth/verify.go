package auth

import (
	"context"
	"errors"
	"io"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/stigaudit/stigaudit/core/auditerr"
)

// verifySlow checks a key the cache does not hold: within the limits of
// its key id and source, it looks the key up and checks its secret with
// argon2id, then caches the result.
//
// Unknown, revoked and wrong keys cost the same: each pays one argon2id
// hash (a dummy one when there is no usable stored hash), so the time of
// the answer does not tell whether a key id exists.
func (k *Keys) verifySlow(ctx context.Context, h [32]byte, gen uint64, id, secret, source string, now time.Time) (Principal, error) {
	if by, err := k.limits.admit(id, source, now); err != nil {
		k.counters.limited.WithLabelValues(by).Inc()
		if k.limits.keys.isKnown(id) || k.isStoredID(ctx, id) {
			k.counters.failed(id)
		}
		return Principal{}, err
	}
	p, known, failed, err := k.check(ctx, id, secret)
	k.limits.done(id, source, k.opt.Clock.Now(), failed, known)
	if known && (failed || errors.Is(err, ErrKeyExpired)) {
		k.counters.failed(id)
	}
	if err != nil {
		return Principal{}, err
	}
	k.remember(h, gen, p, now)
	return p, nil
}

// check looks key id up and hashes secret. failed reports a wrong guess
// (unknown id, revoked key, wrong secret), which counts against the
// limits; known reports that the id is stored.
func (k *Keys) check(ctx context.Context, id, secret string) (p Principal, known, failed bool, err error) {
	r, found, err := k.store.KeyByID(ctx, id)
	ph, usable := k.dummy(), false
	switch {
	case err != nil:
		return p, false, false, keyCheckUnavailable(ctx, "the API key could not be checked: the key store is unreachable", err)
	case found:
		known = true
		if stored, perr := parsePHC(r.Hash); perr == nil {
			ph, usable = stored, r.RevokedAt == ""
		}
	}
	ok, err := k.hashWithin(ph, secret)
	if err != nil {
		return p, known, false, err
	}
	if !ok || !usable {
		return p, known, true, unauthorized()
	}
	ps, err := ParsePerms(r.Perms)
	if err != nil {
		return p, known, false, unauthorized()
	}
	exp, err := parseTime(r.ExpiresAt)
	if err != nil {
		return p, known, false, unauthorized()
	}
	p = Principal{KeyID: id, Tenant: r.Tenant, EntityURI: r.EntityURI, OIDCSub: r.OIDCSub, Perms: ps, ExpiresAt: exp}
	if p.expired(k.opt.Clock.Now()) {
		return Principal{}, known, false, expired(exp)
	}
	return p, known, false, nil
}

// hashWithin checks secret against ph in one of the Options.MaxHashes
// hashing slots, waiting at most Limits.QueueWait for one.
func (k *Keys) hashWithin(ph phc, secret string) (bool, error) {
	select {
	case k.hashing <- struct{}{}:
	default:
		t := time.NewTimer(k.limits.lim.QueueWait)
		defer t.Stop()
		select {
		case k.hashing <- struct{}{}:
		case <-t.C:
			k.counters.limited.WithLabelValues("queue").Inc()
			return false, refused(time.Second, "the server is busy verifying keys; retry shortly")
		}
	}
	defer func() { <-k.hashing }()
	return ph.matches(k.opt.Hash, []byte(secret)), nil
}

// storedIDs is the set of stored key ids, read at most every
// storedIDsEvery, so that counting a refused attempt by its key id costs no
// query per request however fast a flood comes.
type storedIDs struct {
	mu   sync.Mutex
	ids  map[string]struct{}
	read time.Time
}

const storedIDsEvery = 10 * time.Second

// isStoredID reports whether id names a stored key, as of the last read
// of the ids (a failed read keeps the previous set).
func (k *Keys) isStoredID(ctx context.Context, id string) bool {
	s := &k.ids
	s.mu.Lock()
	defer s.mu.Unlock()
	if now := time.Now(); s.ids == nil || now.Sub(s.read) >= storedIDsEvery {
		s.read = now
		if ids, err := k.readIDs(ctx); err == nil {
			s.ids = ids
		}
	}
	_, ok := s.ids[id]
	return ok
}

func (k *Keys) readIDs(ctx context.Context) (map[string]struct{}, error) {
	list, err := k.store.KeyIDs(ctx)
	if err != nil {
		return nil, err
	}
	ids := make(map[string]struct{}, len(list))
	for _, id := range list {
		ids[id] = struct{}{}
	}
	return ids, nil
}

// dummyPHC is the hash that unknown and revoked keys are checked against:
// the parameters of new keys, a random salt and a random "hash" that no
// secret matches.
func dummyPHC(opt Options) phc {
	buf := make([]byte, saltLen+hashLen)
	_, _ = io.ReadFull(opt.Entropy, buf) // on failure zeros: still costs the same
	return phc{params: opt.Params, salt: buf[:saltLen], hash: buf[saltLen:]}
}

// expired reports whether the principal's key has expired at now.
func (p Principal) expired(now time.Time) bool {
	return !p.ExpiresAt.IsZero() && !now.Before(p.ExpiresAt)
}

// expired is the answer to an expired key.
func expired(at time.Time) error {
	return auditerr.Errorf(ErrKeyExpired, "the API key expired at %s", at.UTC().Format(time.RFC3339))
}

// counters are the failure metrics of Keys.
type counters struct {
	failures *prometheus.CounterVec
	limited  *prometheus.CounterVec
}

func newCounters(reg prometheus.Registerer) counters {
	c := counters{
		failures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "stigaudit_auth_failures_total",
			Help: "Failed authentications naming a stored key id (wrong secret, revoked, expired, refused by the rate limit), by key id.",
		}, []string{"key_id"}),
		limited: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "stigaudit_auth_limited_total",
			Help: "Key verifications refused with 429 before any argon2id work: by key_id (its failures), source (its address's failures) or queue (no hashing slot within the wait).",
		}, []string{"by"}),
	}
	if reg != nil {
		c.failures = register(reg, c.failures)
		c.limited = register(reg, c.limited)
	}
	return c
}

// failed counts a failure naming a stored key id.
func (c counters) failed(keyID string) { c.failures.WithLabelValues(keyID).Inc() }

// Failures returns how many failed authentications named keyID in this
// process (stigaudit_auth_failures_total{key_id}).
func (k *Keys) Failures(keyID string) float64 {
	var m dto.Metric
	if err := k.counters.failures.WithLabelValues(keyID).Write(&m); err != nil {
		return 0
	}
	return m.GetCounter().GetValue()
}

// register registers c, or adopts the collector already registered under
// its name (several Keys may share one registry).
func register(reg prometheus.Registerer, c *prometheus.CounterVec) *prometheus.CounterVec {
	if err := reg.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if prev, ok := are.ExistingCollector.(*prometheus.CounterVec); ok {
				return prev
			}
		}
	}
	return c
}
