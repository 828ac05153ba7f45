package ops

import (
	"errors"
	"io"
	"time"

	"github.com/stigaudit/stigaudit/core/auditerr"
	"github.com/stigaudit/stigaudit/core/event"
	"github.com/stigaudit/stigaudit/core/jcs"
	"github.com/stigaudit/stigaudit/wasm/abi"
)

// Host is what operations need from the host that runs them. A nil field is
// reported as store_unavailable / entropy_unavailable by the operations that
// need it, never as a panic.
type Host struct {
	// Now reads the wall clock (the clock_now import in the guest).
	Now func() time.Time
	// Entropy supplies random bytes for generated ids (WASI random_get).
	Entropy io.Reader
	// Append stores the canonical form of one event and returns its seq, or
	// a negative abi.Store* code (the store_append import in the guest).
	Append func(canonical []byte) int64
	// Builder holds the catalogue and detail limits build_event and emit
	// build against; nil means the defaults. The configure operation sets
	// it.
	Builder *event.Builder
}

// inputLimits bound the parsing of every operation's input: abi.MaxInput
// in and out, and jcs.HardMaxDepth levels of nesting.
var inputLimits = jcs.Limits{MaxInput: abi.MaxInput, MaxOutput: abi.MaxInput}

// Do runs the operation op on in and appends its envelope to dst. It never
// panics: a panic inside an operation is answered with code "panic".
func Do(dst []byte, h *Host, op string, in []byte) (out []byte) {
	base := len(dst)
	defer func() {
		if r := recover(); r != nil {
			out = appendError(dst[:base], auditerr.Errorf(auditerr.ErrPanic, "panic in %s: %s", op, panicText(r)))
		}
	}()
	if len(in) > abi.MaxInput {
		return appendError(dst, auditerr.Errorf(auditerr.ErrTooLarge, "%s: input is %d bytes, more than the limit of %d", op, len(in), abi.MaxInput))
	}
	f := lookup(op)
	if f == nil {
		return appendError(dst, auditerr.Errorf(auditerr.ErrInvalidInput, "unknown operation %q", op))
	}
	dst = append(dst, `{"ok":true,"value":`...)
	val, err := f(dst, h, in)
	if err != nil {
		return appendError(dst[:base], err)
	}
	return append(val, '}')
}

// opFunc appends the JSON value of a successful operation to dst.
type opFunc func(dst []byte, h *Host, in []byte) ([]byte, error)

func lookup(op string) opFunc {
	switch op {
	case abi.OpCanonicalize:
		return canonicalize
	case abi.OpMerkleRoot:
		return merkleRoot
	case abi.OpVerifyInclusion:
		return verifyInclusion
	case abi.OpVerifyConsistency:
		return verifyConsistency
	case abi.OpVerifyCheckpoint:
		return verifyCheckpoint
	case abi.OpVerifyReceipt:
		return verifyReceipt
	case abi.OpConfigure:
		return configure
	case abi.OpTestFault:
		return testFault
	}
	return eventOp(op)
}

// Error appends the error envelope for err to dst. Errors without a code are
// reported as invalid_input.
func Error(dst []byte, err error) []byte { return appendError(dst, err) }

func appendError(dst []byte, err error) []byte {
	code := auditerr.CodeOf(err)
	if code == "" {
		code = auditerr.ErrInvalidInput.Code
	}
	dst = append(dst, `{"ok":false,"error":{"code":`...)
	dst = jcs.AppendString(dst, string(code))
	dst = append(dst, `,"message":`...)
	dst = jcs.AppendString(dst, err.Error())
	return append(dst, `}}`...)
}

func panicText(r any) string {
	switch v := r.(type) {
	case error:
		return v.Error()
	case string:
		return v
	}
	return "non-error panic value"
}

// object is the members of a JSON object input, by name, each value in
// canonical form.
type object map[string][]byte

// parseObject canonicalizes in, which must be a JSON object whose member
// names are all in allowed.
func parseObject(in []byte, what string, allowed ...string) (object, error) {
	c, err := jcs.Canonicalize(nil, in, inputLimits)
	if err != nil {
		return nil, err
	}
	if len(c) == 0 || c[0] != '{' {
		return nil, auditerr.Errorf(auditerr.ErrInvalidInput, "%s: input must be a JSON object", what)
	}
	o := object{}
	it := jcs.Members(c)
	for it.Next() {
		m := it.Member()
		name := m.Name()
		known := false
		for _, a := range allowed {
			if a == name {
				known = true
				break
			}
		}
		if !known {
			return nil, auditerr.Errorf(auditerr.ErrUnknownField, "%s: unknown field %q", what, name)
		}
		o[name] = m.Value
	}
	if err := it.Err(); err != nil {
		return nil, err
	}
	return o, nil
}

// raw returns the value of a required member.
func (o object) raw(name string) ([]byte, error) {
	v, ok := o[name]
	if !ok {
		return nil, auditerr.Errorf(auditerr.ErrMissingField, "field %q is required", name)
	}
	return v, nil
}

// str returns a required string member.
func (o object) str(name string) (string, error) {
	v, err := o.raw(name)
	if err != nil {
		return "", err
	}
	s, ok := jcs.Unquote(v)
	if !ok {
		return "", auditerr.Errorf(auditerr.ErrInvalidField, "field %q must be a string", name)
	}
	return s, nil
}

// optStr returns an optional string member; JSON null and absence are nil.
func (o object) optStr(name string) (*string, error) {
	v, ok := o[name]
	if !ok || string(v) == "null" {
		return nil, nil
	}
	s, ok := jcs.Unquote(v)
	if !ok {
		return nil, auditerr.Errorf(auditerr.ErrInvalidField, "field %q must be a string or null", name)
	}
	return &s, nil
}

// canonicalize: any JSON text → its RFC 8785 canonical form, as a JSON
// string (so that every host gets the exact bytes, whatever its JSON
// parser does with numbers).
func canonicalize(dst []byte, _ *Host, in []byte) ([]byte, error) {
	c, err := jcs.Canonicalize(nil, in, inputLimits)
	if err != nil {
		return nil, err
	}
	return jcs.AppendString(dst, string(c)), nil
}

func appendJSONString(dst []byte, s string) []byte { return jcs.AppendString(dst, s) }

// testFault: see abi.OpTestFault.
func testFault(dst []byte, _ *Host, in []byte) ([]byte, error) {
	switch string(in) {
	case `"panic"`:
		panic(errors.New("test_fault: panic requested"))
	case `"oom"`:
		var keep [][]byte
		for {
			keep = append(keep, make([]byte, 16<<20))
			keep[len(keep)-1][0] = 1
		}
	}
	return nil, auditerr.Errorf(auditerr.ErrInvalidInput, `test_fault: input must be "panic" or "oom"`)
}
