// Package wazerohost defines the host module "stigaudit" that the stigaudit
// WebAssembly module imports, for the wazero runtime. It reads like wazero's
// own wasi_snapshot_preview1 package: one Instantiate (or NewBuilder for
// more control), each import declared with the non-reflective
// WithGoModuleFunction.
//
// The imports (ABI v1, docs/wasm-abi.md#imports; constants in package wasm/abi):
//
//	clock_now() i64
//	    the wall clock in Unix nanoseconds: Services.Clock of the call, or
//	    the system clock when the call carries none.
//
//	store_append(ptr i32, len i32) i64
//	    guest memory [ptr, ptr+len) holds the canonical form of one event.
//	    The bytes are copied out of guest memory, parsed (event.ParseEvent),
//	    checked to be canonical, given their recomputed leaf hash and
//	    appended to Services.Store of the call. Results:
//	      ≥ 0  the event's seq (for an idempotent re-send, the stored seq)
//	      -1   invalid: not a canonical event, or the store refused it
//	      -2   id_conflict: the id is stored with different content
//	      -3   store_unavailable: the store could not commit, or the call
//	           carries no store
//	      -4   forbidden: the event lies outside Services.Scope (another
//	           tenant_id or emitter than the caller's; event.Scope.Check)
//
// The per-call services travel in the context.Context passed to the
// function call (api.Function.Call), under a private key type:
//
//	ctx = wazerohost.WithServices(ctx, wazerohost.Services{Store: st, Scope: event.Scope{Tenant: "acme"}})
//	res, err := fn.Call(ctx, ptr, n)
//
// so one compiled module and one pool of instances serve many tenants and
// stores at once.
package wazerohost
