-- 0003_query_indexes: keep every filtered page of the read API O(page).
--
-- Measured on a 1,000,000-event log (hostfns/sqlitestore BenchmarkQuery):
-- a rare oidc_sub took 544 ms per page and outcome=denied 8 ms (both
-- scanned the tenant's log), and time windows in the past took up to 4 s:
-- with ORDER BY seq, neither an index on (tenant_id, ts) (read the window,
-- then sort it) nor the seq order (skip every newer event) bounds the work.

-- ts_blocks is a block-range index (like PostgreSQL's BRIN) of events.ts:
-- for each block of 1024 consecutive seqs, the least and greatest ts in it.
-- A query bounded by since/until scans only the seqs of blocks whose range
-- meets the window; because the bounds are exact, no matching event is
-- missed, and because ts follows seq closely (both follow the clock), the
-- blocks of a window are few. Written in the transaction that appends the
-- events, like tree_nodes. It is derived data: a row may only widen.
CREATE TABLE ts_blocks (
    block  INTEGER PRIMARY KEY,  -- seq / 1024: the block covers seqs [block*1024, block*1024 + 1024)
    min_ts TEXT NOT NULL,        -- least events.ts in the block
    max_ts TEXT NOT NULL         -- greatest events.ts in the block
) STRICT;

-- A block may widen as its events arrive, never narrow or vanish: narrowing
-- would hide events from time-bounded reads.
CREATE TRIGGER ts_blocks_widen_only BEFORE UPDATE ON ts_blocks
WHEN NEW.block IS NOT OLD.block OR NEW.min_ts > OLD.min_ts OR NEW.max_ts < OLD.max_ts
BEGIN
    SELECT RAISE(ABORT, 'stigaudit: ts_blocks may only widen');
END;

CREATE TRIGGER ts_blocks_no_delete BEFORE DELETE ON ts_blocks
BEGIN
    SELECT RAISE(ABORT, 'stigaudit: ts_blocks may only widen');
END;

INSERT INTO ts_blocks (block, min_ts, max_ts)
    SELECT seq / 1024, MIN(ts), MAX(ts) FROM events GROUP BY seq / 1024;

-- ts_blocks replaces the (tenant_id, ts) index: one index fewer to write.
DROP INDEX IF EXISTS events_tenant_ts;

-- A principal's trail by OIDC subject (the same shape as entity_uri).
CREATE INDEX events_tenant_oidc_seq ON events (tenant_id, oidc_sub, seq) WHERE oidc_sub IS NOT NULL;

-- Failures and denials, rare and sought after. Partial, so the common
-- successes cost nothing to write; a query uses it when it also says
-- outcome <> 'success' (the store adds that term to failure/denied filters).
CREATE INDEX events_tenant_outcome_seq ON events (tenant_id, outcome, seq) WHERE outcome <> 'success';
