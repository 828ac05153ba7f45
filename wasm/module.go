package wasm

import _ "embed"

//go:embed stigaudit.wasm
var module []byte

// Module returns the bytes of stigaudit.wasm, the module this package runs,
// for a server that serves it to browsers. The slice is shared: do not
// modify it.
func Module() []byte { return module }
