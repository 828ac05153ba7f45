package main

import (
	"fmt"
	"strconv"
	"strings"
)

// byteSize is a flag holding a number of bytes, written as a plain number
// or with a binary unit: 512KiB, 64MiB, 1GiB.
type byteSize uint64

var byteUnits = []struct {
	suffix string
	shift  uint
}{{"KiB", 10}, {"MiB", 20}, {"GiB", 30}, {"TiB", 40}, {"B", 0}}

func (b *byteSize) String() string {
	v := uint64(*b)
	for _, u := range byteUnits[:4] {
		if v != 0 && v%(1<<u.shift) == 0 && v>>u.shift < 1024 {
			return strconv.FormatUint(v>>u.shift, 10) + u.suffix
		}
	}
	return strconv.FormatUint(v, 10)
}

func (b *byteSize) Set(s string) error {
	num, shift := s, uint(0)
	for _, u := range byteUnits {
		if strings.HasSuffix(s, u.suffix) {
			num, shift = strings.TrimSuffix(s, u.suffix), u.shift
			break
		}
	}
	v, err := strconv.ParseUint(strings.TrimSpace(num), 10, 64)
	if err != nil || v > (1<<63)>>shift {
		return fmt.Errorf("%q is not a size such as 64MiB, 1GiB or 1048576", s)
	}
	*b = byteSize(v << shift)
	return nil
}
