// Package ops is the body of every operation of the WASM ABI v1 (docs/wasm-abi.md),
// written as ordinary Go so that it runs natively as well as inside the
// guest module.
//
// The guest (wasm/guest) is a set of thin shims: each export decodes
// (ptr, len) into a byte slice, calls Do with the operation's name, and
// hands back the envelope Do wrote. Keeping the bodies here means the very
// same code is exercised by native unit tests, by the wazero runtime and by
// the JS loader, and that a native call to Do is the reference a host's
// answer is compared with byte for byte.
//
// Every operation takes UTF-8 JSON and answers an envelope:
//
//	{"ok":true,"value":<value>}
//	{"ok":false,"error":{"code":"<auditerr code>","message":"<text>"}}
//
// Do never panics: a panic in an operation becomes the envelope with code
// "panic". Inputs larger than MaxInput, malformed JSON, unknown fields and
// values of the wrong type are envelopes with their stable codes.
//
// What an operation needs from its host — the wall clock, random bytes and
// the store — comes in a Host value; inside the guest these are the
// stigaudit.clock_now import, WASI random_get (crypto/rand) and the
// stigaudit.store_append import.
package ops
