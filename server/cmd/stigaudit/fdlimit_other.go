//go:build !unix

package main

// openFileLimit returns 0: the limit is not known on this system.
func openFileLimit() int { return 0 }
