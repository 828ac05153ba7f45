-- 0010_stats_minutes: counts of events per tenant, minute, event type and
-- outcome, for GET /v1/audit/stats (docs/decisions.md §34); SQLite's is
-- migrations/sqlite 0009.
--
-- An overview of a large log must not scan it. A statement-level trigger
-- on events adds the counts of every INSERT (the group commit's one
-- statement, the slow path's, stigaudit_append's and a caller's own
-- transaction alike) in the same transaction, so the rollup always agrees
-- with the events: the appends of all replicas are serialised by the
-- log_head lock, and so are their upserts. Retention blanks events'
-- content, never their type, outcome, ts or tenant, and never touches
-- this table: the counts of purged events stay. It keeps no entity_uri,
-- which a purge removes; counts per entity are read from the events
-- table through the (tenant_id, ts) index.
--
-- The rows are rebuilt from the events below, so a log written before
-- this migration gets its counts when `stigaudit migrate` (or any start)
-- applies it.
CREATE TABLE stats_minutes (
    tenant_id  TEXT   NOT NULL,
    minute     TEXT   NOT NULL CHECK (length(minute) = 16),
    event_type TEXT   NOT NULL,
    outcome    TEXT   NOT NULL,
    n          BIGINT NOT NULL CHECK (n > 0),
    PRIMARY KEY (tenant_id, minute, event_type, outcome)
);
COMMENT ON TABLE stats_minutes IS 'How many events each tenant appended per minute of their ts, event type and outcome; written by the events insert trigger in the append transaction. Counts only grow; retention does not touch them.';
COMMENT ON COLUMN stats_minutes.minute IS 'The first 16 characters of events.ts: YYYY-MM-DDTHH:MM (UTC).';
COMMENT ON COLUMN stats_minutes.n IS 'How many events have these values.';

INSERT INTO stats_minutes (tenant_id, minute, event_type, outcome, n)
    SELECT tenant_id, substr(ts, 1, 16), event_type, outcome, count(*)
    FROM events GROUP BY 1, 2, 3, 4;

-- stigaudit_count_events adds the rows an INSERT into events added.
CREATE FUNCTION stigaudit_count_events() RETURNS trigger
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
BEGIN
    INSERT INTO stats_minutes AS s (tenant_id, minute, event_type, outcome, n)
        SELECT tenant_id, substr(ts, 1, 16), event_type, outcome, count(*)
        FROM added GROUP BY 1, 2, 3, 4
        ON CONFLICT (tenant_id, minute, event_type, outcome) DO UPDATE SET n = s.n + EXCLUDED.n;
    RETURN NULL;
END
$$;
COMMENT ON FUNCTION stigaudit_count_events() IS 'Trigger function: adds the events an INSERT added to stats_minutes.';

CREATE TRIGGER events_count AFTER INSERT ON events
    REFERENCING NEW TABLE AS added
    FOR EACH STATEMENT EXECUTE FUNCTION stigaudit_count_events();

-- A count only grows; a row is never deleted.
CREATE FUNCTION stigaudit_stats_grow() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.n < OLD.n OR (NEW.tenant_id, NEW.minute, NEW.event_type, NEW.outcome)
            IS DISTINCT FROM (OLD.tenant_id, OLD.minute, OLD.event_type, OLD.outcome) THEN
        RAISE EXCEPTION 'stigaudit: stats_minutes counts may only grow'
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NEW;
END
$$;
COMMENT ON FUNCTION stigaudit_stats_grow() IS 'Trigger function: a stats_minutes count only grows.';

-- Every tenant's counts of a window (admin without tenant_id).
CREATE INDEX stats_minutes_minute ON stats_minutes (minute);
COMMENT ON INDEX stats_minutes_minute IS 'The window of every tenant (admin without tenant_id).';

CREATE TRIGGER stats_minutes_grow BEFORE UPDATE ON stats_minutes
    FOR EACH ROW EXECUTE FUNCTION stigaudit_stats_grow();
CREATE TRIGGER stats_minutes_no_delete BEFORE DELETE ON stats_minutes
    FOR EACH STATEMENT EXECUTE FUNCTION stigaudit_refuse();
CREATE TRIGGER stats_minutes_no_truncate BEFORE TRUNCATE ON stats_minutes
    FOR EACH STATEMENT EXECUTE FUNCTION stigaudit_refuse();
