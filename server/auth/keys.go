package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"fmt"
	"io"
	"log/slog"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/singleflight"
	"golang.org/x/text/unicode/norm"

	"github.com/stigaudit/stigaudit/core/auditerr"
	"github.com/stigaudit/stigaudit/hostfns"
)

// Principal is the authenticated caller of a request: what a verified key
// grants.
type Principal struct {
	// KeyID is the public id of the key.
	KeyID string
	// Tenant is the key's tenant.
	Tenant string
	// EntityURI is the key's principal; the server records it as the
	// emitter of every event the key submits.
	EntityURI string
	// OIDCSub is the key's OIDC subject, or "".
	OIDCSub string
	// Perms is what the key may do.
	Perms Perms
	// ExpiresAt is when the key stops verifying; the zero time for a key
	// that never expires.
	ExpiresAt time.Time
}

// Can reports whether the principal holds every permission in want (see
// Perms.Has for the implications).
func (p Principal) Can(want Perms) bool { return p.Perms.Has(want) }

// IsAdmin reports whether the principal holds admin: every tenant, every
// permission.
func (p Principal) IsAdmin() bool { return p.Perms&PermAdmin != 0 }

// Key is a stored API key as listed: everything but its secret.
type Key struct {
	ID        string
	Tenant    string
	EntityURI string
	OIDCSub   string
	Perms     Perms
	Label     string
	CreatedAt time.Time
	// RevokedAt is the zero time for an active key.
	RevokedAt time.Time
	// ExpiresAt is the zero time for a key that never expires.
	ExpiresAt time.Time
}

// Expired reports whether the key's expiry has passed at now.
func (k Key) Expired(now time.Time) bool { return !k.ExpiresAt.IsZero() && !now.Before(k.ExpiresAt) }

// Revoked reports whether the key has been revoked.
func (k Key) Revoked() bool { return !k.RevokedAt.IsZero() }

// Principal returns what the key grants.
func (k Key) Principal() Principal {
	return Principal{KeyID: k.ID, Tenant: k.Tenant, EntityURI: k.EntityURI, OIDCSub: k.OIDCSub, Perms: k.Perms, ExpiresAt: k.ExpiresAt}
}

// Spec describes a key to create.
type Spec struct {
	// Tenant is normalised like an event's tenant_id (NFKC, trimmed,
	// lower-cased, ^[a-z0-9][a-z0-9-]{0,62}$); "" means "default".
	Tenant string
	// EntityURI is the key's principal; required.
	EntityURI string
	// OIDCSub is optional.
	OIDCSub string
	// Perms must not be empty.
	Perms Perms
	// Label is a free-text note for operators.
	Label string
	// ExpiresAt is when the key stops verifying (401 key_expired); the
	// zero time for never. It must lie in the future.
	ExpiresAt time.Time
}

// Options configure Keys. The zero value is usable.
type Options struct {
	// Entropy is the source of key ids, secrets and salts; default
	// crypto/rand.
	Entropy hostfns.Entropy
	// Clock stamps created_at and revoked_at and times the cache; default
	// the system clock.
	Clock hostfns.Clock
	// Params are the argon2id parameters for new keys; zero means
	// DefaultParams. Existing keys keep the parameters they were hashed with.
	Params Params
	// CacheSize bounds the number of cached verifications; default 4096.
	CacheSize int
	// Recheck is how long a cached verification is trusted before
	// revoked_at is read again; default 2s.
	Recheck time.Duration
	// Grace is how long a verification stays valid when its re-check
	// cannot reach the database (an outage): a key verified less than
	// Grace ago keeps working, and revocations take effect once the
	// database answers again; default 60s. Older keys, and keys not
	// verified yet, are refused with ErrKeyRecheckUnavailable.
	Grace time.Duration
	// Logger receives one line when keys start being trusted without
	// their re-check and one when re-checks succeed again; default discard.
	Logger *slog.Logger
	// Hash replaces argon2id (tests count calls with it); default
	// argon2.IDKey.
	Hash HashFunc
	// MaxHashes bounds the argon2id computations running at once, so that
	// a flood of wrong secrets for a known key id costs bounded memory
	// (about Params.Memory each) and CPU; default GOMAXPROCS.
	MaxHashes int
	// Limits bound the argon2id work failed verifications may cause (see
	// Limits); the zero value is DefaultLimits.
	Limits Limits
	// Registerer receives the failure counters
	// (stigaudit_auth_failures_total{key_id},
	// stigaudit_auth_limited_total{by}); nil keeps them unregistered.
	Registerer prometheus.Registerer
	// WatchEvery is how often Watch re-reads the watched keys; default
	// 1 s, so an open stream ends within 2 s of a revocation made by
	// another process.
	WatchEvery time.Duration
}

// KeyStore is where Keys keeps the api_keys table: the stores provide it
// (sqlitestore.Store.APIKeys, pgstore.Store.APIKeys). Its errors are the
// database's; Keys says what failed.
type KeyStore interface {
	// InsertKey stores a new, active key.
	InsertKey(ctx context.Context, r hostfns.KeyRow) error
	// ListKeys returns every key, revoked ones included, oldest first.
	ListKeys(ctx context.Context) ([]hostfns.KeyRow, error)
	// CountKeys returns the number of keys, revoked ones included.
	CountKeys(ctx context.Context) (int, error)
	// KeyByID returns the key id; ok is false when none is stored.
	KeyByID(ctx context.Context, id string) (r hostfns.KeyRow, ok bool, err error)
	// RevokeKey sets the key's revoked_at to at unless it is revoked
	// already, and reports whether it changed a row.
	RevokeKey(ctx context.Context, id, at string) (bool, error)
	// KeyIDs returns the id of every stored key.
	KeyIDs(ctx context.Context) ([]string, error)
}

// Keys manages API keys in a KeyStore. It is safe for concurrent use.
type Keys struct {
	store KeyStore
	opt   Options

	// hashing is a semaphore of Options.MaxHashes slots.
	hashing chan struct{}

	mu    sync.Mutex
	cache map[[32]byte]*cached
	// flight coalesces concurrent verifications of one uncached key.
	flight singleflight.Group
	// gen counts revocations, so a verification that read the row before a
	// concurrent Revoke does not cache a revoked key.
	gen uint64
	// graceSince is when re-checks started failing and keys were kept on
	// their grace (zero: re-checks succeed), graceFailed the latest such
	// failure. They make the log say so once per outage.
	graceSince, graceFailed time.Time

	// limits, dummy, counters and watches are in limit.go, verify.go
	// and watch.go.
	limits   *limiter
	dummy    func() phc
	counters counters
	watches  watches
	ids      storedIDs
}

type cached struct {
	p       Principal
	checked time.Time
}

// New returns Keys over store.
func New(store KeyStore, opt Options) *Keys {
	if opt.Entropy == nil {
		opt.Entropy = rand.Reader
	}
	if opt.Clock == nil {
		opt.Clock = hostfns.SystemClock{}
	}
	if opt.Params == (Params{}) {
		opt.Params = DefaultParams
	}
	if opt.CacheSize <= 0 {
		opt.CacheSize = 4096
	}
	if opt.Recheck <= 0 {
		opt.Recheck = 2 * time.Second
	}
	if opt.Grace <= 0 {
		opt.Grace = 60 * time.Second
	}
	if opt.Logger == nil {
		opt.Logger = slog.New(slog.DiscardHandler)
	}
	if opt.Hash == nil {
		opt.Hash = argon2ID
	}
	if opt.MaxHashes <= 0 {
		opt.MaxHashes = runtime.GOMAXPROCS(0)
	}
	return &Keys{
		store:    store,
		opt:      opt,
		cache:    make(map[[32]byte]*cached),
		hashing:  make(chan struct{}, opt.MaxHashes),
		limits:   newLimiter(opt.Limits),
		dummy:    sync.OnceValue(func() phc { return dummyPHC(opt) }),
		counters: newCounters(opt.Registerer),
	}
}

const (
	keyPrefix = "sa_"
	idBytes   = 10 // 80 bits → 16 base32 characters
	secBytes  = 32 // 256 bits → 52 base32 characters
	idChars   = 16
	secChars  = 52
	tsLayout  = "2006-01-02T15:04:05.000000Z"
)

var b32 = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

var tenantRE = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,62}$`)

// normalizeTenant applies the tenant_id rule of docs/event-format.md#tenant.
func normalizeTenant(t string) (string, error) {
	t = strings.ToLower(strings.TrimSpace(norm.NFKC.String(t)))
	if t == "" {
		t = "default"
	}
	if !tenantRE.MatchString(t) {
		return "", auditerr.Errorf(auditerr.ErrInvalidTenant, "tenant %q is not valid (want ^[a-z0-9][a-z0-9-]{0,62}$)", t)
	}
	return t, nil
}

// minted is a key made but not yet stored.
type minted struct {
	plaintext string
	key       Key
	hash      string
}

// mint validates spec and draws a new key for it.
func (k *Keys) mint(spec Spec) (minted, error) {
	tenant, err := normalizeTenant(spec.Tenant)
	if err != nil {
		return minted{}, err
	}
	entity := strings.TrimSpace(spec.EntityURI)
	if entity == "" {
		return minted{}, auditerr.Errorf(auditerr.ErrMissingField, "a key needs an entity URI")
	}
	if spec.Perms == 0 || spec.Perms&^(PermAuditWrite|PermRead|PermAuditRead|PermAdmin) != 0 {
		return minted{}, auditerr.Errorf(auditerr.ErrInvalidInput, "a key needs a valid, non-empty permission set")
	}
	now := k.opt.Clock.Now().UTC()
	if !spec.ExpiresAt.IsZero() && !spec.ExpiresAt.After(now) {
		return minted{}, auditerr.Errorf(auditerr.ErrInvalidInput, "a key's expiry must lie in the future, not at %s", spec.ExpiresAt.UTC().Format(time.RFC3339))
	}
	buf := make([]byte, idBytes+secBytes+saltLen)
	if _, err := io.ReadFull(k.opt.Entropy, buf); err != nil {
		return minted{}, fmt.Errorf("auth: drawing key material: %w", err)
	}
	id := b32.EncodeToString(buf[:idBytes])
	secret := b32.EncodeToString(buf[idBytes : idBytes+secBytes])
	salt := buf[idBytes+secBytes:]
	hash := k.opt.Hash([]byte(secret), salt, k.opt.Params, hashLen)
	return minted{
		plaintext: keyPrefix + id + "_" + secret,
		key: Key{
			ID: id, Tenant: tenant, EntityURI: entity, OIDCSub: strings.TrimSpace(spec.OIDCSub),
			Perms: spec.Perms, Label: spec.Label,
			CreatedAt: now.Truncate(time.Microsecond),
			ExpiresAt: spec.ExpiresAt.UTC().Truncate(time.Microsecond),
		},
		hash: encodePHC(k.opt.Params, salt, hash),
	}, nil
}

func (k *Keys) insert(ctx context.Context, m minted) error {
	kk := m.key
	err := k.store.InsertKey(ctx, hostfns.KeyRow{ID: kk.ID, Tenant: kk.Tenant, EntityURI: kk.EntityURI, OIDCSub: kk.OIDCSub,
		Perms: kk.Perms.String(), Hash: m.hash, Label: kk.Label, CreatedAt: kk.CreatedAt.Format(tsLayout), ExpiresAt: formatTime(kk.ExpiresAt)})
	if err != nil {
		return fmt.Errorf("auth: storing key %s: %w: %w", kk.ID, auditerr.ErrStoreUnavailable, err)
	}
	return nil
}

// Create makes a new key and returns its text — shown to the operator once
// and never stored — and its stored description.
func (k *Keys) Create(ctx context.Context, spec Spec) (string, Key, error) {
	m, err := k.mint(spec)
	if err != nil {
		return "", Key{}, err
	}
	if err := k.insert(ctx, m); err != nil {
		return "", Key{}, err
	}
	return m.plaintext, m.key, nil
}

// List returns every key, revoked ones included, oldest first.
func (k *Keys) List(ctx context.Context) ([]Key, error) {
	rows, err := k.store.ListKeys(ctx)
	if err != nil {
		return nil, fmt.Errorf("auth: listing keys: %w: %w", auditerr.ErrStoreUnavailable, err)
	}
	out := make([]Key, 0, len(rows))
	for _, r := range rows {
		kk := Key{ID: r.ID, Tenant: r.Tenant, EntityURI: r.EntityURI, OIDCSub: r.OIDCSub, Label: r.Label}
		if kk.Perms, err = ParsePerms(r.Perms); err != nil {
			return nil, fmt.Errorf("auth: key %s: %w", kk.ID, err)
		}
		if kk.CreatedAt, err = time.Parse(time.RFC3339Nano, r.CreatedAt); err != nil {
			return nil, fmt.Errorf("auth: key %s: created_at: %w", kk.ID, err)
		}
		if kk.RevokedAt, err = parseTime(r.RevokedAt); err != nil {
			return nil, fmt.Errorf("auth: key %s: revoked_at: %w", kk.ID, err)
		}
		if kk.ExpiresAt, err = parseTime(r.ExpiresAt); err != nil {
			return nil, fmt.Errorf("auth: key %s: expires_at: %w", kk.ID, err)
		}
		out = append(out, kk)
	}
	return out, nil
}

// Revoke marks a key revoked. Revoking a revoked key is not an error; an
// unknown key id is an error wrapping auditerr.ErrNotFound. The key stops
// verifying in this process at once, and in other processes sharing the
// database within their Options.Recheck.
func (k *Keys) Revoke(ctx context.Context, keyID string) error {
	changed, err := k.store.RevokeKey(ctx, keyID, k.opt.Clock.Now().UTC().Format(tsLayout))
	if err != nil {
		return fmt.Errorf("auth: revoking key %s: %w: %w", keyID, auditerr.ErrStoreUnavailable, err)
	}
	k.forget(keyID)
	k.endWatches(keyID, auditerr.Errorf(ErrKeyRevoked, "the API key %s was revoked", keyID))
	if changed {
		return nil
	}
	switch _, ok, err := k.store.KeyByID(ctx, keyID); {
	case err != nil:
		return fmt.Errorf("auth: revoking key %s: %w: %w", keyID, auditerr.ErrStoreUnavailable, err)
	case !ok:
		return auditerr.Errorf(auditerr.ErrNotFound, "no key %q", keyID)
	}
	return nil
}

// forget drops every cached verification of keyID.
func (k *Keys) forget(keyID string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.gen++
	for h, c := range k.cache {
		if c.p.KeyID == keyID {
			delete(k.cache, h)
		}
	}
}

// ErrKeyRecheckUnavailable: the API key could not be checked or re-checked
// because the database did not answer and the key's grace had passed
// (HTTP 503, code key_recheck_unavailable). Unlike
// auditerr.ErrStoreUnavailable, nothing was attempted with the request.
// It is a server-side code, so it lives here rather than in core/auditerr.
var ErrKeyRecheckUnavailable = &auditerr.Error{Code: "key_recheck_unavailable",
	Message: "the API key could not be checked: the key store is unreachable", Index: -1}

// unauthorized is the one answer to every failed verification, so that a
// caller learns nothing about which check failed.
func unauthorized() error {
	return auditerr.Errorf(auditerr.ErrUnauthorized, "missing or invalid API key")
}

// splitKey parses sa_<key_id>_<secret>, checking lengths and alphabet.
func splitKey(s string) (id, secret string, ok bool) {
	rest, ok := strings.CutPrefix(s, keyPrefix)
	if !ok || len(rest) != idChars+1+secChars || rest[idChars] != '_' {
		return "", "", false
	}
	id, secret = rest[:idChars], rest[idChars+1:]
	for _, part := range [...]string{id, secret} {
		for i := 0; i < len(part); i++ {
			c := part[i]
			if !(c >= 'a' && c <= 'z' || c >= '2' && c <= '7') {
				return "", "", false
			}
		}
	}
	return id, secret, true
}

// Verify authenticates a presented key. Unknown, revoked, wrong and
// malformed keys are errors wrapping auditerr.ErrUnauthorized; a database
// failure wraps ErrKeyRecheckUnavailable, unless the key was
// verified less than Options.Grace ago (then it stays valid).
//
// A successful verification is cached (see the package doc), so only the
// first request with a key pays for argon2id.
func (k *Keys) Verify(ctx context.Context, plaintext string) (Principal, error) {
	id, secret, ok := splitKey(plaintext)
	if !ok {
		return Principal{}, unauthorized()
	}
	h := sha256.Sum256([]byte(plaintext))
	now := k.opt.Clock.Now()

	k.mu.Lock()
	c, hit := k.cache[h]
	gen := k.gen
	var p Principal
	var checked time.Time
	fresh := false
	if hit {
		p, checked = c.p, c.checked
		fresh = now.Sub(c.checked) < k.opt.Recheck && !now.Before(c.checked)
	}
	k.mu.Unlock()

	if hit {
		if p.expired(now) {
			k.mu.Lock()
			delete(k.cache, h)
			k.mu.Unlock()
			k.counters.failed(p.KeyID)
			return Principal{}, expired(p.ExpiresAt)
		}
		if fresh {
			return p, nil
		}
		return k.recheck(ctx, h, gen, p, checked, now)
	}

	// Concurrent first uses of one key share one lookup and one argon2id
	// computation: a client opening 64 connections with a new key would
	// otherwise queue 64 hashes of the same secret. The shared work does
	// not depend on any one caller staying connected.
	source := sourceOf(ctx)
	v, err, _ := k.flight.Do(string(h[:]), func() (any, error) {
		return k.verifySlow(context.WithoutCancel(ctx), h, gen, id, secret, source, now)
	})
	if err != nil {
		return Principal{}, err
	}
	return v.(Principal), nil
}

// recheck re-reads revoked_at for a cached key whose check (at checked)
// has expired. If the database cannot answer, a key checked less than
// Options.Grace ago stays valid.
func (k *Keys) recheck(ctx context.Context, h [32]byte, gen uint64, p Principal, checked, now time.Time) (Principal, error) {
	r, ok, err := k.store.KeyByID(ctx, p.KeyID)
	switch {
	case err == nil && (!ok || r.RevokedAt != ""):
		k.mu.Lock()
		delete(k.cache, h)
		k.mu.Unlock()
		k.recheckOK(now)
		return Principal{}, unauthorized()
	case err != nil && ctx.Err() == nil && now.Sub(checked) < k.opt.Grace:
		k.onGrace(now, err)
		return p, nil
	case err != nil:
		return Principal{}, keyCheckUnavailable(ctx, fmt.Sprintf("the API key could not be re-checked for %s and the key store is unreachable", now.Sub(checked).Round(time.Second)), err)
	}
	k.recheckOK(now)
	k.remember(h, gen, p, now)
	return p, nil
}

// keyCheckUnavailable is a verification that failed because the database
// could not answer: ErrKeyRecheckUnavailable (503), not a commit failure.
func keyCheckUnavailable(ctx context.Context, msg string, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("auth: checking a key: %w", ctx.Err())
	}
	return fmt.Errorf("%w: %w", auditerr.Errorf(ErrKeyRecheckUnavailable, "%s", msg), err)
}

// onGrace notes that a key was kept on its grace, logging the first time
// of an outage.
func (k *Keys) onGrace(now time.Time, err error) {
	k.mu.Lock()
	first := k.graceSince.IsZero()
	if first {
		k.graceSince = now
	}
	k.graceFailed = now
	k.mu.Unlock()
	if first {
		k.opt.Logger.LogAttrs(context.Background(), slog.LevelWarn,
			"API keys cannot be re-checked: the database is unreachable; keys verified within the grace period stay valid, revocations take effect when it returns",
			slog.String("grace", k.opt.Grace.String()), slog.String("error", err.Error()))
	}
}

// recheckOK notes a re-check that reached the database, logging the end
// of an outage once no re-check has failed for Options.Recheck: while a
// database stops or starts, some sessions still answer as others fail, and
// that is one outage, not several.
func (k *Keys) recheckOK(now time.Time) {
	k.mu.Lock()
	since := k.graceSince
	if !since.IsZero() && now.Sub(k.graceFailed) < k.opt.Recheck {
		since = time.Time{} // not over yet
	} else {
		k.graceSince = time.Time{}
	}
	k.mu.Unlock()
	if !since.IsZero() {
		k.opt.Logger.LogAttrs(context.Background(), slog.LevelWarn,
			"API keys are re-checked again: revocations made meanwhile now apply",
			slog.String("unchecked_for", now.Sub(since).Round(time.Millisecond).String()))
	}
}

// remember caches a verification unless a revocation happened since gen was
// read. When the cache is full an arbitrary entry is evicted: the cost of a
// miss is one argon2id computation, so a simple policy is enough.
func (k *Keys) remember(h [32]byte, gen uint64, p Principal, now time.Time) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.gen != gen {
		return
	}
	if _, ok := k.cache[h]; !ok && len(k.cache) >= k.opt.CacheSize {
		for victim := range k.cache {
			delete(k.cache, victim)
			break
		}
	}
	k.cache[h] = &cached{p: p, checked: now}
}

// Count returns the number of keys stored, revoked ones included.
func (k *Keys) Count(ctx context.Context) (int, error) {
	n, err := k.store.CountKeys(ctx)
	if err != nil {
		return 0, fmt.Errorf("auth: counting keys: %w: %w", auditerr.ErrStoreUnavailable, err)
	}
	return n, nil
}

// formatTime is t in the table's time format, or "" (NULL) for the zero
// time.
func formatTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(tsLayout)
}

// parseTime reads a nullable time column; "" (NULL) is the zero time.
func parseTime(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	return time.Parse(time.RFC3339Nano, s)
}
