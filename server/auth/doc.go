// Package auth implements the API keys and permissions of the reference
// server (docs/api.md#permissions).
//
// # Keys
//
// An API key is shown once, when it is created, and looks like
//
//	sa_<key_id>_<secret>
//
// where key_id (80 random bits) is public — it names the key in listings, in
// logs and in the database — and secret (256 random bits) is not. Both are
// lower-case base32 without padding, so a key survives copy-paste, shells and
// URLs. The database keeps only an argon2id hash of the secret, as a PHC
// string that records its own parameters ($argon2id$v=19$m=..,t=..,p=..$salt$hash),
// so the cost can be raised later without invalidating old keys.
//
// # Verification cost
//
// argon2id is deliberately slow; paying it on every request would cap the
// server at a few dozen requests per second per core. Keys therefore caches
// successful verifications, keyed by the SHA-256 of the presented key text
// (never the text itself), in a bounded map. A cached key is re-checked
// against the database (a cheap primary-key lookup of revoked_at) at most
// every Options.Recheck, so a revocation made by another process — the
// `stigaudit keys revoke` CLI — takes effect within that interval; a
// revocation made through this Keys value drops the entry at once.
// Failed verifications are not cached. When a re-check cannot reach the
// database, a key checked less than Options.Grace (60 s) ago stays valid
// and a revocation takes effect once the database answers again; any other
// key is refused with ErrKeyRecheckUnavailable (HTTP 503).
//
// # Abuse
//
// Key ids are public, so anyone can make the server hash. Verifications
// that miss the cache are therefore limited (Limits, limit.go): after 5
// failures naming one key id, or 20 from one source address (WithSource,
// Source), within 10 s, further attempts are refused at once with a *Retry
// wrapping ErrRateLimited (HTTP 429), without a lookup or a hash, for a
// backoff that doubles on each further block. An attempt that waits more
// than a second for one of the Options.MaxHashes hashing slots is refused
// the same way. Unknown ids and revoked keys pay one argon2id hash too (a
// dummy one), so an answer's timing does not tell whether an id exists.
// Every failure that names a stored key id is counted in
// stigaudit_auth_failures_total{key_id}.
//
// # Expiry and long requests
//
// A key may expire (Spec.ExpiresAt); an expired key is ErrKeyExpired,
// answered only to a caller that presented its secret. Long requests (a
// live stream, an export) run under WatchContext, whose context ends with
// ErrKeyRevoked or ErrKeyExpired as its cause when the key is revoked (at
// once here, within Options.WatchEvery from another process) or expires.
//
// # Permissions
//
// A key carries a set of permissions:
//
//   - audit.write: emit events, in the key's own tenant.
//   - read: read the events whose entity_uri is the key's own, and the
//     checkpoint and proofs.
//   - audit.read: read every event of the key's tenant (implies read).
//   - admin: everything, in every tenant, plus key management.
//
// Every failure to authenticate — no key, a malformed key, an unknown,
// revoked or wrong key — is an error wrapping auditerr.ErrUnauthorized, with
// no hint of which it was; only an expired key with the right secret is
// told so (ErrKeyExpired).
package auth
