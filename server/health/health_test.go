package health_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/stigaudit/stigaudit/core/auditerr"
	"github.com/stigaudit/stigaudit/server/health"
)

func TestDiskFree(t *testing.T) {
	dir := t.TempDir()
	free, err := health.Free(dir)
	if err != nil || free == 0 {
		t.Fatalf("Free = %d, %v", free, err)
	}
	ctx := context.Background()
	if err := health.DiskFree(dir, 1).Run(ctx); err != nil {
		t.Fatalf("1 byte margin: %v", err)
	}
	err = health.DiskFree(dir, free+1<<40).Run(ctx)
	if !errors.Is(err, auditerr.ErrStoreUnavailable) || !strings.Contains(err.Error(), "--min-free-disk") {
		t.Fatalf("margin above the free space: %v", err)
	}
	if err := health.DiskFree(dir+"/missing", 1).Run(ctx); err == nil {
		t.Fatal("a missing path passed")
	}
}

func TestRunKeepsOrderAndNames(t *testing.T) {
	bad := errors.New("bad")
	got := health.Run(context.Background(), []health.Check{
		{Name: "a", Run: func(context.Context) error { return nil }},
		{Name: "b", Run: func(context.Context) error { return bad }},
		{Name: "c", Run: func(context.Context) error { return bad }},
	})
	if len(got) != 2 || got[0].Check != "b" || got[1].Check != "c" || got[0].Err != bad {
		t.Fatalf("Run = %+v", got)
	}
}
