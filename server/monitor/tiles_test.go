package monitor

import "testing"

func TestTileIndex(t *testing.T) {
	for _, tc := range []struct {
		n    uint64
		want string
	}{
		{0, "000"}, {7, "007"}, {999, "999"}, {1000, "x001/000"}, {1234067, "x001/x234/067"}, {1000000, "x001/x000/000"},
	} {
		if got := TileIndex(tc.n); got != tc.want {
			t.Errorf("TileIndex(%d) = %q, want %q", tc.n, got, tc.want)
		}
	}
}
