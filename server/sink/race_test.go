//go:build race

package sink

// raceEnabled reports whether the race detector is on: the largest volume
// tests then run smaller (the plain run keeps their full size).
const raceEnabled = true
