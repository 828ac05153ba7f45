package wasm

import _ "embed"

//go:embed js/stigaudit.mjs
var loader []byte

// Loader returns the source of js/stigaudit.mjs, the ES module that loads
// stigaudit.wasm in Node and in browsers (with its own WASI shim), for a
// server that serves it next to the module (package web does). The slice
// is shared: do not modify it.
func Loader() []byte { return loader }
