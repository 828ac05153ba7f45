package appendq

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

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

// queued returns a queue holding requests of the given sizes, in order.
func queued(t *testing.T, sizes ...int) *Queue {
	t.Helper()
	q := New("test", len(sizes)+1)
	for _, n := range sizes {
		q.ch <- &Request{Ctx: context.Background(), Events: make([]event.Event, n), reply: make(chan Result, 1)}
	}
	return q
}

// sizes lists the number of events of each request of grp.
func sizes(grp *Group) []int {
	out := make([]int, len(grp.Requests))
	for i, r := range grp.Requests {
		out[i] = len(r.Events)
	}
	return out
}

func TestGathererFormsGroups(t *testing.T) {
	for _, c := range []struct {
		name   string
		max    int
		queued []int
		closed bool
		groups [][]int // what Next followed by More takes, group by group
	}{
		{"all queued fit", 10, []int{1, 2, 3}, false, [][]int{{1, 2, 3}}},
		{"a request that does not fit waits for the next group", 4, []int{1, 2, 3, 1}, false, [][]int{{1, 2}, {3, 1}}},
		{"exactly full", 3, []int{1, 2, 1}, false, [][]int{{1, 2}, {1}}},
		{"one larger than a group is a group of its own", 2, []int{1, 5, 1}, false, [][]int{{1}, {5}, {1}}},
		{"max 1 is one request a group", 1, []int{1, 1}, false, [][]int{{1}, {1}}},
		{"max below 1 counts as 1", 0, []int{1, 1}, false, [][]int{{1}, {1}}},
		{"closed: the queued are still taken", 10, []int{1, 2}, true, [][]int{{1, 2}}},
	} {
		t.Run(c.name, func(t *testing.T) {
			q := queued(t, c.queued...)
			if c.closed {
				q.Close()
			}
			g := q.Gatherer(c.max)
			var grp Group
			for i, want := range c.groups {
				if !g.Next(&grp) {
					t.Fatalf("group %d: Next found none", i)
				}
				g.More(&grp)
				if got := sizes(&grp); !slices.Equal(got, want) {
					t.Fatalf("group %d: %v, want %v", i, got, want)
				}
				n := 0
				for _, s := range want {
					n += s
				}
				if grp.Events != n {
					t.Fatalf("group %d: Events %d, want %d", i, grp.Events, n)
				}
			}
			if c.closed && g.Next(&grp) {
				t.Fatal("Next found a request in a closed, drained queue")
			}
		})
	}
}

func TestGathererBurst(t *testing.T) {
	q := New("test", 8)
	g := q.Gatherer(10)
	submit := func() {
		go q.Submit(context.Background(), []event.Event{{ID: "x"}})
	}
	submit()
	var grp Group
	if !g.Next(&grp) {
		t.Fatal("no request")
	}
	// Requests that keep coming within the gap join; the burst ends a gap
	// after the last.
	go func() {
		for range 3 {
			time.Sleep(2 * time.Millisecond)
			submit()
		}
	}()
	start := time.Now()
	g.Burst(&grp, 200*time.Millisecond, 5*time.Second)
	if len(grp.Requests) != 4 || grp.Events != 4 {
		t.Fatalf("burst gathered %d requests (%d events), want 4", len(grp.Requests), grp.Events)
	}
	if d := time.Since(start); d < 200*time.Millisecond || d > 4*time.Second {
		t.Errorf("burst took %v: want one gap after the last request", d)
	}
	// A lone request waits at most wait in all, whatever the gap.
	start = time.Now()
	if g.Burst(&grp, time.Hour, 20*time.Millisecond) {
		t.Error("Burst added a request none sent")
	}
	if d := time.Since(start); d < 20*time.Millisecond || d > 2*time.Second {
		t.Errorf("an idle burst took %v, want about 20ms", d)
	}
	for _, r := range grp.Requests {
		r.Reply(Result{})
	}
	// A full group does not wait.
	g = q.Gatherer(1)
	submit()
	if !g.Next(&grp) {
		t.Fatal("no request")
	}
	start = time.Now()
	g.Burst(&grp, time.Hour, time.Hour)
	if d := time.Since(start); d > time.Second {
		t.Errorf("a full group waited %v", d)
	}
	for _, r := range grp.Requests {
		r.Reply(Result{})
	}
}
