// Package wasm runs the stigaudit WebAssembly module (stigaudit.wasm, built
// from wasm/guest) inside a Go program with wazero, and exports the module's
// bytes for servers that hand it to browsers.
//
// The module is the pure core compiled to GOOS=wasip1: the same code that
// builds, canonicalises and verifies events natively. Running it here is how
// the project proves that every host — Go native, wazero, Node, a browser —
// produces the same bytes; it is also how a Go program can sandbox the core.
//
// New compiles the embedded module once, with wazero's optimising compiler
// and, when Config.CacheDir is set, a compilation cache on disk so that a
// second process starts in milliseconds. It then keeps a pool of module
// instances (GOMAXPROCS by default). Each instance runs one call at a time:
//
//	rt, err := wasm.New(ctx, wasm.Config{CacheDir: dir})
//	defer rt.Close(ctx)
//	ev, err := rt.BuildEvent(ctx, []byte(`{"event_type":"fact_read","entity_uri":"agent:a"}`))
//
// A call copies its input into the instance (alloc), runs the operation
// export, copies the envelope out and frees both buffers. An error envelope
// becomes an *auditerr.Error with the envelope's code; an instance that traps
// or fails in any other way is discarded and replaced on demand, and one
// whose linear memory has grown past Config.RecycleBytes is replaced after
// its call, so a single bad input never poisons the pool.
//
// Emit needs a store: the host function store_append finds it in the call's
// context (see package hostfns/wazerohost, WithServices).
//
// Config.Configure passes the operator's catalogue and detail limits to the
// module's configure export (abi.OpConfigure) on every instance, so that
// BuildEvent and Emit accept the operator's types as the server does:
//
//	rt, err := wasm.New(ctx, wasm.Config{Configure: []byte(`{"catalogue":` + catalogueFile + `,"max_detail_bytes":32768}`)})
//
// Calls are not interrupted when their context is cancelled once they have
// started (wazero's WithCloseOnContextDone would make this hot path several
// times slower; see
// docs/decisions.md#121-calls-are-not-interrupted-when-their-context-is-cancelled);
// every operation is bounded by abi.MaxInput, and waiting for a free
// instance does honour the context.
package wasm
