package main

import "testing"

func TestByteSize(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want uint64
		str  string
	}{
		{"64MiB", 64 << 20, "64MiB"},
		{"1GiB", 1 << 30, "1GiB"},
		{"1048576", 1 << 20, "1MiB"},
		{"512KiB", 512 << 10, "512KiB"},
		{"0", 0, "0"},
		{"1000B", 1000, "1000"},
	} {
		var b byteSize
		if err := b.Set(tc.in); err != nil || uint64(b) != tc.want || b.String() != tc.str {
			t.Errorf("Set(%q) = %d %q, %v; want %d %q", tc.in, uint64(b), b.String(), err, tc.want, tc.str)
		}
	}
	for _, bad := range []string{"", "MiB", "-1MiB", "1.5GiB", "64 megabytes", "99999999999TiB"} {
		var b byteSize
		if err := b.Set(bad); err == nil {
			t.Errorf("Set(%q) accepted: %d", bad, uint64(b))
		}
	}
}
