package wasm

import (
	"fmt"
	"os"
	"testing"
)

// testCache is the compilation cache shared by the tests of one run, so the
// module is compiled once per run rather than once per test.
var testCache string

func TestMain(m *testing.M) {
	d, err := os.MkdirTemp("", "stigaudit-wasm-cache-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	testCache = d
	code := m.Run()
	os.RemoveAll(d)
	os.Exit(code)
}
