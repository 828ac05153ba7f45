//go:build !linux

package wasm

import "time"

var start = time.Now()

// threadCPU falls back to wall time where no thread CPU clock is read.
func threadCPU() time.Duration { return time.Since(start) }

func processCPU() time.Duration { return time.Since(start) }
