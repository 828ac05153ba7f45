// Package abi holds the constants of the stigaudit WebAssembly ABI v1
// (docs/wasm-abi.md) that the guest module and every host must agree on: the ABI
// version, the names of the exported operations, the import module and its
// functions, the input size cap and the result codes of store_append.
//
// It has no dependencies beyond auditerr, so both the guest (wasm/guest) and
// the host bindings (hostfns/wazerohost) import it; a host written in another
// language copies the ABI table in the top-level README.md.
//
// # Calling convention
//
// The host writes UTF-8 JSON into guest memory obtained from alloc(size),
// calls an operation export op(ptr, len) and gets back an i64 packed as
// ptr<<32 | len that locates a guest-owned envelope
//
//	{"ok":true,"value":...}
//	{"ok":false,"error":{"code":"...","message":"..."}}
//
// The host copies the envelope out, then calls free on the result pointer and
// on its own input pointer. A zero-length input may be passed as (0, 0)
// without calling alloc. alloc returns 0 when it refuses a size (≤ 0 or
// above MaxInput): the host reports too_large without calling the operation.
package abi

import "github.com/stigaudit/stigaudit/core/auditerr"

// Version is the value abi_version() returns. A host refuses a module whose
// version it does not know.
const Version = 1

// MaxInput is the largest input, in bytes, an operation accepts and the
// largest buffer alloc hands out. A larger input is refused with too_large.
const MaxInput = 4 << 20

// ImportModule is the module name of the host functions the guest imports.
const ImportModule = "stigaudit"

// Names of the imported host functions (module ImportModule).
const (
	// ImportClockNow is clock_now() i64: the host's wall clock in Unix
	// nanoseconds. It is read once per built event.
	ImportClockNow = "clock_now"
	// ImportStoreAppend is store_append(ptr i32, len i32) i64: guest memory
	// [ptr, ptr+len) holds the canonical form of one event; the host parses
	// it, appends it to its store and returns its seq (≥ 0), or one of the
	// Store* codes below. For an idempotent re-send the host returns the seq
	// the event was first stored at.
	ImportStoreAppend = "store_append"
)

// Results of store_append below zero. A host may return any other negative
// value; the guest reports it as store_unavailable.
const (
	// StoreInvalid: the bytes are not an event the store accepts.
	StoreInvalid int64 = -1
	// StoreIDConflict: the id is already stored with different content.
	StoreIDConflict int64 = -2
	// StoreUnavailable: the store could not commit (nothing was stored), or
	// the host has no store for this call.
	StoreUnavailable int64 = -3
	// StoreForbidden: the event's tenant_id or emitter is not the one the
	// host allows for this call.
	StoreForbidden int64 = -4
)

// StoreError returns the error a negative store_append result stands for,
// carrying the stable code the guest puts in its envelope.
func StoreError(r int64) *auditerr.Error {
	switch r {
	case StoreInvalid:
		return auditerr.Errorf(auditerr.ErrInvalidInput, "store_append: the store refused the event as invalid")
	case StoreIDConflict:
		return auditerr.Errorf(auditerr.ErrIDConflict, "store_append: id already stored with different content")
	case StoreForbidden:
		return auditerr.Errorf(auditerr.ErrForbidden, "store_append: tenant_id or emitter not allowed for this caller")
	default:
		return auditerr.Errorf(auditerr.ErrStoreUnavailable, "store_append: the store could not commit (code %d)", r)
	}
}

// StoreResult returns the store_append result for an error from a store:
// the Store* code matching its auditerr code.
func StoreResult(code auditerr.Code) int64 {
	switch code {
	case auditerr.ErrIDConflict.Code:
		return StoreIDConflict
	case auditerr.ErrForbidden.Code:
		return StoreForbidden
	case auditerr.ErrStoreUnavailable.Code, auditerr.ErrClosed.Code, "":
		return StoreUnavailable
	default:
		return StoreInvalid
	}
}

// Operation export names. Each is op(ptr i32, len i32) i64.
const (
	OpBuildEvent        = "build_event"
	OpEmit              = "emit"
	OpClassify          = "classify"
	OpMergeDetail       = "merge_detail"
	OpCanonicalize      = "canonicalize"
	OpLeafHash          = "leaf_hash"
	OpMerkleRoot        = "merkle_root"
	OpVerifyInclusion   = "verify_inclusion"
	OpVerifyConsistency = "verify_consistency"
	OpVerifyCheckpoint  = "verify_checkpoint"
	// OpConfigure is the optional configure(ptr i32, len i32) i64 export:
	// its input {"catalogue":<the operator's catalogue config, as the
	// server reads it>,"max_detail_bytes":n,"max_detail_depth":n}, every
	// member optional (absent or null: the default), sets the catalogue
	// and detail limits that build_event and emit of this instance use
	// from then on, replacing any earlier configuration. Its value is
	// {"event_types":<number of types>,"max_detail_bytes":n,
	// "max_detail_depth":n}; an error envelope (invalid_config) leaves the
	// configuration as it was. A host that never calls it gets the default
	// catalogue and limits, as ABI v1 always gave: the export is an
	// addition, abi_version stays 1. A host with several instances
	// configures each one (and each replacement after a trap). It is not
	// in Ops: it is not an operation on data.
	OpConfigure = "configure"
	// OpVerifyReceipt is the optional verify_receipt(ptr i32, len i32) i64
	// export (docs/tamper-evidence.md#receipts): its input {"receipt":"<C2SP tlog-proof text>",
	// "key":"<verifier key>","origin":"<optional>","policy":"<optional
	// tlog-policy>"} verifies an event's receipt offline — the event bytes
	// hash to entry index of the checkpoint's tree, the checkpoint is
	// signed by key — and its value is {"seq","id","event_type","leaf_hash",
	// "origin","tree_size","root","event":<the event>} plus, with a policy,
	// "witnesses" as verify_checkpoint gives it. An unmet quorum is in the
	// value, not an error. Like configure it is an addition: abi_version
	// stays 1, and it is not in Ops, so a host checks for the export.
	OpVerifyReceipt = "verify_receipt"
	// OpTestFault is a hidden operation for host test suites: its input
	// "panic" makes the guest panic inside the operation (answered as
	// code "panic"), "oom" makes it allocate until its memory limit is hit
	// (the instance traps and must be discarded). Anything else is an
	// invalid_input envelope. It is not part of the public operation list.
	OpTestFault = "test_fault"
)

// Ops returns the public operations, in the order of docs/wasm-abi.md#operations.
func Ops() []string {
	return []string{
		OpBuildEvent, OpEmit, OpClassify, OpMergeDetail, OpCanonicalize,
		OpLeafHash, OpMerkleRoot, OpVerifyInclusion, OpVerifyConsistency,
		OpVerifyCheckpoint,
	}
}

// Pack returns the i64 an operation returns for a result at ptr of n bytes.
func Pack(ptr, n uint32) uint64 { return uint64(ptr)<<32 | uint64(n) }

// Unpack splits an operation's i64 result into pointer and length.
func Unpack(r uint64) (ptr, n uint32) { return uint32(r >> 32), uint32(r) }
