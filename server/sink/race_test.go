//go:build race

package sink

// raceEnabled reports whether the race detector is on: throughput tests
// skip under it, since it slows the code it checks several times over.
const raceEnabled = true
