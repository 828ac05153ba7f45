package pgstore

// WithSlowPath returns o with the writer's fast path (stigaudit_append) off,
// so that tests can run the conformance suite over the path groups with
// re-sent ids take.
func WithSlowPath(o Options) Options {
	o.slowPath = true
	return o
}
