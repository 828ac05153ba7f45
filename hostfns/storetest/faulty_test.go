package storetest_test

import (
	"bytes"
	"context"
	"errors"
	"testing"

	"github.com/transparency-dev/merkle/compact"
	"github.com/transparency-dev/merkle/rfc6962"

	"github.com/stigaudit/stigaudit/core/auditerr"
	"github.com/stigaudit/stigaudit/hostfns/memstore"
	"github.com/stigaudit/stigaudit/hostfns/storetest"
)

func TestFaulty(t *testing.T) {
	ctx := context.Background()
	inner := memstore.New()
	f := storetest.NewFaulty(inner)
	f.Inject(storetest.FailBefore, storetest.FailAfter)

	steps := []struct {
		name     string
		n        int   // event number to append
		wantErr  bool  // Append fails
		wantSize int64 // inner size afterwards
	}{
		{"fail before: nothing stored", 0, true, 0},
		{"fail after: stored, not acknowledged", 1, true, 1},
		{"pass", 2, false, 2},
		{"re-send of the lost acknowledgement", 1, false, 2},
	}
	for _, st := range steps {
		got, err := f.Append(ctx, storetest.NewEvents(st.n, 1))
		if st.wantErr != (err != nil) {
			t.Fatalf("%s: Append = %v, %v", st.name, got, err)
		}
		if err != nil && !errors.Is(err, auditerr.ErrStoreUnavailable) {
			t.Fatalf("%s: error %v does not wrap ErrStoreUnavailable", st.name, err)
		}
		if size, _ := inner.Size(ctx); size != st.wantSize {
			t.Fatalf("%s: inner size %d, want %d", st.name, size, st.wantSize)
		}
	}
	if f.Appends() != len(steps) {
		t.Fatalf("Appends() = %d, want %d", f.Appends(), len(steps))
	}

	f.SetDown(true)
	if err := f.Ping(ctx); !errors.Is(err, auditerr.ErrStoreUnavailable) {
		t.Fatalf("Ping while down = %v", err)
	}
	if _, err := f.Append(ctx, storetest.NewEvents(9, 1)); err == nil {
		t.Fatal("Append while down succeeded")
	}
	f.SetDown(false)
	if err := f.Ping(ctx); err != nil {
		t.Fatalf("Ping after SetDown(false) = %v", err)
	}
	if size, _ := f.Size(ctx); size != 2 {
		t.Fatalf("size %d after a failed Append while down, want 2", size)
	}
}

func TestRootMatchesCompactRange(t *testing.T) {
	rf := &compact.RangeFactory{Hash: rfc6962.DefaultHasher.HashChildren}
	cr := rf.NewEmptyRange(0)
	var leaves [][]byte
	if got, want := storetest.Root(nil), rfc6962.DefaultHasher.EmptyRoot(); !bytes.Equal(got, want) {
		t.Fatalf("empty root %x, want %x", got, want)
	}
	for n := 1; n <= 70; n++ {
		leaf := rfc6962.DefaultHasher.HashLeaf([]byte{byte(n)})
		leaves = append(leaves, leaf)
		if err := cr.Append(leaf, nil); err != nil {
			t.Fatal(err)
		}
		want, _ := cr.GetRootHash(nil)
		if got := storetest.Root(leaves); !bytes.Equal(got, want) {
			t.Fatalf("size %d: Root %x, compact range %x", n, got, want)
		}
	}
}
