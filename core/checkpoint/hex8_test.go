package checkpoint

import (
	"fmt"
	"testing"
)

func TestHex8IsPercent08x(t *testing.T) {
	for _, h := range []uint32{0, 1, 0xabc, 0xdeadbeef, 0xffffffff, 0x0f0f0f0f} {
		if got, want := hex8(h), fmt.Sprintf("%08x", h); got != want {
			t.Errorf("hex8(%#x) = %s, want %s", h, got, want)
		}
	}
}
