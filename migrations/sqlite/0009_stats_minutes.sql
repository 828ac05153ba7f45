-- 0009_stats_minutes: counts of events per tenant, minute, event type and
-- outcome, for GET /v1/audit/stats (docs/decisions.md §34).
--
-- An overview of a large log must not scan it. stats_minutes is a rollup
-- written by the store in the transaction that appends the events (one
-- upsert per distinct key of a group commit), so it always agrees with
-- the events table. Retention blanks events' content, never their type,
-- outcome, ts or tenant, and never touches this table: the counts of
-- purged events stay. It keeps no entity_uri, which a purge removes
-- (personal data must not outlive retention in a rollup); counts per
-- entity are read from the events table.
--
-- The rows are rebuilt from the events below, so a log written before
-- this migration gets its counts when `stigaudit migrate` (or any start)
-- applies it.
CREATE TABLE stats_minutes (
    tenant_id  TEXT    NOT NULL,                 -- the events' tenant
    minute     TEXT    NOT NULL CHECK (length(minute) = 16), -- the first 16 bytes of events.ts: 'YYYY-MM-DDTHH:MM' (UTC)
    event_type TEXT    NOT NULL,                 -- events.event_type
    outcome    TEXT    NOT NULL,                 -- events.outcome
    n          INTEGER NOT NULL CHECK (n > 0),   -- how many events have these values
    PRIMARY KEY (tenant_id, minute, event_type, outcome)
) STRICT, WITHOUT ROWID;

-- A count only grows, and a row is never deleted: the events it counts
-- are never deleted either.
CREATE TRIGGER stats_minutes_grow_only BEFORE UPDATE ON stats_minutes
WHEN NEW.n < OLD.n OR NEW.tenant_id IS NOT OLD.tenant_id OR NEW.minute IS NOT OLD.minute
    OR NEW.event_type IS NOT OLD.event_type OR NEW.outcome IS NOT OLD.outcome
BEGIN
    SELECT RAISE(ABORT, 'stigaudit: stats_minutes counts may only grow');
END;

CREATE TRIGGER stats_minutes_no_delete BEFORE DELETE ON stats_minutes
BEGIN
    SELECT RAISE(ABORT, 'stigaudit: stats_minutes counts may only grow');
END;

INSERT INTO stats_minutes (tenant_id, minute, event_type, outcome, n)
    SELECT tenant_id, substr(ts, 1, 16), event_type, outcome, COUNT(*)
    FROM events GROUP BY tenant_id, substr(ts, 1, 16), event_type, outcome;
