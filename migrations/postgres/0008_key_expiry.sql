-- 0008_key_expiry: API keys may expire (docs/api.md#keys, `stigaudit keys create
-- --expires 90d`). NULL keeps the old behaviour: the key is valid until it
-- is revoked. An expired key is refused with 401 key_expired.
ALTER TABLE api_keys ADD COLUMN expires_at TEXT;
COMMENT ON COLUMN api_keys.expires_at IS 'Expiry time, RFC 3339 UTC, or NULL for a key that never expires.';
