-- 0004_retention: purge old events' content without losing provability.
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
-- The table stays append-only for everything else: the update trigger of
-- 0001 is replaced, under the same name, by one that allows exactly one
-- change to a row — the purge — and refuses any other UPDATE (and DELETE
-- stays refused).

-- purged_at marks a purged event: when its content was blanked, RFC 3339
-- UTC with microseconds (the events.ts format). NULL for every live event.
ALTER TABLE events ADD COLUMN purged_at TEXT CHECK (purged_at IS NULL OR purged_at <> '');

-- entity_uri '' is the purged marker in the content columns (entity_uri is
-- NOT NULL, and a live event always names its actor), so no new event may
-- carry it, nor arrive already purged.
CREATE TRIGGER events_insert_live BEFORE INSERT ON events
WHEN NEW.entity_uri = '' OR NEW.purged_at IS NOT NULL
BEGIN
    SELECT RAISE(ABORT, 'stigaudit: a new event needs an entity_uri and cannot be purged');
END;

-- The one permitted UPDATE: a live event becomes purged — purged_at is
-- set (after the event's own ts), the content columns are blanked (NULL,
-- or '' for the NOT NULL entity_uri and source), and seq, id, event_type,
-- ts, tenant_id, outcome and leaf_hash are unchanged. A purged event can
-- never change again.
DROP TRIGGER events_no_update;

CREATE TRIGGER events_no_update BEFORE UPDATE ON events
WHEN NOT (
        OLD.purged_at IS NULL AND NEW.purged_at IS NOT NULL AND NEW.purged_at > OLD.ts
    AND NEW.seq IS OLD.seq AND NEW.id IS OLD.id AND NEW.event_type IS OLD.event_type
    AND NEW.ts IS OLD.ts AND NEW.tenant_id IS OLD.tenant_id AND NEW.outcome IS OLD.outcome
    AND NEW.leaf_hash IS OLD.leaf_hash
    AND NEW.hlc IS NULL AND NEW.entity_uri = '' AND NEW.emitter IS NULL AND NEW.oidc_sub IS NULL
    AND NEW.fact_id IS NULL AND NEW.source = '' AND NEW.attested_key_id IS NULL AND NEW.scope IS NULL
    AND NEW.detail IS NULL
)
BEGIN
    SELECT RAISE(ABORT, 'stigaudit: events are append-only (a retention purge may only blank the content of a live event, once)');
END;
