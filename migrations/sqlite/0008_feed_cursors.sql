-- 0008_feed_cursors: where each sink has got to in the log (docs/operations.md#sinks,
-- "Sinks lose nothing").
--
-- A sink (server/sink) delivers the log at least once, in seq order, from a
-- durable cursor: the first seq it has not delivered yet. Its worker saves
-- the cursor here (every 200 ms while it moves, and when it stops), and
-- after a restart or a kill -9 resumes from it, reading what it lacks back
-- from the events table: while a sink is down, the log is its buffer.
--
-- The table has the name, columns and forward-only rule of PostgreSQL's
-- feed_cursors (postgres/0004), so that both stores keep sink positions the
-- same way. Rows are named 'sink/' and the sink's name (e.g.
-- 'sink/file:/var/log/audit.jsonl').

CREATE TABLE feed_cursors (
    name       TEXT PRIMARY KEY CHECK (name <> ''),   -- the cursor's name: 'sink/' and the sink's name
    next_seq   INTEGER NOT NULL CHECK (next_seq >= 0), -- every event below this seq has been delivered; delivery resumes here
    updated_at TEXT NOT NULL                          -- wall clock of the last move, RFC 3339 UTC
) STRICT, WITHOUT ROWID;

-- A cursor only moves forward, so a worker that stopped late cannot take
-- it back (the store's SaveCursor never asks it to).
CREATE TRIGGER feed_cursors_forward BEFORE UPDATE ON feed_cursors
WHEN NEW.next_seq < OLD.next_seq OR NEW.name IS NOT OLD.name
BEGIN
    SELECT RAISE(ABORT, 'stigaudit: a feed cursor cannot move back');
END;
