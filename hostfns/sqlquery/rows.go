package sqlquery

import (
	"fmt"

	"github.com/stigaudit/stigaudit/core/event"
	"github.com/stigaudit/stigaudit/hostfns"
)

// EventColumns is the select list ScanEvents reads, the same in SQLite and
// PostgreSQL. Optional text columns are NULL in the table and "" in
// event.Event; a NULL detail stays nil.
const EventColumns = `seq, id, event_type, ts, COALESCE(hlc, ''), tenant_id, entity_uri, COALESCE(emitter, ''),
	COALESCE(oidc_sub, ''), COALESCE(fact_id, ''), source, COALESCE(attested_key_id, ''), COALESCE(scope, ''),
	outcome, detail, leaf_hash`

// Rows is what ScanEvents needs of *sql.Rows and pgx.Rows alike.
type Rows interface {
	Next() bool
	Scan(dest ...any) error
	Err() error
}

// ScanEvents reads every row of rows, selected with EventColumns; the
// caller closes rows. capacity sizes the result for the rows expected.
func ScanEvents(rows Rows, capacity int) ([]event.Event, error) {
	out := make([]event.Event, 0, capacity)
	for rows.Next() {
		var e event.Event
		var leaf []byte
		if err := rows.Scan(&e.Seq, &e.ID, &e.Type, &e.TS, &e.HLC, &e.Tenant, &e.EntityURI, &e.Emitter,
			&e.OIDCSub, &e.FactID, &e.Source, &e.AttestedKeyID, &e.Scope, &e.Outcome, &e.Detail, &leaf); err != nil {
			return nil, err
		}
		if len(leaf) != len(e.LeafHash) {
			return nil, fmt.Errorf("event seq %d: leaf_hash has %d bytes", e.Seq, len(leaf))
		}
		copy(e.LeafHash[:], leaf)
		out = append(out, e)
	}
	return out, rows.Err()
}

// Page cuts the rows of a query that asked for limit+1 events into a page
// of at most limit, the extra row telling that there are more.
func Page(evs []event.Event, limit int) hostfns.Page {
	if len(evs) > limit {
		return hostfns.Page{Events: evs[:limit], HasMore: true}
	}
	return hostfns.Page{Events: evs}
}
