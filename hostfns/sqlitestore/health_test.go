package sqlitestore_test

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/stigaudit/stigaudit/core/auditerr"
	"github.com/stigaudit/stigaudit/hostfns/sqlitestore"
	"github.com/stigaudit/stigaudit/hostfns/storetest"
)

// A database file deleted or replaced under a running store must not take
// any more acknowledgements: SQLite would write into the unlinked inode and
// every such event would be gone at the next start.
func TestFileDeletedOrReplacedFailsClosed(t *testing.T) {
	ctx := context.Background()
	cases := []struct {
		name      string
		breakFile func(t *testing.T, path string)
		want      string
	}{
		{"deleted", func(t *testing.T, path string) {
			for _, p := range []string{path, path + "-wal", path + "-shm"} {
				if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
					t.Fatal(err)
				}
			}
		}, "was deleted"},
		{"replaced", func(t *testing.T, path string) {
			other := path + ".other"
			if err := os.WriteFile(other, nil, 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.Rename(other, path); err != nil {
				t.Fatal(err)
			}
		}, "was replaced"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s, path := open(t, sqlitestore.Options{})
			if _, err := s.Append(ctx, storetest.NewEvents(0, 3)); err != nil {
				t.Fatal(err)
			}
			if err := s.Health(ctx); err != nil {
				t.Fatalf("Health of a sound store: %v", err)
			}
			tc.breakFile(t, path)
			_, err := s.Append(ctx, storetest.NewEvents(3, 1))
			if !errors.Is(err, auditerr.ErrStoreUnavailable) || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), path) {
				t.Fatalf("Append after the file %s: %v; want store_unavailable naming %s", tc.name, err, path)
			}
			if err := s.Health(ctx); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Health after the file %s: %v", tc.name, err)
			}
			// For good: the next append is refused too, even if a file of
			// that name appears again.
			_, err = s.Append(ctx, storetest.NewEvents(4, 1))
			if !errors.Is(err, auditerr.ErrStoreUnavailable) {
				t.Fatalf("second Append: %v", err)
			}
		})
	}
}

func TestHealthReportsFailedCommit(t *testing.T) {
	ctx := context.Background()
	s, _ := open(t, sqlitestore.Options{})
	// A caller's transaction holds the write lock past the busy timeout:
	// the writer's commit fails, and readiness says so until one succeeds.
	s2, err := sqlitestore.Open(s.Path(), sqlitestore.Options{BusyTimeout: 50e6})
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	tx, err := s.DB().BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s2.Append(ctx, storetest.NewEvents(0, 1)); !errors.Is(err, auditerr.ErrStoreUnavailable) {
		t.Fatalf("Append while locked: %v", err)
	}
	if err := s2.Health(ctx); err == nil || !strings.Contains(err.Error(), "last commit failed") {
		t.Fatalf("Health after a failed commit: %v", err)
	}
	tx.Rollback()
	if _, err := s2.Append(ctx, storetest.NewEvents(0, 1)); err != nil {
		t.Fatal(err)
	}
	if err := s2.Health(ctx); err != nil {
		t.Fatalf("Health after a successful commit: %v", err)
	}
}
