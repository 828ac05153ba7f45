package sqlitestore_test

import (
	"testing"

	"github.com/stigaudit/stigaudit/hostfns/sqlitestore"
	"github.com/stigaudit/stigaudit/hostfns/storetest"
)

// A cursor is created at the log's size, is kept per name, and only moves
// forward.
func TestCursors(t *testing.T) {
	s, _ := open(t, sqlitestore.Options{})
	storetest.RunCursors(t, s)
}
