package sqlitestore_test

import (
	"path/filepath"
	"testing"

	"github.com/stigaudit/stigaudit/hostfns"
	"github.com/stigaudit/stigaudit/hostfns/sqlitestore"
	"github.com/stigaudit/stigaudit/hostfns/storetest"
)

func open(t testing.TB, opts sqlitestore.Options) (*sqlitestore.Store, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "data", "audit.db")
	s, err := sqlitestore.Open(path, opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s, path
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) hostfns.Store {
		s, _ := open(t, sqlitestore.Options{})
		return s
	})
}

func TestConformanceNoGroupCommit(t *testing.T) {
	storetest.Run(t, func(t *testing.T) hostfns.Store {
		s, _ := open(t, sqlitestore.Options{MaxBatchEvents: 1, Synchronous: "NORMAL"})
		return s
	})
}

func TestStatsConformance(t *testing.T) {
	storetest.RunStats(t, func(t *testing.T) (storetest.StatsStore, storetest.Purger) {
		s, _ := open(t, sqlitestore.Options{})
		return s, s.Purging()
	})
}
