-- 0004_feed_cursors: where each replica-independent feed of the log (the
-- sinks and the committed-events counter) has got to.
--
-- With several replicas on one log, only the replica elected for a feed
-- (pgstore.Feed, an advisory-lock Leader named feed/<name>) delivers the log
-- to that feed's downstream, in seq order. It saves here, every second and
-- when it resigns, the first seq it has not finished delivering; the replica
-- elected next resumes from that row, so a change of leader neither skips
-- events nor, after a graceful hand-over, repeats them.

CREATE TABLE feed_cursors (
    name       TEXT PRIMARY KEY,
    next_seq   BIGINT NOT NULL CHECK (next_seq >= 0),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
COMMENT ON TABLE feed_cursors IS 'One row per feed of the log (pgstore.Feed): the first seq its elected replica has not finished delivering downstream. Only moves forward.';
COMMENT ON COLUMN feed_cursors.name IS 'The feed''s name, e.g. ''sinks''.';
COMMENT ON COLUMN feed_cursors.next_seq IS 'Every event below this seq has been delivered to the feed''s downstream (written, or dropped and counted); the next leader starts here.';
COMMENT ON COLUMN feed_cursors.updated_at IS 'When the cursor last moved.';

CREATE FUNCTION stigaudit_feed_cursor_forward() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.next_seq < OLD.next_seq OR NEW.name IS DISTINCT FROM OLD.name THEN
        RAISE EXCEPTION 'stigaudit: feed cursor % cannot move back (% to %)', OLD.name, OLD.next_seq, NEW.next_seq
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NEW;
END
$$;
COMMENT ON FUNCTION stigaudit_feed_cursor_forward() IS 'Trigger function: a feed cursor never moves back.';

CREATE TRIGGER feed_cursors_forward BEFORE UPDATE ON feed_cursors
    FOR EACH ROW EXECUTE FUNCTION stigaudit_feed_cursor_forward();
