-- 0002_checkpoints: every signed checkpoint of the log (docs/tamper-evidence.md#checkpoints), as in
-- migrations/sqlite/0002_checkpoints.sql.
--
-- The checkpointer (server/tlog) signs a C2SP tlog-checkpoint at most once a
-- second while the log grows and keeps each one here, so that a restarted
-- server knows the last tree head it promised (and never signs a fork of
-- it), verifiers have a checkpoint to check against, and consistency proofs
-- can be served between any two signed sizes. With several replicas one of
-- them, the leader, stores checkpoints; the others read them from here.

-- checkpoints holds one row per signed checkpoint, by tree size. It is
-- append-only: triggers refuse UPDATE, DELETE and TRUNCATE, and an INSERT
-- that does not grow the signed size or covers events not stored.
CREATE TABLE checkpoints (
    tree_size  BIGINT PRIMARY KEY CHECK (tree_size >= 0),
    root       BYTEA NOT NULL CHECK (length(root) = 32),
    note       TEXT NOT NULL CHECK (note <> ''),
    created_at TEXT NOT NULL
);
COMMENT ON TABLE checkpoints IS 'Every signed checkpoint of the log, by tree size. Append-only; each one covers more events than the last.';
COMMENT ON COLUMN checkpoints.tree_size IS 'Number of events the checkpoint covers (seqs 0 .. tree_size-1); the C2SP size line.';
COMMENT ON COLUMN checkpoints.root IS 'RFC 6962 Merkle root of those events; the C2SP root line, decoded.';
COMMENT ON COLUMN checkpoints.note IS 'The whole signed note (origin, size, base64 root, blank line, Ed25519 signature lines), as served by GET /v1/audit/checkpoint.';
COMMENT ON COLUMN checkpoints.created_at IS 'Wall clock when it was signed, RFC 3339 UTC with microseconds.';

CREATE TRIGGER checkpoints_append_only BEFORE UPDATE OR DELETE ON checkpoints
    FOR EACH STATEMENT EXECUTE FUNCTION stigaudit_refuse();
CREATE TRIGGER checkpoints_no_truncate BEFORE TRUNCATE ON checkpoints
    FOR EACH STATEMENT EXECUTE FUNCTION stigaudit_refuse();

-- stigaudit_checkpoints_grow serialises inserts (a transaction-scoped
-- advisory lock, so two signers cannot both pass the check on the same
-- snapshot) and refuses a checkpoint that does not cover more events than
-- every stored one, or covers events that are not stored.
CREATE FUNCTION stigaudit_checkpoints_grow() RETURNS trigger
LANGUAGE plpgsql SET search_path FROM CURRENT SET enable_seqscan = off SET jit = off SET plan_cache_mode = auto AS $$
BEGIN
    PERFORM pg_advisory_xact_lock(hashtextextended(TG_TABLE_SCHEMA || '/stigaudit/checkpoints', 0));
    IF NEW.tree_size <= (SELECT COALESCE(max(tree_size), -1) FROM checkpoints) THEN
        RAISE EXCEPTION 'stigaudit: a checkpoint must cover more events than the last one (size %)', NEW.tree_size
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    IF NEW.tree_size > (SELECT size FROM log_head) THEN
        RAISE EXCEPTION 'stigaudit: a checkpoint cannot cover events that are not stored (size %)', NEW.tree_size
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN NEW;
END
$$;
COMMENT ON FUNCTION stigaudit_checkpoints_grow() IS 'Trigger function: checkpoints are inserted one at a time, each covering more events than the last and no more than are stored.';

CREATE TRIGGER checkpoints_grow BEFORE INSERT ON checkpoints
    FOR EACH ROW EXECUTE FUNCTION stigaudit_checkpoints_grow();
