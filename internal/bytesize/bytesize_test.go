package bytesize

import "testing"

func TestParseAndFormat(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want uint64
		bad  bool
		out  string
	}{
		{in: "1048576", want: 1 << 20, out: "1MiB"},
		{in: "512KiB", want: 512 << 10, out: "512KiB"},
		{in: "64 MiB", want: 64 << 20, out: "64MiB"},
		{in: "2GiB", want: 2 << 30, out: "2GiB"},
		{in: "1TiB", want: 1 << 40, out: "1TiB"},
		{in: "10B", want: 10, out: "10"},
		{in: "1536", want: 1536, out: "1536"},
		{in: "0", want: 0, out: "0"},
		{in: "-1", bad: true},
		{in: "1MB", bad: true},
		{in: "MiB", bad: true},
		{in: "8388609TiB", bad: true},
	} {
		got, err := Parse(tc.in)
		if tc.bad {
			if err == nil {
				t.Errorf("Parse(%q) = %d, want an error", tc.in, got)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("Parse(%q) = %d, %v; want %d", tc.in, got, err, tc.want)
		}
		if s := Format(got); s != tc.out {
			t.Errorf("Format(%d) = %q, want %q", got, s, tc.out)
		}
	}
}
