package main

import "github.com/stigaudit/stigaudit/internal/bytesize"

// byteSize is a flag holding a number of bytes, written as a plain number
// or with a binary unit: 512KiB, 64MiB, 1GiB.
type byteSize uint64

func (b *byteSize) String() string { return bytesize.Format(uint64(*b)) }

// Set reads a size (bytesize.Parse).
func (b *byteSize) Set(s string) error {
	v, err := bytesize.Parse(s)
	if err != nil {
		return err
	}
	*b = byteSize(v)
	return nil
}
