package auditerr

// PublicError marks an error whose message is meant for the client even
// when it is a server-side failure. An HTTP layer hides the causes of 5xx
// answers (SQL errors, internal state) behind the code's generic message;
// a PublicError is the exception, for a failure the caller can do nothing
// about but should understand ("the database file ... was deleted").
type PublicError struct {
	// Err is the error shown, code and message.
	Err *Error
}

// Public returns e marked as fit to show to clients (see PublicError).
func Public(e *Error) error { return &PublicError{Err: e} }

func (p *PublicError) Error() string { return p.Err.Error() }

// Unwrap returns the marked error, so errors.Is sees its code.
func (p *PublicError) Unwrap() error { return p.Err }
