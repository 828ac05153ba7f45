-- 0005_scope_attested_indexes: keep pages filtered by capability scope or
-- by attestation O(page).
--
-- Measured on a 1,000,000-event log where one event in twenty carries a
-- scope and one in ten an attestation (hostfns/sqlitestore BenchmarkQuery):
-- a page of 100 read some 2,000 (scope) or 1,000 (attested=true) rows of
-- the tenant's log through events_tenant_seq; the scope page took 4.4 ms
-- on average and 7.1 ms at p99, over the 5 ms budget of a filtered page,
-- and the attested page 3.8 ms at p99. Partial, like the OIDC subject and
-- fact indexes: only events that carry a scope or an attestation pay for
-- them on append. A query's "scope = ?" implies the first index's WHERE
-- clause; the store's attested=true term repeats the second's word for
-- word.
CREATE INDEX events_tenant_scope_seq    ON events (tenant_id, scope, seq) WHERE scope IS NOT NULL;
CREATE INDEX events_tenant_attested_seq ON events (tenant_id, seq)        WHERE attested_key_id IS NOT NULL;
