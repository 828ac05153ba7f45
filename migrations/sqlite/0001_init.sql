-- 0001_init: the audit log, its Merkle tree, API keys and the schema version.
--
-- Applied by migrations.Apply in one transaction together with its row in
-- schema_migrations. Tables are STRICT so a value of the wrong type is an
-- error, not a silent conversion.

-- schema_migrations records every migration applied to this database. The
-- runner creates it before reading it, so the statement is idempotent.
CREATE TABLE IF NOT EXISTS schema_migrations (
    version    INTEGER PRIMARY KEY, -- the NNNN of NNNN_name.sql, from 1
    name       TEXT NOT NULL,       -- the name part of the file name
    applied_at TEXT NOT NULL        -- wall clock of the commit, RFC 3339 UTC with microseconds
);

-- events is the audit log itself (docs/event-format.md): one row per event, in seq order.
-- It is append-only: the triggers below refuse UPDATE and DELETE, and refuse
-- an INSERT whose seq is not exactly the next one. Optional values are NULL,
-- never '' (the CHECKs enforce it), so "" and absent cannot both exist.
CREATE TABLE events (
    seq             INTEGER PRIMARY KEY CHECK (seq >= 0),        -- position in the log and Merkle leaf index; assigned explicitly by the store, contiguous from 0
    id              TEXT NOT NULL UNIQUE,                         -- UUID (v7 when generated); the idempotency key
    event_type      TEXT NOT NULL,                                -- catalogue name (docs/catalogue.md)
    ts              TEXT NOT NULL,                                -- construction time, fixed-width RFC 3339 UTC, microseconds, 'Z': byte order is time order
    hlc             TEXT CHECK (hlc <> ''),                       -- emitter's hybrid logical clock '<wall_ms>.<counter>', or NULL
    tenant_id       TEXT NOT NULL,                                -- normalised tenant
    entity_uri      TEXT NOT NULL,                                -- the acting principal
    emitter         TEXT CHECK (emitter <> ''),                   -- who submitted the record (the API key's entity_uri on the server), or NULL
    oidc_sub        TEXT CHECK (oidc_sub <> ''),                  -- OIDC subject of the actor's key, or NULL
    fact_id         TEXT CHECK (fact_id <> ''),                   -- target id (fact, tombstone, token...), or NULL for non-fact events
    source          TEXT NOT NULL DEFAULT '',                     -- free text; always present, possibly ''
    attested_key_id TEXT CHECK (attested_key_id <> ''),           -- key id of a verified attestation, or NULL
    scope           TEXT CHECK (scope <> ''),                     -- capability scope, or NULL
    outcome         TEXT NOT NULL CHECK (outcome IN ('success', 'failure', 'denied')), -- what happened
    detail          TEXT CHECK (detail <> '' AND detail <> '{}'), -- canonical (RFC 8785) JSON object, or NULL ('{}' is stored as NULL)
    leaf_hash       BLOB NOT NULL CHECK (length(leaf_hash) = 32)  -- SHA-256(0x00 || canonical event): the RFC 6962 leaf hash
) STRICT;

-- Read patterns (hostfns.Query): every page is keyset-paged on seq inside one
-- tenant, optionally narrowed by one indexed column.
CREATE INDEX events_tenant_seq        ON events (tenant_id, seq);                                       -- a tenant's log, either order
CREATE INDEX events_tenant_type_seq   ON events (tenant_id, event_type, seq);                           -- filter by event_type
CREATE INDEX events_tenant_entity_seq ON events (tenant_id, entity_uri, seq);                           -- a principal's own trail (read permission)
CREATE INDEX events_tenant_fact_seq   ON events (tenant_id, fact_id, seq) WHERE fact_id IS NOT NULL;    -- the trail of one target id
CREATE INDEX events_tenant_ts         ON events (tenant_id, ts);                                        -- since/until ranges

-- Append-only: the database itself refuses changes to stored events.
CREATE TRIGGER events_no_update BEFORE UPDATE ON events
BEGIN
    SELECT RAISE(ABORT, 'stigaudit: events are append-only');
END;

CREATE TRIGGER events_no_delete BEFORE DELETE ON events
BEGIN
    SELECT RAISE(ABORT, 'stigaudit: events are append-only');
END;

-- Contiguous seqs: an INSERT must take exactly the next seq (0 on an empty
-- table), so no writer, however buggy, can leave a gap or reuse a number.
CREATE TRIGGER events_seq_next BEFORE INSERT ON events
WHEN NEW.seq IS NOT (SELECT COALESCE(MAX(seq), -1) + 1 FROM events)
BEGIN
    SELECT RAISE(ABORT, 'stigaudit: events.seq must be max(seq)+1');
END;

-- INSERT OR REPLACE resolves a UNIQUE conflict by deleting the old row
-- without firing delete triggers (unless recursive_triggers is on, which a
-- connection chooses for itself), so a duplicate id is refused before the
-- conflict resolution can run.
CREATE TRIGGER events_id_once BEFORE INSERT ON events
WHEN EXISTS (SELECT 1 FROM events WHERE id = NEW.id)
BEGIN
    SELECT RAISE(ABORT, 'stigaudit: events are append-only (id already stored)');
END;

-- tree_nodes holds every perfect RFC 6962 subtree hash above the leaves: the
-- node (level, idx) covers leaves [idx * 2^level, (idx + 1) * 2^level). The
-- leaves themselves (level 0) are events.leaf_hash. A node is written in the
-- transaction that appends its last leaf, so any inclusion or consistency
-- proof is O(log n) point reads. Append-only like events.
CREATE TABLE tree_nodes (
    level INTEGER NOT NULL CHECK (level >= 1),                -- height above the leaves, from 1
    idx   INTEGER NOT NULL CHECK (idx >= 0),                  -- position within the level, from 0
    hash  BLOB    NOT NULL CHECK (length(hash) = 32),         -- SHA-256(0x01 || left || right)
    PRIMARY KEY (level, idx)
) STRICT, WITHOUT ROWID;

CREATE TRIGGER tree_nodes_no_update BEFORE UPDATE ON tree_nodes
BEGIN
    SELECT RAISE(ABORT, 'stigaudit: tree_nodes are append-only');
END;

CREATE TRIGGER tree_nodes_no_delete BEFORE DELETE ON tree_nodes
BEGIN
    SELECT RAISE(ABORT, 'stigaudit: tree_nodes are append-only');
END;

-- A node can only be stored once all the leaves it covers are.
CREATE TRIGGER tree_nodes_complete BEFORE INSERT ON tree_nodes
WHEN ((NEW.idx + 1) << NEW.level) > (SELECT COALESCE(MAX(seq), -1) + 1 FROM events)
BEGIN
    SELECT RAISE(ABORT, 'stigaudit: tree node covers leaves that are not stored');
END;

-- Refuse a second insert of a node before INSERT OR REPLACE could delete
-- the first (see events_id_once).
CREATE TRIGGER tree_nodes_once BEFORE INSERT ON tree_nodes
WHEN EXISTS (SELECT 1 FROM tree_nodes WHERE level = NEW.level AND idx = NEW.idx)
BEGIN
    SELECT RAISE(ABORT, 'stigaudit: tree_nodes are append-only (node already stored)');
END;

-- api_keys are the server's API keys (docs/api.md#keys). Keys are shown once and
-- stored only as argon2id hashes. An ordinary table: keys are revoked by
-- setting revoked_at, never deleted, but the table is not append-only.
CREATE TABLE api_keys (
    key_id     TEXT PRIMARY KEY, -- public identifier of the key (the part of the key that names it)
    tenant_id  TEXT NOT NULL,    -- the one tenant the key acts for
    entity_uri TEXT NOT NULL,    -- the principal the key belongs to (becomes the emitter of events it writes)
    oidc_sub   TEXT,             -- OIDC subject bound to the key, or NULL
    perms      TEXT NOT NULL,    -- comma-separated permissions: audit.write, read, audit.read, admin
    hash       TEXT NOT NULL,    -- argon2id PHC string of the secret ($argon2id$v=19$m=...,t=...,p=...$salt$hash)
    label      TEXT,             -- operator's note, or NULL
    created_at TEXT NOT NULL,    -- creation time, RFC 3339 UTC
    revoked_at TEXT              -- revocation time, RFC 3339 UTC, or NULL while the key is valid
);

CREATE INDEX api_keys_tenant ON api_keys (tenant_id); -- keys list per tenant
