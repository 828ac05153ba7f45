package sqlquery

import "testing"

func TestRebind(t *testing.T) {
	for _, tc := range []struct {
		ph       Placeholder
		in, want string
	}{
		{Dollar, "UPDATE t SET a = ? WHERE b = ? AND c IS NULL", "UPDATE t SET a = $1 WHERE b = $2 AND c IS NULL"},
		{Question, "a = ?", "a = ?"},
		{Dollar, "SELECT 1", "SELECT 1"},
	} {
		if got := tc.ph.Rebind(tc.in); got != tc.want {
			t.Errorf("Rebind(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
