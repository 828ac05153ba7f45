//go:build !wasm

package auditerr

import "fmt"

// fallback formats what appendf does not handle.
func fallback(format string, args []any) string { return fmt.Sprintf(format, args...) }
