package retention

import (
	"errors"
	"strconv"
	"strings"

	"github.com/stigaudit/stigaudit/core/auditerr"
	"github.com/stigaudit/stigaudit/core/event"
)

// Retention bounds, in days.
const (
	DefaultDays = 400
	FloorDays   = 90
	// MaxDays is 100 years: a longer period is a typo (or "keep
	// everything", which is off), and far-future cut-offs overflow
	// timestamp arithmetic.
	MaxDays = 36525
)

// Policy is a retention setting.
type Policy struct {
	// Days is the retention period; 0 keeps events forever.
	Days int
	// Override allows Days below FloorDays
	// (--i-understand-short-retention).
	Override bool
}

// ParseDays reads a retention period: "400", "400d", or "0", "off" or
// "forever" for no purge. Anything else is an error wrapping
// auditerr.ErrInvalidConfig.
func ParseDays(s string) (int, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "0", "0d", "off", "forever", "never":
		return 0, nil
	}
	n, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(s), "d"), 10, 64)
	if err != nil && !errors.Is(err, strconv.ErrRange) || n < 0 {
		return 0, auditerr.Errorf(auditerr.ErrInvalidConfig, "retention %q is not a number of days such as 400d (or off)", s)
	}
	if err != nil || n > MaxDays {
		return 0, auditerr.Errorf(auditerr.ErrInvalidConfig, "retention %q is more than 100 years (%d days); use off to keep everything", s, MaxDays)
	}
	return int(n), nil
}

// Check refuses a period below the floor without the override.
func (p Policy) Check() error {
	if p.Days < 0 {
		return auditerr.Errorf(auditerr.ErrInvalidConfig, "retention of %d days is negative", p.Days)
	}
	if p.Days > MaxDays {
		return auditerr.Errorf(auditerr.ErrInvalidConfig, "retention of %d days is more than 100 years (%d days); use off to keep everything", p.Days, MaxDays)
	}
	if p.Days > 0 && p.Days < FloorDays && !p.Override {
		return auditerr.Errorf(auditerr.ErrInvalidConfig,
			"retention of %d days is below the %d-day floor: events older than that would lose their content; "+
				"pass --i-understand-short-retention to allow it", p.Days, FloorDays)
	}
	return nil
}

// IsPurged reports whether e is a purged event as read from a store: its
// content is gone, and entity_uri, which every live event has, is empty.
func IsPurged(e *event.Event) bool { return e.EntityURI == "" }
