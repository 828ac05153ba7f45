-- 0001_init: the audit log, its Merkle tree, the log head, API keys and the
-- schema version, for PostgreSQL 14 or later.
--
-- Applied by migrations.Apply in one transaction together with its row in
-- schema_migrations, holding a transaction-scoped advisory lock so that
-- replicas starting together apply it once. Objects are created in the first
-- schema of the connection's search_path; trigger functions capture that
-- search_path (SET search_path FROM CURRENT), so they find their tables
-- whatever the search_path of the session that fires them.
--
-- The functions that run on every append also SET enable_seqscan = off and
-- plan_cache_mode = auto: their cached plans are made while the tables are
-- still empty, when a sequential scan looks cheapest, and would otherwise
-- keep scanning the whole log on every append until the next ANALYZE
-- (measured: one full scan of events per group commit). And jit = off: the
-- cost penalty of a forced sequential scan (log_head has no other path)
-- would otherwise make every call JIT-compile its queries (measured: 150 ms
-- a call).
--
-- Guarantees enforced by the database itself, whoever connects:
--   * events and tree_nodes are append-only: UPDATE, DELETE and TRUNCATE are
--     refused by triggers;
--   * events.seq is contiguous from 0: an INSERT must continue the log
--     exactly where it ends, and only together with the matching advance of
--     log_head, whose row lock serialises appenders across replicas;
--   * a tree node is stored only once every leaf it covers is.
-- A superuser or the tables' owner can still disable triggers; the Merkle
-- tree and the signed checkpoints are what make such edits evident.

-- schema_migrations records every migration applied to this schema. The
-- runner creates it before reading it, so the statement is idempotent.
CREATE TABLE IF NOT EXISTS schema_migrations (
    version    INTEGER PRIMARY KEY,
    name       TEXT NOT NULL,
    applied_at TEXT NOT NULL
);
COMMENT ON TABLE schema_migrations IS 'Every stigaudit migration applied to this schema; the highest version is the schema version, and a binary that knows fewer migrations refuses to run.';
COMMENT ON COLUMN schema_migrations.version IS 'The NNNN of migrations/postgres/NNNN_name.sql, from 1.';
COMMENT ON COLUMN schema_migrations.name IS 'The name part of the migration file name.';
COMMENT ON COLUMN schema_migrations.applied_at IS 'Wall clock of the commit, RFC 3339 UTC with microseconds.';

-- stigaudit_refuse refuses the statement that fired it: the append-only
-- guard of events, tree_nodes and log_head.
CREATE FUNCTION stigaudit_refuse() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'stigaudit: % on % refused: the audit log is append-only', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege';
END
$$;
COMMENT ON FUNCTION stigaudit_refuse() IS 'Trigger function: refuses UPDATE, DELETE and TRUNCATE of the append-only stigaudit tables.';

-- log_head is the one-row head of the log. Every append locks it (SELECT ...
-- FOR UPDATE) before choosing seqs, which serialises appenders on all
-- replicas in commit order, and advances it in the same transaction. It also
-- carries the compact range of the Merkle tree (the roots of the perfect
-- subtrees covering [0, size), left to right), so an appender never has to
-- reload the tree's right edge after another replica appended.
CREATE TABLE log_head (
    id            BOOLEAN PRIMARY KEY DEFAULT TRUE CHECK (id),
    size          BIGINT NOT NULL CHECK (size >= 0),
    compact_range BYTEA  NOT NULL CHECK (length(compact_range) = 32 * bit_count(size::bit(64)))
);
COMMENT ON TABLE log_head IS 'The single row every append locks FOR UPDATE and advances: the log''s size and the Merkle compact range at that size. Always equal to what events and tree_nodes hold once a transaction commits.';
COMMENT ON COLUMN log_head.id IS 'Always TRUE: the primary key admits exactly one row.';
COMMENT ON COLUMN log_head.size IS 'Number of events in the log, which is the next seq to assign; max(events.seq) + 1.';
COMMENT ON COLUMN log_head.compact_range IS 'Concatenated 32-byte hashes of the perfect subtrees covering leaves [0, size), largest (leftmost) first: one per set bit of size (RFC 6962 compact range).';

INSERT INTO log_head (id, size, compact_range) VALUES (TRUE, 0, ''::bytea);

-- log_durable tells readers how much of the log is durable. Appends commit
-- asynchronously while they hold the log_head lock (so that replicas do not
-- wait for each other's WAL flushes), then each writer commits, with the
-- session's synchronous_commit, an upsert of its own row here before it
-- acknowledges anything. That commit's WAL record follows the append's, so
-- once the row is visible every event below its size is flushed: readers
-- (hostfns.Query, Size, proofs, checkpoints) only ever serve seqs below
-- max(size), and never show an event that a crash of PostgreSQL could
-- take back.
CREATE TABLE log_durable (
    writer     TEXT PRIMARY KEY,
    size       BIGINT NOT NULL CHECK (size >= 0),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
COMMENT ON TABLE log_durable IS 'Durable-prefix watermarks, one row per writer (store instance, or ''tx'' for appends in callers'' transactions): every seq below max(size) is flushed to disk. Readers serve only that prefix.';
COMMENT ON COLUMN log_durable.writer IS 'Random id of a store instance, chosen at open; ''tx'' for AppendTx.';
COMMENT ON COLUMN log_durable.size IS 'Log size this writer has seen flushed: its last commit''s head size. Only grows for a given writer; rows below the maximum are redundant and pruned.';
COMMENT ON COLUMN log_durable.updated_at IS 'When the row was last advanced.';

INSERT INTO log_durable (writer, size) VALUES ('init', 0);

-- events is the audit log itself (docs/event-format.md): one row per event, in seq order.
-- Optional values are NULL, never '' (the CHECKs enforce it), so "" and
-- absent cannot both exist. ts uses the C collation so that comparisons are
-- byte order, which is time order for the fixed-width timestamps.
CREATE TABLE events (
    seq             BIGINT PRIMARY KEY CHECK (seq >= 0),
    id              TEXT COLLATE "C" NOT NULL UNIQUE,
    event_type      TEXT NOT NULL,
    ts              TEXT COLLATE "C" NOT NULL,
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
    leaf_hash       BYTEA NOT NULL CHECK (length(leaf_hash) = 32)
);
COMMENT ON TABLE events IS 'The audit log (docs/event-format.md): one row per event in seq order. Append-only (triggers refuse UPDATE, DELETE, TRUNCATE); seq is contiguous from 0 and advances together with log_head.';
COMMENT ON COLUMN events.seq IS 'Position in the log and Merkle leaf index; assigned by the store under the log_head lock, contiguous from 0, never reused.';
COMMENT ON COLUMN events.id IS 'UUID (v7 when generated); the idempotency key.';
COMMENT ON COLUMN events.event_type IS 'Catalogue name (docs/catalogue.md).';
COMMENT ON COLUMN events.ts IS 'Construction time, fixed-width RFC 3339 UTC with microseconds and Z; byte order is time order.';
COMMENT ON COLUMN events.hlc IS 'Emitter''s hybrid logical clock <wall_ms>.<counter>, or NULL.';
COMMENT ON COLUMN events.tenant_id IS 'Normalised tenant.';
COMMENT ON COLUMN events.entity_uri IS 'The acting principal.';
COMMENT ON COLUMN events.emitter IS 'Who submitted the record (the API key''s entity_uri on the server), or NULL.';
COMMENT ON COLUMN events.oidc_sub IS 'OIDC subject of the actor''s key, or NULL.';
COMMENT ON COLUMN events.fact_id IS 'Target id (fact, tombstone, token...), or NULL for non-fact events.';
COMMENT ON COLUMN events.source IS 'Free text; always present, possibly empty.';
COMMENT ON COLUMN events.attested_key_id IS 'Key id of a verified attestation, or NULL.';
COMMENT ON COLUMN events.scope IS 'Capability scope, or NULL.';
COMMENT ON COLUMN events.outcome IS 'success, failure or denied.';
COMMENT ON COLUMN events.detail IS 'Canonical (RFC 8785) JSON object as text, byte for byte as hashed, or NULL ({} is stored as NULL). Deliberately not jsonb, which would re-encode it.';
COMMENT ON COLUMN events.leaf_hash IS 'SHA-256(0x00 || canonical event): the RFC 6962 leaf hash.';

-- Read patterns (hostfns.Query), as on SQLite: every page is keyset-paged on
-- seq inside one tenant, optionally narrowed by one indexed column.
CREATE INDEX events_tenant_seq        ON events (tenant_id, seq);
CREATE INDEX events_tenant_type_seq   ON events (tenant_id, event_type, seq);
CREATE INDEX events_tenant_entity_seq ON events (tenant_id, entity_uri, seq);
CREATE INDEX events_tenant_fact_seq   ON events (tenant_id, fact_id, seq) WHERE fact_id IS NOT NULL;
CREATE INDEX events_tenant_ts         ON events (tenant_id, ts);
CREATE INDEX events_tenant_oidc_seq   ON events (tenant_id, oidc_sub, seq) WHERE oidc_sub IS NOT NULL;
CREATE INDEX events_tenant_outcome_seq ON events (tenant_id, outcome, seq) WHERE outcome <> 'success';
COMMENT ON INDEX events_tenant_seq IS 'A tenant''s log, either order.';
COMMENT ON INDEX events_tenant_type_seq IS 'Filter by event_type.';
COMMENT ON INDEX events_tenant_entity_seq IS 'A principal''s own trail (read permission).';
COMMENT ON INDEX events_tenant_fact_seq IS 'The trail of one target id.';
COMMENT ON INDEX events_tenant_ts IS 'since/until ranges.';
COMMENT ON INDEX events_tenant_oidc_seq IS 'A principal''s trail by OIDC subject.';
COMMENT ON INDEX events_tenant_outcome_seq IS 'Failures and denials, rare and sought after; partial, so successes cost nothing to index. The store adds outcome <> ''success'' to such filters so the planner can use it.';

CREATE TRIGGER events_append_only BEFORE UPDATE OR DELETE ON events
    FOR EACH STATEMENT EXECUTE FUNCTION stigaudit_refuse();
CREATE TRIGGER events_no_truncate BEFORE TRUNCATE ON events
    FOR EACH STATEMENT EXECUTE FUNCTION stigaudit_refuse();

-- stigaudit_events_continue checks, once per INSERT statement, that the new
-- rows are contiguous, continue the log exactly where it ended, and end
-- where log_head (advanced earlier in the same transaction) says the log
-- ends. Statement-level with a transition table: one check per group
-- commit, not one per row.
CREATE FUNCTION stigaudit_events_continue() RETURNS trigger
LANGUAGE plpgsql SET search_path FROM CURRENT SET enable_seqscan = off SET jit = off SET plan_cache_mode = auto AS $$
DECLARE
    lo   BIGINT;
    hi   BIGINT;
    n    BIGINT;
    prev BIGINT;
    head BIGINT;
BEGIN
    -- One query (each costs a round through SPI): the new rows' range, where
    -- the log ended before them, and where the head says it ends now.
    SELECT a.lo, a.hi, a.n,
           (SELECT max(e.seq) FROM events e WHERE e.seq < a.lo),
           (SELECT h.size FROM log_head h)
      INTO lo, hi, n, prev, head
      FROM (SELECT min(seq) AS lo, max(seq) AS hi, count(*) AS n FROM added) a;
    IF n = 0 THEN
        RETURN NULL;
    END IF;
    IF hi - lo + 1 <> n THEN
        RAISE EXCEPTION 'stigaudit: inserted seqs % to % are not contiguous', lo, hi
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    IF COALESCE(prev, -1) <> lo - 1 THEN
        RAISE EXCEPTION 'stigaudit: inserted seq % does not continue the log, which ends at %', lo, COALESCE(prev, -1) + 1
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    IF head IS DISTINCT FROM hi + 1 THEN
        RAISE EXCEPTION 'stigaudit: events end at % but log_head.size is %; append through the store, which advances log_head first', hi + 1, head
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN NULL;
END
$$;
COMMENT ON FUNCTION stigaudit_events_continue() IS 'Trigger function: an INSERT into events must continue the log contiguously and match log_head.size.';

CREATE TRIGGER events_continue AFTER INSERT ON events
    REFERENCING NEW TABLE AS added
    FOR EACH STATEMENT EXECUTE FUNCTION stigaudit_events_continue();

-- tree_nodes holds every perfect RFC 6962 subtree hash above the leaves: the
-- node (level, idx) covers leaves [idx * 2^level, (idx + 1) * 2^level). The
-- leaves themselves (level 0) are events.leaf_hash. A node is written in the
-- transaction that appends its last leaf, so any inclusion or consistency
-- proof is O(log n) point reads.
CREATE TABLE tree_nodes (
    level INTEGER NOT NULL CHECK (level >= 1 AND level < 63),
    idx   BIGINT  NOT NULL CHECK (idx >= 0),
    hash  BYTEA   NOT NULL CHECK (length(hash) = 32),
    PRIMARY KEY (level, idx)
);
COMMENT ON TABLE tree_nodes IS 'Every complete RFC 6962 Merkle subtree hash above the leaves, written with the append that completes it. Append-only.';
COMMENT ON COLUMN tree_nodes.level IS 'Height above the leaves, from 1 (level 0 is events.leaf_hash).';
COMMENT ON COLUMN tree_nodes.idx IS 'Position within the level, from 0: the node covers leaves [idx * 2^level, (idx + 1) * 2^level).';
COMMENT ON COLUMN tree_nodes.hash IS 'SHA-256(0x01 || left || right).';

CREATE TRIGGER tree_nodes_append_only BEFORE UPDATE OR DELETE ON tree_nodes
    FOR EACH STATEMENT EXECUTE FUNCTION stigaudit_refuse();
CREATE TRIGGER tree_nodes_no_truncate BEFORE TRUNCATE ON tree_nodes
    FOR EACH STATEMENT EXECUTE FUNCTION stigaudit_refuse();

-- stigaudit_tree_nodes_complete refuses a node covering leaves beyond the
-- log's end (log_head.size, which events_continue ties to the events).
CREATE FUNCTION stigaudit_tree_nodes_complete() RETURNS trigger
LANGUAGE plpgsql SET search_path FROM CURRENT SET enable_seqscan = off SET jit = off SET plan_cache_mode = auto AS $$
DECLARE
    bad RECORD;
BEGIN
    SELECT a.level, a.idx INTO bad FROM added a
        WHERE ((a.idx + 1) << a.level) > (SELECT size FROM log_head) LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'stigaudit: tree node (%, %) covers leaves that are not stored', bad.level, bad.idx
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN NULL;
END
$$;
COMMENT ON FUNCTION stigaudit_tree_nodes_complete() IS 'Trigger function: a tree node may be stored only once all the leaves it covers are.';

CREATE TRIGGER tree_nodes_complete AFTER INSERT ON tree_nodes
    REFERENCING NEW TABLE AS added
    FOR EACH STATEMENT EXECUTE FUNCTION stigaudit_tree_nodes_complete();

-- log_head may only move forward, is never deleted, and at commit matches
-- the events table (a deferred check, so the store can advance the head
-- before inserting the events it covers).
CREATE TRIGGER log_head_no_delete BEFORE DELETE ON log_head
    FOR EACH STATEMENT EXECUTE FUNCTION stigaudit_refuse();
CREATE TRIGGER log_head_no_truncate BEFORE TRUNCATE ON log_head
    FOR EACH STATEMENT EXECUTE FUNCTION stigaudit_refuse();

CREATE FUNCTION stigaudit_log_head_forward() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.size < OLD.size OR NEW.id IS DISTINCT FROM OLD.id THEN
        RAISE EXCEPTION 'stigaudit: log_head cannot move back (size % to %)', OLD.size, NEW.size
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NEW;
END
$$;
COMMENT ON FUNCTION stigaudit_log_head_forward() IS 'Trigger function: log_head.size never decreases.';

CREATE TRIGGER log_head_forward BEFORE UPDATE ON log_head
    FOR EACH ROW EXECUTE FUNCTION stigaudit_log_head_forward();

CREATE FUNCTION stigaudit_log_head_matches() RETURNS trigger
LANGUAGE plpgsql SET search_path FROM CURRENT SET enable_seqscan = off SET jit = off SET plan_cache_mode = auto AS $$
DECLARE
    head BIGINT;
    stored BIGINT;
BEGIN
    -- Read the row as it is now, not NEW: the head may have advanced more
    -- than once in this transaction.
    SELECT h.size, (SELECT COALESCE(max(e.seq), -1) + 1 FROM events e) INTO head, stored FROM log_head h;
    IF head <> stored THEN
        RAISE EXCEPTION 'stigaudit: log_head.size is % but the events end at %', head, stored
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN NULL;
END
$$;
COMMENT ON FUNCTION stigaudit_log_head_matches() IS 'Deferred trigger function: at commit, log_head.size equals max(events.seq) + 1.';

CREATE CONSTRAINT TRIGGER log_head_matches AFTER UPDATE ON log_head
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION stigaudit_log_head_matches();

-- stigaudit_append appends new events in one call, holding the log_head
-- lock only while it runs: the store's fast path, one round trip per group
-- commit. It numbers the events from log_head.size, computes the RFC 6962
-- nodes they complete from the head's compact range (SHA-256(0x01 || left ||
-- right), as the store does in Go), advances the head, and inserts the
-- events and the nodes. If any id is already stored it changes nothing and
-- returns -1: the store then decides each request against the stored
-- events (idempotent re-sends, id conflicts) on its slower path. Otherwise
-- it returns the first seq. The arrays are parallel, one element per event;
-- optional values are NULL.
CREATE FUNCTION stigaudit_append(
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
    IF EXISTS (SELECT 1 FROM events e WHERE e.id = ANY(p_ids)) THEN
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
COMMENT ON FUNCTION stigaudit_append(TEXT[], TEXT[], TEXT[], TEXT[], TEXT[], TEXT[], TEXT[], TEXT[], TEXT[], TEXT[], TEXT[], TEXT[], TEXT[], TEXT[], BYTEA[]) IS 'Appends new events (none of whose ids is stored) under the log_head lock in one call and returns the first seq, or -1 without changing anything if an id is already stored.';

-- api_keys are the server's API keys (docs/api.md#keys). Keys are shown once and
-- stored only as argon2id hashes. An ordinary table: keys are revoked by
-- setting revoked_at, never deleted, but the table is not append-only.
CREATE TABLE api_keys (
    key_id     TEXT PRIMARY KEY,
    tenant_id  TEXT NOT NULL,
    entity_uri TEXT NOT NULL,
    oidc_sub   TEXT,
    perms      TEXT NOT NULL,
    hash       TEXT NOT NULL,
    label      TEXT,
    created_at TEXT NOT NULL,
    revoked_at TEXT
);
CREATE INDEX api_keys_tenant ON api_keys (tenant_id);
COMMENT ON TABLE api_keys IS 'API keys of the reference server (docs/api.md#keys), stored only as argon2id hashes; revoked by setting revoked_at, never deleted.';
COMMENT ON COLUMN api_keys.key_id IS 'Public identifier of the key (the part of the key that names it).';
COMMENT ON COLUMN api_keys.tenant_id IS 'The one tenant the key acts for.';
COMMENT ON COLUMN api_keys.entity_uri IS 'The principal the key belongs to (becomes the emitter of events it writes).';
COMMENT ON COLUMN api_keys.oidc_sub IS 'OIDC subject bound to the key, or NULL.';
COMMENT ON COLUMN api_keys.perms IS 'Comma-separated permissions: audit.write, read, audit.read, admin.';
COMMENT ON COLUMN api_keys.hash IS 'argon2id PHC string of the secret ($argon2id$v=19$m=...,t=...,p=...$salt$hash).';
COMMENT ON COLUMN api_keys.label IS 'Operator''s note, or NULL.';
COMMENT ON COLUMN api_keys.created_at IS 'Creation time, RFC 3339 UTC.';
COMMENT ON COLUMN api_keys.revoked_at IS 'Revocation time, RFC 3339 UTC, or NULL while the key is valid.';
COMMENT ON INDEX api_keys_tenant IS 'Keys listed per tenant.';
