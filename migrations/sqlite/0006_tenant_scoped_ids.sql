-- 0006_tenant_scoped_ids: event ids are unique per tenant, not across the
-- log (docs/event-format.md#ids, issue 13's M8).
--
-- With one id namespace a tenant's write-only key learned that another
-- tenant had stored an id (and its seq, from the 409), and could claim ids
-- that tenant's clients would derive. Idempotency and reads by id now work
-- on (tenant_id, id): the same id in two tenants is two unrelated events.
--
-- The column constraint UNIQUE on events.id cannot be dropped in SQLite, so
-- the table is rebuilt (https://sqlite.org/lang_altertable.html#otheralter):
-- a new table with UNIQUE (id, tenant_id) — id first, so lookups by id
-- alone still use the index — the rows copied in seq order, the old table
-- dropped and the new one renamed, then every index and trigger of events
-- created again exactly as migrations 0001, 0003, 0004 and 0005 left them
-- (the triggers of other tables that read events, such as
-- tree_nodes_complete, name the table and keep working). The rows are
-- copied before the insert triggers exist; they are the rows the old
-- triggers admitted. The whole migration is one transaction: a failure
-- leaves the old table as it was.
--
-- legacy_alter_table keeps the RENAME from rewriting, or refusing over,
-- the other tables' triggers that name events while it is dropped.
PRAGMA legacy_alter_table = ON;

CREATE TABLE events_rebuilt (
    seq             INTEGER PRIMARY KEY CHECK (seq >= 0),
    id              TEXT NOT NULL,                                -- UUID; unique per tenant (below): the idempotency key within the tenant
    event_type      TEXT NOT NULL,
    ts              TEXT NOT NULL,
    hlc             TEXT CHECK (hlc <> ''),
    tenant_id       TEXT NOT NULL,
    entity_uri      TEXT NOT NULL,
    emitter         TEXT CHECK (emitter <> ''),
    oidc_sub        TEXT CHECK (oidc_sub <> ''),
    fact_id         TEXT CHECK (fact_id <> ''),
    source          TEXT NOT NULL DEFAULT '',
    attested_key_id TEXT CHECK (attested_key_id <> ''),
    scope           TEXT CHECK (scope <> ''),
    outcome         TEXT NOT NULL CHECK (outcome IN ('success', 'failure', 'denied')),
    detail          TEXT CHECK (detail <> '' AND detail <> '{}'),
    leaf_hash       BLOB NOT NULL CHECK (length(leaf_hash) = 32),
    purged_at       TEXT CHECK (purged_at IS NULL OR purged_at <> ''),
    UNIQUE (id, tenant_id)                                        -- ids are scoped to the tenant (docs/event-format.md#ids)
) STRICT;

INSERT INTO events_rebuilt (seq, id, event_type, ts, hlc, tenant_id, entity_uri, emitter, oidc_sub, fact_id,
        source, attested_key_id, scope, outcome, detail, leaf_hash, purged_at)
    SELECT seq, id, event_type, ts, hlc, tenant_id, entity_uri, emitter, oidc_sub, fact_id,
        source, attested_key_id, scope, outcome, detail, leaf_hash, purged_at
    FROM events ORDER BY seq;

DROP TABLE events;
ALTER TABLE events_rebuilt RENAME TO events;

PRAGMA legacy_alter_table = OFF;

-- The indexes, as 0001, 0003 and 0005 made them (0003 dropped events_tenant_ts).
CREATE INDEX events_tenant_seq          ON events (tenant_id, seq);
CREATE INDEX events_tenant_type_seq     ON events (tenant_id, event_type, seq);
CREATE INDEX events_tenant_entity_seq   ON events (tenant_id, entity_uri, seq);
CREATE INDEX events_tenant_fact_seq     ON events (tenant_id, fact_id, seq) WHERE fact_id IS NOT NULL;
CREATE INDEX events_tenant_oidc_seq     ON events (tenant_id, oidc_sub, seq) WHERE oidc_sub IS NOT NULL;
CREATE INDEX events_tenant_outcome_seq  ON events (tenant_id, outcome, seq) WHERE outcome <> 'success';
CREATE INDEX events_tenant_scope_seq    ON events (tenant_id, scope, seq) WHERE scope IS NOT NULL;
CREATE INDEX events_tenant_attested_seq ON events (tenant_id, seq)        WHERE attested_key_id IS NOT NULL;

-- The triggers, as 0001 and 0004 made them; events_id_once now per tenant.
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

CREATE TRIGGER events_no_delete BEFORE DELETE ON events
BEGIN
    SELECT RAISE(ABORT, 'stigaudit: events are append-only');
END;

CREATE TRIGGER events_seq_next BEFORE INSERT ON events
WHEN NEW.seq IS NOT (SELECT COALESCE(MAX(seq), -1) + 1 FROM events)
BEGIN
    SELECT RAISE(ABORT, 'stigaudit: events.seq must be max(seq)+1');
END;

-- INSERT OR REPLACE would resolve a UNIQUE conflict by deleting the old row
-- without firing delete triggers: a stored (tenant, id) is refused first.
CREATE TRIGGER events_id_once BEFORE INSERT ON events
WHEN EXISTS (SELECT 1 FROM events WHERE id = NEW.id AND tenant_id = NEW.tenant_id)
BEGIN
    SELECT RAISE(ABORT, 'stigaudit: events are append-only (id already stored in this tenant)');
END;

CREATE TRIGGER events_insert_live BEFORE INSERT ON events
WHEN NEW.entity_uri = '' OR NEW.purged_at IS NOT NULL
BEGIN
    SELECT RAISE(ABORT, 'stigaudit: a new event needs an entity_uri and cannot be purged');
END;
