-- 0003_retention: purge old events' content without losing provability, as
-- migrations/sqlite/0004_retention.sql does on SQLite.
--
-- A retention policy (server/retention) blanks the content of events older
-- than the configured age. The row stays: its seq (the Merkle leaf index),
-- id (the idempotency key; a random UUID, not personal data), ts, tenant,
-- event_type, outcome and above all leaf_hash are kept, so the Merkle tree,
-- every checkpoint signed before or after, and every inclusion and
-- consistency proof stay valid; only the content that the leaf hash was
-- computed from is gone. Readers of a purged event get 410 Gone with its
-- leaf hash; verifiers take a purged row's stored leaf hash as given.
--
-- The table stays append-only for everything else: the statement-level
-- UPDATE OR DELETE trigger of 0001 is replaced by a DELETE trigger that
-- refuses every DELETE as before, a statement-level trigger that refuses
-- every UPDATE naming a kept column, and a row-level UPDATE trigger that
-- allows exactly one change to a row — the purge — and refuses any other.
-- Both guards fire from a WHEN condition evaluated by the executor, so the
-- appends, which never purge, never call into PL/pgSQL for them.

-- stigaudit_refuse_because refuses the statement that fired it with the
-- message given as the trigger's argument.
CREATE FUNCTION stigaudit_refuse_because() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'stigaudit: %', TG_ARGV[0]
        USING ERRCODE = 'insufficient_privilege';
END
$$;
COMMENT ON FUNCTION stigaudit_refuse_because() IS 'Trigger function: refuses the change that fired it, with the trigger''s argument as the message.';

-- purged_at marks a purged event: when its content was blanked, RFC 3339
-- UTC with microseconds (the events.ts format, and its C collation, so the
-- two compare as byte strings). NULL for every live event.
ALTER TABLE events ADD COLUMN purged_at TEXT COLLATE "C" CHECK (purged_at IS NULL OR purged_at <> '');
COMMENT ON COLUMN events.purged_at IS 'When a retention purge blanked the event''s content (RFC 3339 UTC with microseconds), or NULL for a live event. A purged event keeps seq, id, event_type, ts, tenant_id, outcome and leaf_hash; entity_uri and source are '''', the other content columns NULL.';

-- entity_uri '' is the purged marker in the content columns (entity_uri is
-- NOT NULL, and a live event always names its actor), so no new event may
-- carry it, nor arrive already purged.
CREATE TRIGGER events_insert_live BEFORE INSERT ON events
    FOR EACH ROW WHEN (NEW.entity_uri = '' OR NEW.purged_at IS NOT NULL)
    EXECUTE FUNCTION stigaudit_refuse_because('a new event needs an entity_uri and cannot be purged');

DROP TRIGGER events_append_only ON events;

CREATE TRIGGER events_no_delete BEFORE DELETE ON events
    FOR EACH STATEMENT EXECUTE FUNCTION stigaudit_refuse();

-- No UPDATE may name a column the purge keeps, whether or not it matches a
-- row (as 0001's statement-level trigger refused every UPDATE).
CREATE TRIGGER events_keep BEFORE UPDATE OF seq, id, event_type, ts, tenant_id, outcome, leaf_hash ON events
    FOR EACH STATEMENT EXECUTE FUNCTION stigaudit_refuse();

-- The one permitted UPDATE: a live event becomes purged — purged_at is
-- set (after the event's own ts), the content columns are blanked (NULL,
-- or '' for the NOT NULL entity_uri and source), and seq, id, event_type,
-- ts, tenant_id, outcome and leaf_hash are unchanged. A purged event can
-- never change again. COALESCE: a condition that is unknown (a NULL where
-- NOT NULL should hold) refuses too.
CREATE TRIGGER events_no_update BEFORE UPDATE ON events
    FOR EACH ROW WHEN (NOT COALESCE(
            OLD.purged_at IS NULL AND NEW.purged_at IS NOT NULL AND NEW.purged_at > OLD.ts
        AND NEW.seq IS NOT DISTINCT FROM OLD.seq AND NEW.id IS NOT DISTINCT FROM OLD.id
        AND NEW.event_type IS NOT DISTINCT FROM OLD.event_type AND NEW.ts IS NOT DISTINCT FROM OLD.ts
        AND NEW.tenant_id IS NOT DISTINCT FROM OLD.tenant_id AND NEW.outcome IS NOT DISTINCT FROM OLD.outcome
        AND NEW.leaf_hash IS NOT DISTINCT FROM OLD.leaf_hash
        AND NEW.hlc IS NULL AND NEW.entity_uri = '' AND NEW.emitter IS NULL AND NEW.oidc_sub IS NULL
        AND NEW.fact_id IS NULL AND NEW.source = '' AND NEW.attested_key_id IS NULL AND NEW.scope IS NULL
        AND NEW.detail IS NULL, FALSE))
    EXECUTE FUNCTION stigaudit_refuse_because('events are append-only (a retention purge may only blank the content of a live event, once)');
