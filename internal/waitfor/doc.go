// Package waitfor is test support: the one way a test waits for a
// condition that another goroutine, process or database will make true.
//
// Until polls a condition with a short interval and fails the test,
// naming what it waited for and for how long, once a time limit passes.
// It waits only for something to happen; a test that must show something
// did not happen uses testing/synctest when the code under test runs on
// goroutines and timers alone, or waits for a later event that proves the
// system went past the point where the unwanted one would have occurred.
package waitfor
