-- 0006_scope_attested_indexes: keep pages filtered by capability scope or
-- by attestation O(page), as SQLite's 0005 does (such a page otherwise
-- reads every event of the tenant back to the 100th match). Partial: only
-- events that carry a scope or an attestation pay for them on append.
CREATE INDEX events_tenant_scope_seq    ON events (tenant_id, scope, seq) WHERE scope IS NOT NULL;
CREATE INDEX events_tenant_attested_seq ON events (tenant_id, seq)        WHERE attested_key_id IS NOT NULL;
