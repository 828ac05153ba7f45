package pgstore_test

import (
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stigaudit/stigaudit/core/event"
	"github.com/stigaudit/stigaudit/hostfns/pgstore"
	"github.com/stigaudit/stigaudit/hostfns/pgstore/pgtest"
	"github.com/stigaudit/stigaudit/hostfns/storetest"
	"github.com/stigaudit/stigaudit/internal/waitfor"
)

// collector records what a Feed delivered.
type collector struct {
	mu   sync.Mutex
	seqs []int64
}

func (c *collector) deliver(evs []event.Event) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, e := range evs {
		c.seqs = append(c.seqs, e.Seq)
	}
}

func (c *collector) got() []int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.seqs)
}

// Three replicas feed one downstream each; only the elected one delivers,
// and after a graceful hand-over the next goes on exactly where it
// stopped, from memory or, for what it never saw, from the store.
func TestFeedDeliversEachEventOnceAcrossReplicas(t *testing.T) {
	dsn := pgtest.DSN(t)
	var stores []*pgstore.Store
	var feeds []*pgstore.Feed
	var cols []*collector
	first := open(t, dsn, pgstore.Options{})
	if _, err := first.Append(ctx, storetest.NewEvents(0, 5)); err != nil { // before any feed: not delivered
		t.Fatal(err)
	}
	for i := range 3 {
		s := first
		if i > 0 {
			s = open(t, dsn, pgstore.Options{})
		}
		c := &collector{}
		f, err := s.NewFeed("sinks", pgstore.FeedOptions{Deliver: c.deliver, Interval: interval, Logger: quiet})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { f.Close() })
		stores, feeds, cols = append(stores, s), append(feeds, f), append(cols, c)
	}
	total := func() int {
		n := 0
		for _, c := range cols {
			n += len(c.got())
		}
		return n
	}
	leaderOf := func() int {
		for i, f := range feeds {
			if f != nil && f.IsLeader() {
				return i
			}
		}
		return -1
	}
	// Committed once the feeds exist, before any is elected: delivered.
	early, err := stores[1].Append(ctx, storetest.NewEvents(5, 4))
	if err != nil {
		t.Fatal(err)
	}
	feeds[1].Offer(early)
	waitfor.Until(t, 10*time.Second, "a feed leader", func() bool { return leaderOf() >= 0 })

	// Each replica appends and offers its own events, as its Log would;
	// the leader's are delivered from memory, the others' read back.
	for i := 1; i < 30; i++ {
		s := stores[i%3]
		evs, err := s.Append(ctx, storetest.NewEvents(5+i*4, 4))
		if err != nil {
			t.Fatal(err)
		}
		feeds[i%3].Offer(evs)
	}
	waitfor.Until(t, 10*time.Second, "120 events delivered", func() bool { return total() >= 120 })

	// Graceful hand-over: the leader resigns; events appended meanwhile
	// reach the next leader from the saved cursor.
	old := leaderOf()
	if err := feeds[old].Close(); err != nil {
		t.Fatal(err)
	}
	feeds[old] = nil
	for i := range 10 {
		if _, err := stores[(old+1)%3].Append(ctx, storetest.NewEvents(125+i*5, 5)); err != nil {
			t.Fatal(err)
		}
	}
	// A marker after them: the leader delivers in seq order, so once it
	// has the marker it has delivered everything before it, repeats
	// included; nothing the check below counts can still be on its way.
	if _, err := stores[(old+1)%3].Append(ctx, storetest.NewEvents(175, 1)); err != nil {
		t.Fatal(err)
	}
	waitfor.Until(t, 10*time.Second, "the marker (seq 175) delivered", func() bool {
		for _, c := range cols {
			if slices.Contains(c.got(), 175) {
				return true
			}
		}
		return false
	})

	var all []int64
	for i, c := range cols {
		got := c.got()
		if !slices.IsSorted(got) {
			t.Errorf("replica %d delivered out of seq order: %v", i, got)
		}
		all = append(all, got...)
	}
	slices.Sort(all)
	want := make([]int64, 0, 171)
	for seq := int64(5); seq <= 175; seq++ {
		want = append(want, seq)
	}
	if !slices.Equal(all, want) {
		t.Fatalf("delivered %d events (%v...), want seqs 5..175 once each", len(all), all[:min(len(all), 10)])
	}
}
