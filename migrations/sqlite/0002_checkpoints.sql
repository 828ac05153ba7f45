-- 0002_checkpoints: every signed checkpoint of the log (docs/tamper-evidence.md#checkpoints).
--
-- The checkpointer (server/tlog) signs a C2SP tlog-checkpoint at most once a
-- second while the log grows and keeps each one here, so that a restarted
-- server knows the last tree head it promised (and never signs a fork of
-- it), `stigaudit verify --db` has a checkpoint to verify against, and
-- consistency proofs can be served between any two signed sizes.

-- checkpoints holds one row per signed checkpoint, by tree size. It is
-- append-only: the triggers below refuse UPDATE and DELETE, and refuse an
-- INSERT that does not grow the signed size (which also stops INSERT OR
-- REPLACE from swapping a stored checkpoint out).
CREATE TABLE checkpoints (
    tree_size  INTEGER PRIMARY KEY CHECK (tree_size >= 0),        -- number of events the checkpoint covers (seqs 0 .. tree_size-1); the C2SP size line
    root       BLOB NOT NULL CHECK (length(root) = 32),           -- RFC 6962 Merkle root of those events; the C2SP root line, decoded
    note       TEXT NOT NULL CHECK (note <> ''),                  -- the whole signed note (origin, size, base64 root, blank line, Ed25519 signature lines), as served by GET /v1/audit/checkpoint
    created_at TEXT NOT NULL                                      -- wall clock when it was signed, RFC 3339 UTC with microseconds
) STRICT;

CREATE TRIGGER checkpoints_no_update BEFORE UPDATE ON checkpoints
BEGIN
    SELECT RAISE(ABORT, 'stigaudit: checkpoints are append-only');
END;

CREATE TRIGGER checkpoints_no_delete BEFORE DELETE ON checkpoints
BEGIN
    SELECT RAISE(ABORT, 'stigaudit: checkpoints are append-only');
END;

-- A new checkpoint must cover more events than every stored one: the signed
-- size only grows, and a stored checkpoint is never replaced.
CREATE TRIGGER checkpoints_grow BEFORE INSERT ON checkpoints
WHEN NEW.tree_size <= (SELECT COALESCE(MAX(tree_size), -1) FROM checkpoints)
BEGIN
    SELECT RAISE(ABORT, 'stigaudit: a checkpoint must cover more events than the last one');
END;

-- A checkpoint cannot cover events that are not stored.
CREATE TRIGGER checkpoints_stored BEFORE INSERT ON checkpoints
WHEN NEW.tree_size > (SELECT COALESCE(MAX(seq), -1) + 1 FROM events)
BEGIN
    SELECT RAISE(ABORT, 'stigaudit: a checkpoint cannot cover events that are not stored');
END;
