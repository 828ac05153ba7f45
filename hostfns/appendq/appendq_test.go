package appendq

import (
	"context"
	"errors"
	"testing"

	"github.com/stigaudit/stigaudit/core/auditerr"
	"github.com/stigaudit/stigaudit/core/event"
)

func TestSubmitIsAnsweredByTheWriter(t *testing.T) {
	q := New("test", 4)
	go func() {
		for r := range q.Requests() {
			out := append([]event.Event(nil), r.Events...)
			for i := range out {
				out[i].Seq = int64(i)
			}
			r.Reply(Result{Events: out})
		}
	}()
	in := []event.Event{{ID: "a"}, {ID: "b"}}
	got, err := q.Submit(context.Background(), in)
	if err != nil || len(got) != 2 || got[1].Seq != 1 {
		t.Fatalf("got %+v, %v", got, err)
	}
	if in[1].Seq != 0 {
		t.Error("the writer changed the caller's slice: requests must be copies")
	}
	if got, err := q.Submit(context.Background(), nil); err != nil || len(got) != 0 {
		t.Errorf("empty submit: %v, %v", got, err)
	}
	if !q.Close() || q.Close() {
		t.Error("Close should report true once, then false")
	}
	if _, err := q.Submit(context.Background(), in); !errors.Is(err, auditerr.ErrClosed) {
		t.Errorf("submit after Close: %v, want closed", err)
	}
}

func TestACallerThatGivesUpDoesNotBlockTheWriter(t *testing.T) {
	q := New("test", 4)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() {
		_, err := q.Submit(ctx, []event.Event{{ID: "a"}})
		done <- err
	}()
	r := <-q.Requests()
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want the context's", err)
	}
	r.Reply(Result{}) // must not block: the reply has room
}
