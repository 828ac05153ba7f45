package memstore_test

import (
	"testing"

	"github.com/stigaudit/stigaudit/hostfns"
	"github.com/stigaudit/stigaudit/hostfns/memstore"
	"github.com/stigaudit/stigaudit/hostfns/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) hostfns.Store {
		s := memstore.New()
		t.Cleanup(func() { s.Close() })
		return s
	})
}
