//go:build wasm

package auditerr

// fallback renders what appendf does not handle without fmt, which the
// WebAssembly module does not link: the format with each unhandled verb
// left as written and the arguments it could not format listed after it.
// No message of the core takes this path (format_test.go lists the forms
// the core uses and checks that appendf handles them).
func fallback(format string, args []any) string {
	s := format
	for _, a := range args {
		if t, ok := appendArg(nil, 'v', false, -1, -1, a); ok {
			s += " " + string(t)
		} else {
			s += " ?"
		}
	}
	return s
}
