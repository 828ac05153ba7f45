// Package web is the browser preview of stigaudit (docs/operations.md#browser-preview): one page,
// served by the reference server at /, on which an operator reads the
// audit log, watches it live, checks an event's inclusion in the latest
// signed checkpoint and composes events — with the very WebAssembly core
// the server runs doing the canonical form, the leaf hashes and the proof
// checks inside the browser.
//
// The page is plain ES modules and CSS in static/, embedded in the binary:
// no framework, no bundler, no request to any other origin (the
// Content-Security-Policy it is served with forbids them). New builds
// the Site, whose handlers the server's route table mounts:
//
//	GET /                            the page
//	GET /web/<file>                  its scripts, styles and icon (ETag, revalidated)
//	GET /web/stigaudit.mjs           the JS loader of the module (package wasm, Loader)
//	GET /web/stigaudit.<hash>.wasm   the module (package wasm, Module): gzip,
//	                                 immutable, named by its SHA-256
//	GET /web/config.json             public facts the page needs: the module's
//	                                 URL, the catalogue, the node's verifier key,
//	                                 and the core's configuration (below)
//	GET /web/session                 who the presented API key is (any valid key)
//
// The module is compressed once, in the background, when New is
// called (about 1.1 MB of gzip for 3.9 MB); the page itself never waits for
// it: it compiles the module with WebAssembly.compileStreaming while the
// operator logs in and the first page of events is shown, and hands the
// compiled module to a Web Worker that verifies many inclusion proofs off
// the main thread.
//
// # The core is configured as the server is
//
// config.json's "configure" member is the input of the module's configure
// export (docs/wasm-abi.md#configure): the operator-added event types of the server's
// --catalogue (only those, in that file's format: the module adds them to
// its built-in catalogue as the server did) and the server's detail limits
// (Config.Limits). The page instantiates the core, and the worker its own
// instance, with it, so the composer previews an operator's types and
// refuses what the server refuses, with the server's codes. New checks
// that the built-in catalogue extended by those types is
// Config.Catalogue, and fails otherwise.
//
// # Keys
//
// The API key is typed into the page, kept in sessionStorage (gone when
// the tab closes) and sent only as an Authorization header — never in a
// URL, so it does not reach logs or history. Live mode reads
// GET /v1/audit/stream with fetch and a streaming body for the same
// reason: EventSource cannot send headers.
//
// The checkpoint verifier key is public. The server advertises the one it
// signs with (Config.VerifierKey) but the page does not trust it blindly:
// the operator can pin a key obtained out of band (`stigaudit keys
// checkpoint-key`), the pinned key is kept in localStorage, and a server
// that later advertises another key is shown as a red mismatch. See
// README.md (section "The browser preview") for what the browser check
// does and does not prove.
package web
