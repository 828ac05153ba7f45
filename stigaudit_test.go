package stigaudit_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stigaudit/stigaudit"
	"github.com/stigaudit/stigaudit/core/auditerr"
	"github.com/stigaudit/stigaudit/core/event"
	"github.com/stigaudit/stigaudit/hostfns"
	"github.com/stigaudit/stigaudit/hostfns/memstore"
	"github.com/stigaudit/stigaudit/hostfns/sqlitestore"
	"github.com/stigaudit/stigaudit/hostfns/storetest"
	"github.com/stigaudit/stigaudit/internal/waitfor"
)

// recorder is an Observer that keeps what it was told.
type recorder struct {
	mu        sync.Mutex
	committed []event.Event
	emitted   int
	failed    []string
}

func (r *recorder) Committed(evs []event.Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.committed = append(r.committed, evs...)
}

func (r *recorder) Emitted(n int, d time.Duration, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.emitted += n
}

func (r *recorder) BestEffortFailed(t, tenant string, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.failed = append(r.failed, t+":"+string(auditerr.CodeOf(err)))
}

func (r *recorder) seqs() []int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := make([]int64, len(r.committed))
	for i, e := range r.committed {
		s[i] = e.Seq
	}
	return s
}

func openLog(t *testing.T, store hostfns.Store, obs stigaudit.Observer) *stigaudit.Log {
	t.Helper()
	l, err := stigaudit.Open(stigaudit.Options{Store: store, Observer: obs, PollInterval: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

func draft(i int) event.Draft {
	return event.Draft{Type: "fact_write", EntityURI: fmt.Sprintf("agent:%d", i%3), FactID: fmt.Sprintf("f-%d", i)}
}

func TestObserverSeesEveryCommitOnceInOrder(t *testing.T) {
	rec := &recorder{}
	l := openLog(t, memstore.New(), rec)
	ctx := context.Background()
	first, err := l.Emit(ctx, event.Draft{ID: "0190a5b8-8a5e-7cc0-9c1e-5f9c1d2e3f40", Type: "fact_write", EntityURI: "agent:a"})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for w := 0; w < 16; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; i < 25; i++ {
				if _, err := l.Emit(ctx, draft(w*100+i)); err != nil {
					t.Error(err)
				}
				// Idempotent re-sends must not be reported again.
				again, err := l.Emit(ctx, event.Draft{ID: first.ID, Type: "fact_write", EntityURI: "agent:a"})
				if err != nil || again.Seq != first.Seq {
					t.Errorf("re-send: seq %d err %v, want seq %d", again.Seq, err, first.Seq)
				}
			}
		}(w)
	}
	wg.Wait()
	l.Close()
	got := rec.seqs()
	if len(got) != 1+16*25 {
		t.Fatalf("observer saw %d events, want %d", len(got), 1+16*25)
	}
	for i, s := range got {
		if s != int64(i) {
			t.Fatalf("observer event %d has seq %d: not once each in order", i, s)
		}
	}
}

func TestEmitBatchIsAtomicAndNamesEveryBadItem(t *testing.T) {
	rec := &recorder{}
	store := memstore.New()
	l := openLog(t, store, rec)
	ctx := context.Background()
	_, err := l.EmitBatch(ctx, []event.Draft{draft(1), {Type: "no_such_type", EntityURI: "a"}, draft(2), {Type: "fact_write"}})
	var be *auditerr.BatchError
	if !errors.As(err, &be) {
		t.Fatalf("err = %v, want a BatchError", err)
	}
	if len(be.Items) != 2 || be.Items[0].Index != 1 || be.Items[1].Index != 3 {
		t.Fatalf("items = %+v, want indexes 1 and 3", be.Items)
	}
	if be.Items[0].Code != auditerr.ErrUnknownEventType.Code {
		t.Errorf("item 1 code = %s", be.Items[0].Code)
	}
	if n, _ := store.Size(ctx); n != 0 {
		t.Fatalf("a refused batch stored %d events", n)
	}
	res, err := l.EmitBatch(ctx, []event.Draft{draft(1), draft(2), draft(3)})
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range res {
		if r.Event.Seq != int64(i) {
			t.Errorf("result %d seq %d", i, r.Event.Seq)
		}
	}
}

func TestEmitBatchReportsSkippedInstructionEvents(t *testing.T) {
	l := openLog(t, memstore.New(), nil)
	content := "content"
	ent := "agent:x"
	instr := "instruction:run"
	res, err := l.EmitBatch(context.Background(), []event.Draft{
		{Type: "instruction_quarantined", EntityURI: "agent:a", FactID: "f1", Fact: &event.FactRef{Entity: &ent, InterpretAs: &content}},
		{Type: "instruction_quarantined", EntityURI: "agent:a", FactID: "f2", Fact: &event.FactRef{Entity: &instr}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if !res[0].Skipped || res[1].Skipped || res[1].Event.Seq != 0 {
		t.Fatalf("results = %+v", res)
	}
}

func TestEmitNoFailSwallowsAndCounts(t *testing.T) {
	rec := &recorder{}
	faulty := storetest.NewFaulty(memstore.New())
	l := openLog(t, faulty, rec)
	faulty.Inject(storetest.FailBefore, storetest.FailBefore)
	l.EmitNoFail(context.Background(), event.Draft{Type: "fact_read", EntityURI: "agent:a"})
	if len(rec.failed) != 1 {
		t.Fatalf("best-effort failures = %v, want one", rec.failed)
	}
	if _, err := l.Emit(context.Background(), event.Draft{Type: "fact_write", EntityURI: "agent:a"}); !errors.Is(err, auditerr.ErrStoreUnavailable) {
		t.Fatalf("critical emit err = %v, want store_unavailable", err)
	}
}

func TestEmitTxCommitsAndRollsBackWithTheCaller(t *testing.T) {
	store, err := sqlitestore.Open(filepath.Join(t.TempDir(), "a.db"), sqlitestore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	rec := &recorder{}
	l := openLog(t, store, rec)
	ctx := context.Background()

	tx, err := store.DB().BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.EmitTx(ctx, tx, draft(1)); err != nil {
		t.Fatal(err)
	}
	if err := tx.Rollback(); err != nil {
		t.Fatal(err)
	}
	tx, err = store.DB().BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	ev, err := l.EmitTx(ctx, tx, draft(2))
	if err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	if ev.Seq != 0 {
		t.Fatalf("seq after a rolled-back emit = %d, want 0 (no gap)", ev.Seq)
	}
	// Emits through the log continue after the caller's event.
	next, err := l.Emit(ctx, draft(3))
	if err != nil || next.Seq != 1 {
		t.Fatalf("next emit seq %d err %v, want 1", next.Seq, err)
	}
	waitfor.Until(t, 5*time.Second, "the observer to see 2 events", func() bool { return len(rec.seqs()) >= 2 })
	if got := rec.seqs(); len(got) != 2 || got[0] != 0 || got[1] != 1 {
		t.Fatalf("observer saw seqs %v, want [0 1]", got)
	}
}

// selective is a recorder that wants every event only while want is set.
type selective struct {
	recorder
	want atomic.Bool
}

func (s *selective) WantsAll() bool { return s.want.Load() }

// A Selective observer that does not want others' events is told only the
// log's own commits, in order, and nothing is waited for or read back;
// once it wants everything, it gets every event from then on, contiguously.
// The store is in memory and the clock synctest's, so "nothing else
// arrives" is checked after polls that have all finished.
func TestSelectiveObserverSkipsOthersUntilItWantsAll(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		obs := &selective{}
		store := memstore.New()
		l := openLog(t, store, obs)
		ctx := context.Background()
		elsewhere := func(i int) int64 { // committed behind the log's back
			ev, err := l.Build(draft(1000 + i))
			if err != nil {
				t.Fatal(err)
			}
			stored, err := store.Append(ctx, []event.Event{ev})
			if err != nil {
				t.Fatal(err)
			}
			return stored[0].Seq
		}
		var own []int64
		for i := range 10 {
			elsewhere(i)
			ev, err := l.Emit(ctx, draft(i))
			if err != nil {
				t.Fatal(err)
			}
			own = append(own, ev.Seq)
		}
		waitfor.Until(t, 5*time.Second, "the observer to see this process's events", func() bool { return len(obs.seqs()) == len(own) })
		time.Sleep(50 * time.Millisecond) // five polls: nothing else arrives
		synctest.Wait()
		if got := obs.seqs(); !slices.Equal(got, own) {
			t.Fatalf("not wanting others' events, the observer saw %v, want its own %v", got, own)
		}

		obs.want.Store(true)
		time.Sleep(30 * time.Millisecond) // three polls answered "want all"
		synctest.Wait()
		size, err := store.Size(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for i := range 10 {
			elsewhere(100 + i)
			if _, err := l.Emit(ctx, draft(100+i)); err != nil {
				t.Fatal(err)
			}
		}
		waitfor.Until(t, 5*time.Second, "the observer to see all 20 events emitted once it wants all", func() bool { return len(obs.seqs()) >= len(own)+20 })
		got := obs.seqs()[len(own):]
		for i, seq := range got {
			if seq != size+int64(i) {
				t.Fatalf("wanting every event, the observer saw %v, want %d.. contiguously", got, size)
			}
		}
	})
}
