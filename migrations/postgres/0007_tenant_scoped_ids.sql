-- 0007_tenant_scoped_ids: event ids are unique per tenant, not across the
-- log (docs/event-format.md#ids, issue 13's M8).
--
-- With one id namespace a tenant's write-only key learned that another
-- tenant had stored an id (and its seq, from the 409), and could claim ids
-- that tenant's clients would derive. Idempotency and reads by id now work
-- on (tenant_id, id): the same id in two tenants is two unrelated events.
--
-- The unique constraint events_id_key becomes events_id_tenant_key on
-- (id, tenant_id): id first, so the stores' lookups of a batch's ids
-- (id = ANY($1)) still use the index, and the store tells a stored id from
-- other unique violations by this name. The append-only triggers are not
-- involved (they guard rows, not constraints). The index is built while
-- the migration holds its lock; on a large log this takes about as long as
-- an index build over the events table.
ALTER TABLE events DROP CONSTRAINT events_id_key;
ALTER TABLE events ADD CONSTRAINT events_id_tenant_key UNIQUE (id, tenant_id);

COMMENT ON COLUMN events.id IS 'UUID (v7 when generated); the idempotency key within its tenant: unique per (id, tenant_id).';
COMMENT ON CONSTRAINT events_id_tenant_key ON events IS 'Event ids are scoped to the tenant (docs/event-format.md#ids): idempotency and reads by id work on (tenant_id, id).';

-- stigaudit_append (the baseline path of 0001) returned -1 when an id was
-- stored in any tenant; it now asks about the same tenant only, so another
-- tenant's id no longer sends the call to the slow path. Otherwise unchanged.
CREATE OR REPLACE FUNCTION stigaudit_append(
    p_ids TEXT[], p_types TEXT[], p_ts TEXT[], p_hlc TEXT[], p_tenants TEXT[], p_entities TEXT[],
    p_emitters TEXT[], p_oidc_subs TEXT[], p_fact_ids TEXT[], p_sources TEXT[], p_attested TEXT[],
    p_scopes TEXT[], p_outcomes TEXT[], p_details TEXT[], p_leaves BYTEA[]) RETURNS BIGINT
LANGUAGE plpgsql SET search_path FROM CURRENT SET enable_seqscan = off SET jit = off SET plan_cache_mode = auto AS $$
DECLARE
    v_n      BIGINT := cardinality(p_ids);
    v_size   BIGINT;
    v_packed BYTEA;
    v_stack  BYTEA[] := '{}';
    v_levels INTEGER[] := '{}';
    v_idxs   BIGINT[] := '{}';
    v_hashes BYTEA[] := '{}';
    v_idx    BIGINT;
    v_level  INTEGER;
    v_hash   BYTEA;
BEGIN
    SELECT h.size, h.compact_range INTO v_size, v_packed FROM log_head h FOR UPDATE;
    IF v_n = 0 THEN
        RETURN v_size;
    END IF;
    IF EXISTS (SELECT 1 FROM events e JOIN unnest(p_ids, p_tenants) AS u(id, tenant)
               ON e.id = u.id AND e.tenant_id = u.tenant) THEN
        RETURN -1;
    END IF;
    FOR k IN 0 .. length(v_packed) / 32 - 1 LOOP
        v_stack := v_stack || substring(v_packed FROM k * 32 + 1 FOR 32);
    END LOOP;
    FOR i IN 1 .. v_n LOOP
        v_idx := v_size + i - 1;
        v_hash := p_leaves[i];
        v_level := 0;
        WHILE v_idx & 1 = 1 LOOP
            v_hash := sha256('\x01'::bytea || v_stack[cardinality(v_stack)] || v_hash);
            v_stack := v_stack[1:cardinality(v_stack) - 1];
            v_idx := v_idx >> 1;
            v_level := v_level + 1;
            v_levels := v_levels || v_level;
            v_idxs := v_idxs || v_idx;
            v_hashes := v_hashes || v_hash;
        END LOOP;
        v_stack := v_stack || v_hash;
    END LOOP;
    UPDATE log_head SET size = v_size + v_n,
        compact_range = COALESCE((SELECT string_agg(x, ''::bytea ORDER BY o) FROM unnest(v_stack) WITH ORDINALITY AS t(x, o)), ''::bytea);
    INSERT INTO events (seq, id, event_type, ts, hlc, tenant_id, entity_uri, emitter,
        oidc_sub, fact_id, source, attested_key_id, scope, outcome, detail, leaf_hash)
    SELECT v_size + u.o - 1, u.id, u.typ, u.ts, u.hlc, u.tenant, u.entity, u.emitter,
        u.oidc, u.fact, u.source, u.attested, u.scope, u.outcome, u.detail, u.leaf
    FROM unnest(p_ids, p_types, p_ts, p_hlc, p_tenants, p_entities, p_emitters, p_oidc_subs, p_fact_ids,
        p_sources, p_attested, p_scopes, p_outcomes, p_details, p_leaves)
        WITH ORDINALITY AS u(id, typ, ts, hlc, tenant, entity, emitter, oidc, fact, source, attested, scope, outcome, detail, leaf, o);
    IF cardinality(v_levels) > 0 THEN
        INSERT INTO tree_nodes (level, idx, hash) SELECT * FROM unnest(v_levels, v_idxs, v_hashes);
    END IF;
    RETURN v_size;
END
$$;
COMMENT ON FUNCTION stigaudit_append(TEXT[], TEXT[], TEXT[], TEXT[], TEXT[], TEXT[], TEXT[], TEXT[], TEXT[], TEXT[], TEXT[], TEXT[], TEXT[], TEXT[], BYTEA[]) IS 'Appends new events (none of whose (tenant, id) is stored) under the log_head lock in one call and returns the first seq, or -1 without changing anything if one is stored.';
COMMENT ON FUNCTION stigaudit_append_async(TEXT[], TEXT[], TEXT[], TEXT[], TEXT[], TEXT[], TEXT[], TEXT[], TEXT[], TEXT[], TEXT[], TEXT[], TEXT[], TEXT[], BYTEA[]) IS 'Group-commit append in one statement: commits asynchronously, locks log_head, numbers the new events, stores them and the Merkle nodes they complete, and returns the first seq. A (tenant, id) already stored fails it with a unique violation on events_id_tenant_key (nothing is changed).';
