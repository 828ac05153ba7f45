package event

import (
	"errors"
	"strings"
	"testing"

	"github.com/stigaudit/stigaudit/core/auditerr"
)

func TestLimitsWithDefaults(t *testing.T) {
	if got := (Limits{}).WithDefaults(); got != DefaultLimits() {
		t.Errorf("zero limits with defaults = %+v, want %+v", got, DefaultLimits())
	}
	set := Limits{MaxDetailBytes: 1, MaxDetailDepth: 2, MaxRequestBytes: 3, MaxBatchEvents: 4, MaxBatchBytes: 5}
	if got := set.WithDefaults(); got != set {
		t.Errorf("set limits with defaults = %+v, want them unchanged", got)
	}
	if got := (Limits{MaxBatchEvents: -1}).WithDefaults().MaxBatchEvents; got != DefaultMaxBatchEvents {
		t.Errorf("a negative MaxBatchEvents became %d, want the default", got)
	}
}

// TestParseEmitRequestLimits: the request bounds are the Limits given, and
// their errors are the ones RequestTooLarge and BatchTooLarge state.
func TestParseEmitRequestLimits(t *testing.T) {
	one := `{"event_type":"fact_read","entity_uri":"urn:a"}`
	batch := func(n int) string {
		return `{"events":[` + strings.TrimSuffix(strings.Repeat(one+",", n), ",") + `]}`
	}
	small := Limits{MaxRequestBytes: len(batch(2)), MaxBatchEvents: 2}
	for _, c := range []struct {
		name string
		lim  Limits
		in   string
		want error // nil: accepted
	}{
		{"at the request limit", small, batch(2), nil},
		{"a byte over", small, batch(2) + " ", small.RequestTooLarge()},
		{"one event too many", Limits{MaxBatchEvents: 2}, batch(3), Limits{MaxBatchEvents: 2}.BatchTooLarge(3)},
		{"the default batch size", Limits{}, batch(DefaultMaxBatchEvents), nil},
		{"over the default batch size", Limits{}, batch(DefaultMaxBatchEvents + 1), Limits{}.BatchTooLarge(DefaultMaxBatchEvents + 1)},
		{"over the default request size", Limits{}, `{"source":"` + strings.Repeat("x", DefaultMaxRequestBytes) + `"}`, Limits{}.RequestTooLarge()},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, _, err := ParseEmitRequest([]byte(c.in), c.lim)
			switch {
			case c.want == nil && err != nil:
				t.Fatalf("refused: %v", err)
			case c.want == nil:
			case err == nil || err.Error() != c.want.Error() || auditerr.CodeOf(err) != auditerr.CodeOf(c.want):
				t.Fatalf("got %v, want %v", err, c.want)
			}
		})
	}
	if !errors.Is(small.RequestTooLarge(), auditerr.ErrTooLarge) || !errors.Is(small.BatchTooLarge(3), auditerr.ErrBatchTooLarge) {
		t.Error("the limit errors do not wrap their sentinels")
	}
	if !strings.Contains(Limits{}.RequestTooLarge().Error(), "1048576") {
		t.Errorf("RequestTooLarge of the defaults states no limit: %v", Limits{}.RequestTooLarge())
	}
}
