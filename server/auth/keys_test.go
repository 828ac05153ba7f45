package auth

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	_ "modernc.org/sqlite"

	"github.com/stigaudit/stigaudit/core/auditerr"
	"github.com/stigaudit/stigaudit/hostfns/sqlquery"
	"github.com/stigaudit/stigaudit/migrations"
)

func openDB(t testing.TB) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", filepath.Join(t.TempDir(), "keys.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if err := migrations.Apply(context.Background(), db, migrations.SQLiteFiles(), migrations.SQLite); err != nil {
		t.Fatal(err)
	}
	return db
}

// fakeClock is a settable clock.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// countingHash is cheap argon2id that counts its calls.
type countingHash struct{ n atomic.Int64 }

func (c *countingHash) hash(secret, salt []byte, p Params, keyLen uint32) []byte {
	c.n.Add(1)
	return argon2ID(secret, salt, p, keyLen)
}

type fixture struct {
	db    *sql.DB
	keys  *Keys
	clock *fakeClock
	hash  *countingHash
}

func newFixture(t *testing.T) fixture {
	t.Helper()
	db := openDB(t)
	clk := &fakeClock{now: time.Date(2026, 5, 3, 12, 0, 0, 0, time.UTC)}
	h := &countingHash{}
	k := New(table(db), Options{Clock: clk, Hash: h.hash, Params: Params{Time: 1, Memory: 64, Threads: 1}, Recheck: 2 * time.Second})
	return fixture{db: db, keys: k, clock: clk, hash: h}
}

// create makes a key, failing the test if it cannot.
func (f fixture) create(t *testing.T, spec Spec) (text string, key Key) {
	t.Helper()
	text, key, err := f.keys.Create(context.Background(), spec)
	if err != nil {
		t.Fatal(err)
	}
	return text, key
}

// mustVerify verifies text, failing the test if it is refused.
func (f fixture) mustVerify(t *testing.T, text string) {
	t.Helper()
	if _, err := f.keys.Verify(context.Background(), text); err != nil {
		t.Fatal(err)
	}
}

func wantCode(t *testing.T, err error, code auditerr.Code) {
	t.Helper()
	if got := auditerr.CodeOf(err); got != code {
		t.Fatalf("error %v has code %q, want %q", err, got, code)
	}
}

func TestCreateVerifyRevoke(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	text, key := f.create(t, Spec{Tenant: " Acme ", EntityURI: "urn:svc:a", OIDCSub: "sub-1", Perms: PermAuditWrite | PermRead, Label: "ci"})
	if !strings.HasPrefix(text, "sa_"+key.ID+"_") || len(text) != len("sa_")+idChars+1+secChars {
		t.Fatalf("key text %q does not have the sa_<id>_<secret> shape", text)
	}
	if key.Tenant != "acme" {
		t.Errorf("tenant = %q, want normalised %q", key.Tenant, "acme")
	}
	// The secret is not stored anywhere in the row.
	var stored string
	if err := f.db.QueryRow(`SELECT hash FROM api_keys WHERE key_id = ?`, key.ID).Scan(&stored); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(stored, "$argon2id$v=19$m=64,t=1,p=1$") || strings.Contains(stored, text[len(text)-secChars:]) {
		t.Errorf("stored hash %q is not an argon2id PHC string of the secret", stored)
	}

	p, err := f.keys.Verify(ctx, text)
	if err != nil {
		t.Fatal(err)
	}
	want := Principal{KeyID: key.ID, Tenant: "acme", EntityURI: "urn:svc:a", OIDCSub: "sub-1", Perms: PermAuditWrite | PermRead}
	if p != want {
		t.Errorf("principal = %+v, want %+v", p, want)
	}

	if err := f.keys.Revoke(ctx, key.ID); err != nil {
		t.Fatal(err)
	}
	_, err = f.keys.Verify(ctx, text)
	wantCode(t, err, auditerr.ErrUnauthorized.Code)
	if err := f.keys.Revoke(ctx, key.ID); err != nil {
		t.Errorf("second revoke: %v, want nil", err)
	}
	wantCode(t, f.keys.Revoke(ctx, "nosuchkey"), auditerr.ErrNotFound.Code)

	list, err := f.keys.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 1 || list[0].ID != key.ID || !list[0].Revoked() || list[0].Label != "ci" || list[0].Perms != PermAuditWrite|PermRead {
		t.Errorf("list = %+v", list)
	}
}

func TestVerifyRefuses(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	text, _ := f.create(t, Spec{EntityURI: "urn:svc:a", Perms: PermRead})
	other := newFixture(t) // a key of another database: well-formed, unknown here
	unknown, _, err := other.keys.Create(ctx, Spec{EntityURI: "urn:svc:b", Perms: PermRead})
	if err != nil {
		t.Fatal(err)
	}
	// Same id, different secret.
	last := text[len(text)-1]
	flip := byte('a')
	if last == 'a' {
		flip = 'b'
	}
	wrong := text[:len(text)-1] + string(flip)

	for _, tc := range []struct{ name, text string }{
		{"empty", ""},
		{"no prefix", strings.TrimPrefix(text, "sa_")},
		{"truncated", text[:len(text)-1]},
		{"upper case", strings.ToUpper(text)},
		{"bad alphabet", text[:len(text)-1] + "1"},
		{"unknown id", unknown},
		{"wrong secret", wrong},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := f.keys.Verify(ctx, tc.text)
			wantCode(t, err, auditerr.ErrUnauthorized.Code)
		})
	}
}

func TestVerifyCachesSuccess(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	text, _ := f.create(t, Spec{EntityURI: "urn:svc:a", Perms: PermAuditRead})
	base := f.hash.n.Load() // Create hashed once
	for range 50 {
		f.mustVerify(t, text)
	}
	if got := f.hash.n.Load() - base; got != 1 {
		t.Errorf("50 verifications computed argon2id %d times, want 1", got)
	}
	// Past the recheck interval the key is re-read but not re-hashed.
	f.clock.advance(3 * time.Second)
	f.mustVerify(t, text)
	if got := f.hash.n.Load() - base; got != 1 {
		t.Errorf("a recheck computed argon2id (%d calls), want none", got-1)
	}
	// Failures are not cached: each wrong key costs a hash.
	wrong := text[:len(text)-2] + "aa"
	if wrong == text {
		wrong = text[:len(text)-2] + "bb"
	}
	for range 2 {
		f.keys.Verify(ctx, wrong)
	}
	if got := f.hash.n.Load() - base; got != 3 {
		t.Errorf("argon2id calls after two wrong keys = %d, want 3", got)
	}
}

func TestRevokeDropsCachedKey(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	text, key := f.create(t, Spec{EntityURI: "urn:svc:a", Perms: PermAuditWrite})
	f.mustVerify(t, text)
	// Revoked through the same Keys: refused at once, no clock advance.
	if err := f.keys.Revoke(ctx, key.ID); err != nil {
		t.Fatal(err)
	}
	_, err := f.keys.Verify(ctx, text)
	wantCode(t, err, auditerr.ErrUnauthorized.Code)
}

func TestRevokeFromOtherProcess(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	text, key := f.create(t, Spec{EntityURI: "urn:svc:a", Perms: PermAuditWrite})
	f.mustVerify(t, text)
	// Another Keys over the same database plays the CLI.
	cli := New(table(f.db), Options{Clock: f.clock})
	if err := cli.Revoke(ctx, key.ID); err != nil {
		t.Fatal(err)
	}
	// Within the recheck interval the cached verification still stands...
	f.clock.advance(time.Second)
	if _, err := f.keys.Verify(ctx, text); err != nil {
		t.Fatalf("within the recheck interval: %v", err)
	}
	// ...and after it the revocation is seen.
	f.clock.advance(1500 * time.Millisecond)
	_, err := f.keys.Verify(ctx, text)
	wantCode(t, err, auditerr.ErrUnauthorized.Code)
}

func TestCacheIsBounded(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	f.keys.opt.CacheSize = 3
	for range 5 {
		text, _, err := f.keys.Create(ctx, Spec{EntityURI: "urn:svc:a", Perms: PermRead})
		if err != nil {
			t.Fatal(err)
		}
		f.mustVerify(t, text)
	}
	if n := len(f.keys.cache); n != 3 {
		t.Errorf("cache holds %d entries, want 3", n)
	}
}

func TestCreateRefuses(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	for _, tc := range []struct {
		name string
		spec Spec
		code auditerr.Code
	}{
		{"bad tenant", Spec{Tenant: "Acme Corp", EntityURI: "urn:a", Perms: PermRead}, auditerr.ErrInvalidTenant.Code},
		{"no entity", Spec{EntityURI: "  ", Perms: PermRead}, auditerr.ErrMissingField.Code},
		{"no perms", Spec{EntityURI: "urn:a"}, auditerr.ErrInvalidInput.Code},
		{"unknown perm bit", Spec{EntityURI: "urn:a", Perms: 1 << 6}, auditerr.ErrInvalidInput.Code},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := f.keys.Create(ctx, tc.spec)
			wantCode(t, err, tc.code)
		})
	}
	if n, _ := f.keys.Count(ctx); n != 0 {
		t.Errorf("refused creates stored %d keys", n)
	}
}

func TestParsePerms(t *testing.T) {
	for _, tc := range []struct {
		in, canon string
		ok        bool
	}{
		{"audit.write", "audit.write", true},
		{"read, audit.read", "read,audit.read", true},
		{"admin,admin", "admin", true},
		{"audit.read,audit.write", "audit.write,audit.read", true},
		{"", "", false},
		{" , ", "", false},
		{"write", "", false},
		{"read,Admin", "", false},
	} {
		ps, err := ParsePerms(tc.in)
		if (err == nil) != tc.ok {
			t.Errorf("ParsePerms(%q) error = %v, want ok=%v", tc.in, err, tc.ok)
			continue
		}
		if err != nil {
			wantCode(t, err, auditerr.ErrInvalidInput.Code)
			continue
		}
		if ps.String() != tc.canon {
			t.Errorf("ParsePerms(%q).String() = %q, want %q", tc.in, ps.String(), tc.canon)
		}
	}
}

func TestPermsHas(t *testing.T) {
	for _, tc := range []struct {
		have, want Perms
		ok         bool
	}{
		{PermAdmin, PermAuditWrite | PermRead | PermAuditRead, true},
		{PermAuditRead, PermRead, true},
		{PermRead, PermAuditRead, false},
		{PermAuditWrite, PermRead, false},
		{PermRead | PermAuditWrite, PermAdmin, false},
		{PermAuditRead, PermAdmin, false},
	} {
		if got := tc.have.Has(tc.want); got != tc.ok {
			t.Errorf("%v.Has(%v) = %v, want %v", tc.have, tc.want, got, tc.ok)
		}
	}
}

func TestPHCRoundTripAndRefusals(t *testing.T) {
	p := Params{Time: 1, Memory: 64, Threads: 1}
	salt := bytes.Repeat([]byte{7}, 16)
	s := encodePHC(p, salt, argon2ID([]byte("secret"), salt, p, 32))
	h, err := parsePHC(s)
	if err != nil {
		t.Fatal(err)
	}
	if !h.matches(argon2ID, []byte("secret")) || h.matches(argon2ID, []byte("secreT")) {
		t.Error("round-tripped hash does not discriminate secrets")
	}
	for _, bad := range []string{
		"", "$argon2i$v=19$m=64,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA",
		"$argon2id$v=16$m=64,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA",
		"$argon2id$v=19$m=99999999,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA",
		"$argon2id$v=19$m=64,t=1,p=1,x=2$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA",
		"$argon2id$v=19$m=64,t=1,p=1$!!$aGFzaGhhc2hoYXNoaGFzaA",
	} {
		if _, err := parsePHC(bad); err == nil {
			t.Errorf("parsePHC(%q) accepted", bad)
		}
	}
}

func TestBootstrap(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	dir := filepath.Join(t.TempDir(), "data")
	path, err := f.keys.Bootstrap(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	if path != filepath.Join(dir, AdminKeyFile) {
		t.Errorf("path = %q", path)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("admin.key mode = %v, want 0600", st.Mode().Perm())
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	p, err := f.keys.Verify(ctx, strings.TrimSpace(string(raw)))
	if err != nil {
		t.Fatalf("the bootstrap key does not verify: %v", err)
	}
	if !p.IsAdmin() || p.Tenant != "default" || p.EntityURI != AdminEntityURI {
		t.Errorf("bootstrap principal = %+v", p)
	}
	// A second start with keys present does nothing.
	again, err := f.keys.Bootstrap(ctx, dir)
	if err != nil || again != "" {
		t.Errorf("second Bootstrap = %q, %v; want \"\", nil", again, err)
	}
	if n, _ := f.keys.Count(ctx); n != 1 {
		t.Errorf("%d keys after two bootstraps, want 1", n)
	}
}

func TestDatabaseDownIsKeyRecheckUnavailable(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	text, _ := f.create(t, Spec{EntityURI: "urn:a", Perms: PermRead})
	f.db.Close()
	// Never verified: nothing to fall back on, and it is the key check, not
	// a commit, that failed.
	_, err := f.keys.Verify(ctx, text)
	if !errors.Is(err, ErrKeyRecheckUnavailable) || errors.Is(err, auditerr.ErrStoreUnavailable) {
		t.Errorf("Verify with the database closed: %v, want key_recheck_unavailable", err)
	}
}

// lineCounter counts the log lines whose message contains a word.
type lineCounter struct {
	mu    sync.Mutex
	lines []string
}

func (c *lineCounter) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.lines = append(c.lines, string(p))
	return len(p), nil
}

func (c *lineCounter) count(word string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, l := range c.lines {
		if strings.Contains(l, word) {
			n++
		}
	}
	return n
}

// TestOutageGrace: while the database cannot answer, a key verified within
// the grace stays valid (said once in the log), an older one is refused
// with key_recheck_unavailable, and a revocation made meanwhile applies as
// soon as the database answers again.
func TestOutageGrace(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	logs := &lineCounter{}
	f.keys.opt.Logger = slog.New(slog.NewTextHandler(logs, nil))
	text, key := f.create(t, Spec{EntityURI: "urn:a", Perms: PermAuditWrite})
	other, _ := f.create(t, Spec{EntityURI: "urn:b", Perms: PermAuditWrite})
	f.mustVerify(t, text)
	f.mustVerify(t, other)
	f.clock.advance(30 * time.Second)
	f.mustVerify(t, other) // re-checked: its grace starts again now

	// The outage: the table cannot be read (as with PostgreSQL stopped,
	// every query fails).
	if _, err := f.db.Exec(`ALTER TABLE api_keys RENAME TO api_keys_away`); err != nil {
		t.Fatal(err)
	}
	f.clock.advance(20 * time.Second) // text: 50 s since verified; other: 20 s
	for range 100 {
		f.mustVerify(t, text)
		f.mustVerify(t, other)
		f.clock.advance(50 * time.Millisecond)
	}
	// A flap — one session still answering while the database stops — is
	// not a second outage.
	if _, err := f.db.Exec(`ALTER TABLE api_keys_away RENAME TO api_keys`); err != nil {
		t.Fatal(err)
	}
	f.mustVerify(t, other)
	if _, err := f.db.Exec(`ALTER TABLE api_keys RENAME TO api_keys_away`); err != nil {
		t.Fatal(err)
	}
	f.clock.advance(2500 * time.Millisecond)
	f.mustVerify(t, other)
	if n := logs.count("cannot be re-checked"); n != 1 {
		t.Errorf("the outage was logged %d times, want once", n)
	}
	f.clock.advance(3500 * time.Millisecond) // text: 61 s since verified
	_, err := f.keys.Verify(ctx, text)
	if !errors.Is(err, ErrKeyRecheckUnavailable) {
		t.Fatalf("a key past its grace during the outage: %v, want key_recheck_unavailable", err)
	}
	f.mustVerify(t, other)
	// Revoked meanwhile (another process reaching the database by another
	// way).
	if _, err := f.db.Exec(`UPDATE api_keys_away SET revoked_at = '2026-05-03T12:01:00.000000Z' WHERE key_id = ?`, key.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := f.db.Exec(`ALTER TABLE api_keys_away RENAME TO api_keys`); err != nil {
		t.Fatal(err)
	}
	// Back: the revocation applies at once, the other key is re-checked.
	_, err = f.keys.Verify(ctx, text)
	wantCode(t, err, auditerr.ErrUnauthorized.Code)
	f.mustVerify(t, other)
	// The return is said once re-checks have succeeded for a Recheck
	// interval: a database stopping or starting answers on some sessions
	// and fails on others for a moment, and that is one outage.
	if n := logs.count("re-checked again"); n != 0 {
		t.Errorf("the return was logged at its first re-check")
	}
	f.clock.advance(2500 * time.Millisecond)
	f.mustVerify(t, other)
	f.clock.advance(2500 * time.Millisecond)
	f.mustVerify(t, other)
	if n := logs.count("re-checked again"); n != 1 {
		t.Errorf("the return was logged %d times, want once", n)
	}
}

func TestConcurrentHashesAreBounded(t *testing.T) {
	ctx := context.Background()
	db := openDB(t)
	var running, peak atomic.Int64
	hash := func(secret, salt []byte, p Params, n uint32) []byte {
		cur := running.Add(1)
		for {
			old := peak.Load()
			if cur <= old || peak.CompareAndSwap(old, cur) {
				break
			}
		}
		time.Sleep(5 * time.Millisecond)
		defer running.Add(-1)
		return argon2ID(secret, salt, p, n)
	}
	k := New(table(db), Options{Hash: hash, MaxHashes: 2, Params: Params{Time: 1, Memory: 64, Threads: 1}})
	text, _, err := k.Create(ctx, Spec{EntityURI: "urn:a", Perms: PermRead})
	if err != nil {
		t.Fatal(err)
	}
	wrong := text[:len(text)-3] + "aaa"
	if wrong == text {
		wrong = text[:len(text)-3] + "bbb"
	}
	var wg sync.WaitGroup
	for range 12 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			k.Verify(ctx, wrong)
		}()
	}
	wg.Wait()
	if p := peak.Load(); p > 2 || p < 1 {
		t.Errorf("peak concurrent argon2id computations = %d, want 1..2", p)
	}
}

func TestConcurrentFirstUsesOfAKeyHashOnce(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	text, _ := f.create(t, Spec{EntityURI: "urn:svc:a", Perms: PermAuditWrite})
	// A fresh process: nothing cached, and hashing is slow enough that
	// every caller arrives while the first one is still hashing.
	var calls atomic.Int64
	slow := func(secret, salt []byte, p Params, keyLen uint32) []byte {
		calls.Add(1)
		time.Sleep(50 * time.Millisecond)
		return f.hash.hash(secret, salt, p, keyLen)
	}
	k := New(table(f.db), Options{Hash: slow, Params: Params{Time: 1, Memory: 64, Threads: 1}})
	var wg sync.WaitGroup
	for range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if p, err := k.Verify(ctx, text); err != nil || p.EntityURI != "urn:svc:a" {
				t.Errorf("verify: %+v, %v", p, err)
			}
		}()
	}
	wg.Wait()
	if got := calls.Load(); got != 1 {
		t.Errorf("32 concurrent first uses computed argon2id %d times, want 1", got)
	}
}

// table is the api_keys table of a SQLite database, as the store hands
// it out.
func table(db *sql.DB) KeyStore { return sqlquery.NewKeyTable(db, sqlquery.Question) }
