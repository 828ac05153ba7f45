package pgstore_test

import (
	"testing"

	"github.com/stigaudit/stigaudit/hostfns/pgstore"
	"github.com/stigaudit/stigaudit/hostfns/pgstore/pgtest"
	"github.com/stigaudit/stigaudit/hostfns/storetest"
)

// A cursor is created at the log's size, is kept per name, and only moves
// forward.
func TestCursors(t *testing.T) {
	s := open(t, pgtest.DSN(t), pgstore.Options{})
	storetest.RunCursors(t, s)
}
