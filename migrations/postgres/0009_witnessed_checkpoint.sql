-- 0009_witnessed_checkpoint: the newest checkpoint whose cosignatures meet
-- the witness policy (docs/tamper-evidence.md#witnesses), with them.
--
-- Only the replica elected to sign talks to the witnesses; it stores here
-- each checkpoint that reaches the quorum, and the other replicas serve it
-- from here (after checking the quorum themselves). One row; it only moves
-- to larger trees.

CREATE TABLE witnessed_checkpoint (
    id         SMALLINT PRIMARY KEY CHECK (id = 1),
    tree_size  BIGINT NOT NULL CHECK (tree_size >= 0),
    note       TEXT NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
COMMENT ON TABLE witnessed_checkpoint IS 'The newest witnessed checkpoint, stored by the elected signer and served by every replica.';
COMMENT ON COLUMN witnessed_checkpoint.note IS 'The signed note with every cosignature line, as GET /v1/audit/checkpoint serves it.';
