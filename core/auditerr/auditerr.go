package auditerr

import (
	"errors"
	"strconv"
)

// Code is a stable, machine-readable error code such as "unknown_event_type".
type Code string

// Error is an error with a stable code. Sentinels are *Error values; errors
// that add context wrap one of them (see Errorf).
type Error struct {
	Code    Code
	Message string
	// Index is the position of the offending item in a batch, or -1.
	Index   int
	wrapped *Error
}

// Error returns the human-readable message.
func (e *Error) Error() string {
	if e.Index >= 0 {
		return "event " + strconv.Itoa(e.Index) + ": " + e.Message
	}
	return e.Message
}

// Is reports whether target carries the same code: codes are unique per
// sentinel, so errors.Is(err, ErrIDConflict) holds for every error made from
// ErrIDConflict, wherever it was wrapped or copied.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	if !ok {
		return false
	}
	return t.Code == e.Code
}

// Unwrap returns the sentinel this error was made from, if any.
func (e *Error) Unwrap() error {
	if e.wrapped == nil {
		return nil
	}
	return e.wrapped
}

func sentinel(code Code, msg string) *Error {
	return &Error{Code: code, Message: msg, Index: -1}
}

// Errorf returns an error with the code of base and a formatted message,
// worded as fmt.Sprintf would word it (see appendf).
// errors.Is(err, base) holds for the result.
func Errorf(base *Error, format string, args ...any) *Error {
	return &Error{Code: base.Code, Message: sprintf(format, args), Index: -1, wrapped: base}
}

// AtIndex returns a copy of err that names item i of a batch. If err carries
// no code it is first wrapped as ErrInvalidInput.
func AtIndex(err error, i int) *Error {
	var e *Error
	if !errors.As(err, &e) {
		e = Errorf(ErrInvalidInput, "%v", err)
	}
	c := *e
	c.Index = i
	if c.wrapped == nil {
		c.wrapped = e
	}
	return &c
}

// CodeOf returns the code carried by err, or "" when err carries none.
func CodeOf(err error) Code {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}

// Sentinels. Their codes are part of the public contract.
var (
	// Input errors (HTTP 400).
	ErrInvalidJSON        = sentinel("invalid_json", "malformed JSON")
	ErrInvalidInput       = sentinel("invalid_input", "invalid input")
	ErrUnknownField       = sentinel("unknown_field", "unknown field")
	ErrInvalidField       = sentinel("invalid_field", "field has the wrong type or value")
	ErrMissingField       = sentinel("missing_field", "required field is missing")
	ErrUnknownEventType   = sentinel("unknown_event_type", "event_type is not in the catalogue")
	ErrInvalidEventType   = sentinel("invalid_event_type", "event_type name is not valid")
	ErrInvalidTenant      = sentinel("invalid_tenant", "tenant_id is not valid")
	ErrInvalidID          = sentinel("invalid_id", "id is not a valid UUID")
	ErrInvalidHLC         = sentinel("invalid_hlc", "hlc is not <wall_ms>.<counter>")
	ErrInvalidOutcome     = sentinel("invalid_outcome", "outcome must be success, failure or denied")
	ErrInvalidDetail      = sentinel("invalid_detail", "detail must be a JSON object")
	ErrDetailTooLarge     = sentinel("detail_too_large", "detail exceeds the size limit")
	ErrDetailTooDeep      = sentinel("detail_too_deep", "detail exceeds the depth limit")
	ErrMissingDetailKey   = sentinel("missing_detail_key", "a required detail key is missing")
	ErrInvalidInterpretAs = sentinel("invalid_interpret_as", "interpret_as must be content, instruction, code or null")
	// ErrInexactNumber: a number whose RFC 8785 form has another value than
	// the one sent (beyond 2^53, more digits than a double holds, below the
	// smallest double); the value is evidence, so it is refused rather than
	// rounded. Send such values as strings.
	ErrInexactNumber     = sentinel("inexact_number", "a number cannot be stored exactly; send it as a string")
	ErrInvalidBatch      = sentinel("invalid_batch", "the batch is not valid")
	ErrInvalidParameter  = sentinel("invalid_parameter", "a query parameter is not valid")
	ErrInvalidCursor     = sentinel("invalid_cursor", "the cursor is not valid")
	ErrInvalidConfig     = sentinel("invalid_config", "the configuration is not valid")
	ErrInvalidProof      = sentinel("invalid_proof", "the proof does not verify")
	ErrInvalidCheckpoint = sentinel("invalid_checkpoint", "the checkpoint is not valid")
	// ErrVerifyFailed: offline verification found the log altered, reordered,
	// truncated or inconsistent with a checkpoint (core/logverify).
	ErrVerifyFailed = sentinel("verification_failed", "the log does not verify")
	// ErrTooDeep: a JSON value nests arrays and objects deeper than allowed.
	ErrTooDeep = sentinel("too_deep", "the JSON value is nested too deeply")

	// ErrNotInstruction is not a failure: an instruction event for a fact that
	// is not an instruction fact records nothing (docs/event-format.md#instruction-events).
	ErrNotInstruction = sentinel("not_instruction", "the fact is not an instruction fact; nothing recorded")

	// Size errors (HTTP 413).
	ErrTooLarge      = sentinel("too_large", "the request is too large")
	ErrBatchTooLarge = sentinel("batch_too_large", "the batch has too many events or bytes")
	// ErrOutputTooLarge: the canonical form of an input would exceed its
	// size limit (canonical output can be longer than its input, e.g. 1e20).
	ErrOutputTooLarge = sentinel("output_too_large", "the canonical form exceeds the size limit")

	// Auth errors (HTTP 401, 403).
	ErrUnauthorized = sentinel("unauthorized", "missing or invalid API key")
	ErrForbidden    = sentinel("forbidden", "the key lacks the required permission")

	// State errors.
	ErrNotFound         = sentinel("not_found", "not found")                                  // 404
	ErrIDConflict       = sentinel("id_conflict", "id already stored with different content") // 409
	ErrStoreUnavailable = sentinel("store_unavailable", "the store could not commit")         // 503
	ErrSchemaTooNew     = sentinel("schema_too_new", "the database was written by a newer stigaudit")
	ErrClosed           = sentinel("closed", "the log is closed")
	// ErrEntropyUnavailable: the host's random source failed, so no id
	// could be generated. It is a host fault, not a caller error.
	ErrEntropyUnavailable = sentinel("entropy_unavailable", "the entropy source failed")
	ErrPanic              = sentinel("panic", "internal error")

	// ErrPurged: the event exists but the retention policy purged its
	// content; its seq, id, ts and leaf hash remain (HTTP 410 Gone).
	ErrPurged = sentinel("purged", "the event's content was purged by the retention policy")
)
