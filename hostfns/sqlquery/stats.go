package sqlquery

import (
	"fmt"

	"github.com/stigaudit/stigaudit/hostfns"
)

// MinuteTS returns the ts at which minute key m ("2006-01-02T15:04")
// begins, in the fixed-width event.TS form.
func MinuteTS(m string) string { return m + ":00.000000Z" }

// ScanStats reads rows of (minute, key, count); the caller closes rows.
func ScanStats(rows Rows) ([]hostfns.StatsRow, error) {
	var out []hostfns.StatsRow
	for rows.Next() {
		var r hostfns.StatsRow
		if err := rows.Scan(&r.Minute, &r.Key, &r.Count); err != nil {
			return nil, fmt.Errorf("scan stats: %w", err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("scan stats: %w", err)
	}
	return out, nil
}
