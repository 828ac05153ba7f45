package redact_test

import (
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stigaudit/stigaudit/core/auditerr"
	"github.com/stigaudit/stigaudit/core/event"
	"github.com/stigaudit/stigaudit/server/auth"
	"github.com/stigaudit/stigaudit/server/redact"
)

func testHasher(t testing.TB) *redact.Hasher {
	h, err := redact.NewHasher(bytes.Repeat([]byte{7}, redact.SaltSize))
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func TestSaltFile(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	if _, err := redact.LoadSalt(dir); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("LoadSalt of an empty directory: %v, want not exist", err)
	}
	h1, err := redact.LoadOrCreateSalt(dir, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(filepath.Join(dir, redact.SaltFile))
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Fatalf("salt mode %04o, want 0600", st.Mode().Perm())
	}
	h2, err := redact.LoadOrCreateSalt(dir, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	if h1.Hash([]byte("alice")) != h2.Hash([]byte("alice")) {
		t.Fatal("the salt changed between starts")
	}
	if other := testHasher(t); other.Hash([]byte("alice")) == h1.Hash([]byte("alice")) {
		t.Fatal("two salts give the same hash")
	}

	for _, tc := range []struct {
		name    string
		mode    os.FileMode
		content string
	}{
		{"group readable", 0o640, strings.Repeat("ab", redact.SaltSize)},
		{"world readable", 0o604, strings.Repeat("ab", redact.SaltSize)},
		{"short", 0o600, "abcd"},
		{"not hex", 0o600, strings.Repeat("zz", redact.SaltSize)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := t.TempDir()
			p := filepath.Join(d, redact.SaltFile)
			if err := os.WriteFile(p, []byte(tc.content), tc.mode); err != nil {
				t.Fatal(err)
			}
			os.Chmod(p, tc.mode)
			if _, err := redact.LoadOrCreateSalt(d, rand.Reader); !errors.Is(err, auditerr.ErrInvalidConfig) {
				t.Fatalf("got %v, want invalid_config", err)
			}
		})
	}
}

func TestHashIsHMAC(t *testing.T) {
	salt := bytes.Repeat([]byte{7}, redact.SaltSize)
	mac := hmac.New(sha256.New, salt)
	mac.Write([]byte("sub-42"))
	want := "hmac-sha256:" + hex.EncodeToString(mac.Sum(nil))
	if got := testHasher(t).Hash([]byte("sub-42")); got != want {
		t.Fatalf("Hash = %s, want %s", got, want)
	}
	if len(want) != redact.HashLen {
		t.Fatalf("HashLen %d, hash has %d", redact.HashLen, len(want))
	}
}

func TestParseProfile(t *testing.T) {
	for _, tc := range []struct {
		in, want string
		bad      bool
	}{
		{in: "", want: ""},
		{in: "oidc_sub", want: "oidc_sub"},
		{in: " oidc_sub , entity_uri,oidc_sub", want: "entity_uri,oidc_sub"},
		{in: "detail.key_id,detail.peer.addr", want: "detail.key_id,detail.peer.addr"},
		{in: redact.DefaultFields, want: "attested_key_id,emitter,entity_uri,oidc_sub"},
		{in: "seq", bad: true},
		{in: "id", bad: true},
		{in: "ts", bad: true},
		{in: "tenant_id", bad: true},
		{in: "event_type", bad: true},
		{in: "hlc", bad: true},
		{in: "leaf_hash", bad: true},
		{in: "detail", bad: true},
		{in: "detail.", bad: true},
		{in: "detail.a..b", bad: true},
		{in: "nope", bad: true},
	} {
		t.Run(tc.in, func(t *testing.T) {
			p, err := redact.ParseProfile(tc.in)
			if tc.bad {
				if !errors.Is(err, auditerr.ErrInvalidConfig) {
					t.Fatalf("got %v, want invalid_config", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if p.String() != tc.want {
				t.Fatalf("profile %q, want %q", p, tc.want)
			}
		})
	}
}

func TestApply(t *testing.T) {
	h := testHasher(t)
	hs := func(s string) string { return h.Hash([]byte(s)) }
	base := event.Event{
		Seq: 3, ID: "01900000-0000-7000-8000-000000000003", Type: "key_rotation", TS: "2026-05-03T12:00:00.000000Z",
		HLC: "1714737600000.1", Tenant: "acme", EntityURI: "urn:person:alice", Emitter: "urn:svc:gw", OIDCSub: "alice@example.com",
		FactID: "fact-9", Source: "console", AttestedKeyID: "kid-1", Scope: "facts:write", Outcome: "success",
		Detail: []byte(`{"key_id":"kid-secret","n":12,"nested":{"addr":"10.0.0.1","keep":"x"},"nil":null,"obj":{"a":[1,2]},"quo\"te":"q"}`),
	}
	for _, tc := range []struct {
		name    string
		profile string
		check   func(t *testing.T, e *event.Event)
	}{
		{"top level", "entity_uri,emitter,oidc_sub,fact_id,source,attested_key_id,scope", func(t *testing.T, e *event.Event) {
			for got, want := range map[string]string{
				e.EntityURI: hs("urn:person:alice"), e.Emitter: hs("urn:svc:gw"), e.OIDCSub: hs("alice@example.com"),
				e.FactID: hs("fact-9"), e.Source: hs("console"), e.AttestedKeyID: hs("kid-1"), e.Scope: hs("facts:write"),
			} {
				if got != want {
					t.Errorf("got %s, want %s", got, want)
				}
			}
			if e.ID != base.ID || e.TS != base.TS || e.HLC != base.HLC || e.Tenant != base.Tenant || e.Type != base.Type || e.LeafHash != base.LeafHash {
				t.Error("a structural field changed")
			}
			if !bytes.Equal(e.Detail, base.Detail) {
				t.Errorf("detail changed: %s", e.Detail)
			}
		}},
		{"detail paths", "detail.key_id,detail.nested.addr,detail.n,detail.obj,detail.nil,detail.missing.path,detail.quo\"te", func(t *testing.T, e *event.Event) {
			want := `{"key_id":"` + hs("kid-secret") + `","n":"` + hs("12") + `","nested":{"addr":"` + hs("10.0.0.1") +
				`","keep":"x"},"nil":null,"obj":"` + hs(`{"a":[1,2]}`) + `","quo\"te":"` + hs("q") + `"}`
			if string(e.Detail) != want {
				t.Errorf("detail\n%s\nwant\n%s", e.Detail, want)
			}
			if e.EntityURI != base.EntityURI {
				t.Error("entity_uri changed")
			}
		}},
		{"empty profile", "", func(t *testing.T, e *event.Event) {
			if e.EntityURI != base.EntityURI || !bytes.Equal(e.Detail, base.Detail) {
				t.Error("an empty profile changed the event")
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := redact.ParseProfile(tc.profile)
			if err != nil {
				t.Fatal(err)
			}
			r := h.NewRedactor(p)
			orig := append([]byte(nil), base.Detail...)
			e := base
			if err := r.Apply(&e); err != nil {
				t.Fatal(err)
			}
			tc.check(t, &e)
			if !bytes.Equal(base.Detail, orig) {
				t.Fatal("Apply wrote into the original detail")
			}
			// Still a valid event in both API and canonical form.
			if _, err := event.ParseEvent(event.AppendJSON(nil, &e)); err != nil {
				t.Fatalf("the redacted event does not parse: %v", err)
			}
		})
	}
}

// TestNoClearValue redacts many events and searches the output bytes for
// the clear values.
func TestNoClearValue(t *testing.T) {
	h := testHasher(t)
	p, err := redact.ParseProfile("oidc_sub,entity_uri,detail.key_id")
	if err != nil {
		t.Fatal(err)
	}
	r := h.NewRedactor(p)
	var out []byte
	for i := range 10000 {
		e := event.Event{
			Seq: int64(i), ID: "01900000-0000-7000-8000-000000000003", Type: "key_rotation", TS: "2026-05-03T12:00:00.000000Z",
			Tenant: "acme", EntityURI: "urn:person:alice", OIDCSub: "alice@example.com", Outcome: "success",
			Detail: []byte(`{"key_id":"kid-secret-` + string(rune('a'+i%26)) + `"}`),
		}
		if err := r.Apply(&e); err != nil {
			t.Fatal(err)
		}
		out = event.AppendJSON(out, &e)
	}
	for _, clear := range []string{"alice", "kid-secret"} {
		if bytes.Contains(out, []byte(clear)) {
			t.Fatalf("redacted output contains %q", clear)
		}
	}
	if n := bytes.Count(out, []byte(h.Hash([]byte("alice@example.com")))); n != 10000 {
		t.Fatalf("the hash of the oidc_sub is found %d times, want 10000", n)
	}
}

func TestPolicy(t *testing.T) {
	p, _ := redact.ParseProfile("oidc_sub,entity_uri")
	pol := redact.NewPolicy(testHasher(t), p, []string{"key-forced", "urn:auditor"})
	free := auth.Principal{KeyID: "key-free", EntityURI: "urn:ops", Perms: auth.PermAuditRead}
	byKey := auth.Principal{KeyID: "key-forced", EntityURI: "urn:ops", Perms: auth.PermAuditRead}
	byURI := auth.Principal{KeyID: "key-other", EntityURI: "urn:auditor", Perms: auth.PermAuditRead}
	for _, tc := range []struct {
		name   string
		p      auth.Principal
		query  string
		redact bool
		code   *auditerr.Error
	}{
		{"free, default", free, "", false, nil},
		{"free, hmac", free, "redact=hmac", true, nil},
		{"free, none", free, "redact=none", false, nil},
		{"free, bad", free, "redact=yes", false, auditerr.ErrInvalidParameter},
		{"free, repeated", free, "redact=hmac&redact=hmac", false, auditerr.ErrInvalidParameter},
		{"free filters on oidc_sub", free, "oidc_sub=x&redact=hmac", true, nil},
		{"forced by key id", byKey, "", true, nil},
		{"forced by entity", byURI, "", true, nil},
		{"forced asks none", byURI, "redact=none", false, auditerr.ErrForbidden},
		{"forced filters on a redacted field", byKey, "oidc_sub=alice", false, auditerr.ErrForbidden},
		{"forced filters on a clear field", byKey, "outcome=denied&source=x", true, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			vals, _ := url.ParseQuery(tc.query)
			r, err := pol.ForRequest(tc.p, vals)
			if tc.code != nil {
				if !errors.Is(err, tc.code) {
					t.Fatalf("got %v, want %s", err, tc.code.Code)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if (r != nil) != tc.redact {
				t.Fatalf("redactor %v, want redaction %v", r != nil, tc.redact)
			}
		})
	}
	var none *redact.Policy
	if _, err := none.ForRequest(free, url.Values{"redact": {"hmac"}}); !errors.Is(err, auditerr.ErrInvalidParameter) {
		t.Fatalf("redact=hmac without a policy: %v", err)
	}
	if r, err := none.ForRequest(free, url.Values{}); r != nil || err != nil {
		t.Fatalf("no policy: %v %v", r, err)
	}
}

func BenchmarkApply(b *testing.B) {
	h := testHasher(b)
	p, _ := redact.ParseProfile(redact.DefaultFields + ",detail.key_id")
	r := h.NewRedactor(p)
	base := event.Event{EntityURI: "urn:person:alice", OIDCSub: "alice@example.com", Detail: []byte(`{"key_id":"k","n":1}`)}
	b.ReportAllocs()
	for b.Loop() {
		e := base
		r.Apply(&e)
	}
}
