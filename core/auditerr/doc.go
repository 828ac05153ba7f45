// Package auditerr defines the stable error codes of stigaudit.
//
// Every failure a caller can act on carries a Code: a short snake_case string
// that never changes once published (docs/api.md#errors). The same codes appear in the
// HTTP API's {"error":{"code":...}} bodies, in the WASM ABI's error envelopes
// and in the Go API, so a client written against one host works against all.
//
// Callers branch with errors.Is against the sentinels below, or read the code
// with CodeOf. Errors that add context wrap a sentinel:
//
//	return auditerr.Errorf(auditerr.ErrMissingDetailKey, "detail key %q is required for %s", k, t)
//
// keeps the code of ErrMissingDetailKey while saying which key was missing.
package auditerr
