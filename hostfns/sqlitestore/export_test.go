package sqlitestore

// SetRollup turns the stats_minutes rollup on or off for the benchmark
// that measures its cost.
func SetRollup(on bool) { rollupOff.Store(!on) }
