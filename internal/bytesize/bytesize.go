// Package bytesize reads and writes sizes in bytes with binary units, as
// the command line and sink specs take them: 1048576, 512KiB, 64MiB, 1GiB.
package bytesize

import (
	"fmt"
	"strconv"
	"strings"
)

// units are the binary units, largest first, then the plain byte.
var units = []struct {
	suffix string
	shift  uint
}{{"TiB", 40}, {"GiB", 30}, {"MiB", 20}, {"KiB", 10}, {"B", 0}}

// Parse reads a number of bytes, plain or with a unit (KiB, MiB, GiB, TiB
// or B); spaces around the number are allowed. It refuses a negative
// number or one of more than 8 EiB.
func Parse(s string) (uint64, error) {
	num, shift := s, uint(0)
	for _, u := range units {
		if n, ok := strings.CutSuffix(s, u.suffix); ok {
			num, shift = n, u.shift
			break
		}
	}
	v, err := strconv.ParseUint(strings.TrimSpace(num), 10, 64)
	if err != nil || v > (1<<63)>>shift {
		return 0, fmt.Errorf("%q is not a size such as 64MiB, 1GiB or 1048576", s)
	}
	return v << shift, nil
}

// Format writes n with the largest unit that divides it into fewer than
// 1024 (64MiB), or plain.
func Format(n uint64) string {
	for _, u := range units[:4] {
		if n != 0 && n%(1<<u.shift) == 0 && n>>u.shift < 1024 {
			return strconv.FormatUint(n>>u.shift, 10) + u.suffix
		}
	}
	return strconv.FormatUint(n, 10)
}
