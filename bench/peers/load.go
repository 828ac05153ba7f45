package main

import (
	"os"
	"strings"
)

// loadAverage is the machine's 1, 5 and 15 minute load average as
// /proc/loadavg gives it, or "" where there is none: the other work on the
// machine is part of what a run measured.
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return ""
	}
	return strings.Join(f[:3], " ")
}
