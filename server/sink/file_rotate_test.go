package sink

import (
	"bufio"
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stigaudit/stigaudit/core/event"
	"github.com/stigaudit/stigaudit/hostfns/storetest"
	"github.com/stigaudit/stigaudit/internal/waitfor"
)

// readLines parses every line of the file at path as an event, failing
// unless the file is empty or ends with a newline.
func readLines(t testing.TB, path string) []event.Event {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(data) > 0 && data[len(data)-1] != '\n' {
		t.Fatalf("%s does not end with a newline", path)
	}
	var out []event.Event
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, 1<<20)
	for n := 1; sc.Scan(); n++ {
		e, err := event.ParseEvent(sc.Bytes())
		if err != nil {
			t.Fatalf("%s line %d is not an event: %v: %s", path, n, err, sc.Bytes())
		}
		out = append(out, e)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// exactlyOnce fails unless seqs holds every seq of [0, n) once.
func exactlyOnce(t testing.TB, seqs []int64, n int64) {
	t.Helper()
	seen := make([]int, n)
	for _, s := range seqs {
		if s < 0 || s >= n {
			t.Fatalf("seq %d outside 0..%d", s, n-1)
		}
		seen[s]++
	}
	for s, c := range seen {
		if c != 1 {
			t.Fatalf("seq %d found %d times", s, c)
		}
	}
}

// 100,000 events through the real Dispatcher, from a durable cursor, to
// a file sink rotating every MiB: every seq lands exactly once across the
// files, and each file is complete NDJSON no larger than a MiB. (Under the
// race detector: 20,000 events rotating every 256 KiB, as many rotations
// in a fifth of the time.)
func TestFileRotatesBySize(t *testing.T) {
	var total, maxSize int64 = 100_000, 1 << 20
	spec := "1MiB"
	if raceEnabled {
		total, maxSize, spec = 20_000, 256<<10, "256KiB"
	}
	l := openLog(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "events.jsonl")
	s, err := ParseWith("file:"+path+"?max_size="+spec, ParseOptions{})
	if err != nil {
		t.Fatal(err)
	}
	d, err := NewDispatcher(context.Background(), []Sink{s}, fast(l, newRecorder()))
	if err != nil {
		t.Fatal(err)
	}
	l.add(t, d, int(total), 1000)
	if err := d.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := l.cursor(t, s); got != total {
		t.Fatalf("cursor %d after a graceful close, want %d", got, total)
	}
	rotated, err := s.(*File).rotated()
	if err != nil {
		t.Fatal(err)
	}
	files := append(rotated, path)
	var seqs []int64
	last := int64(-1)
	for _, f := range files {
		st, err := os.Stat(f)
		if err != nil {
			t.Fatal(err)
		}
		if st.Size() > maxSize {
			t.Errorf("%s holds %d bytes, more than max_size", f, st.Size())
		}
		evs := readLines(t, f)
		if len(evs) == 0 {
			t.Errorf("%s is empty", f)
			continue
		}
		if evs[0].Seq <= last {
			t.Errorf("%s starts at seq %d, not after the previous file's %d", f, evs[0].Seq, last)
		}
		last = evs[len(evs)-1].Seq
		seqs = append(seqs, seqsOf(evs)...)
	}
	exactlyOnce(t, seqs, total)
	if len(rotated) < 20 {
		t.Errorf("%d rotated files, want at least 20 for %d events of ~%d bytes", len(rotated), total, len(seqs))
	}
	t.Logf("%d events in %d rotated files and the current one", len(seqs), len(rotated))
}

// numbered returns storetest's event n with seq n.
func numbered(n int) event.Event {
	e := storetest.NewEvent(n)
	e.Seq = int64(n)
	return e
}

// Rotation by age and the retention count: with keep=2 only the two
// newest rotated files remain, and files that are not the sink's own
// (an operator's PATH.1) are left alone.
func TestFileRotatesByAgeAndKeeps(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "e.jsonl")
	if err := os.WriteFile(path+".1", []byte("operator's\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	f, err := OpenFileWith(path, FileOptions{MaxAge: time.Hour, Keep: 2, Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	ctx := context.Background()
	for i := range 5 {
		if err := f.Write(ctx, []event.Event{numbered(2 * i), numbered(2*i + 1)}); err != nil {
			t.Fatal(err)
		}
		if err := f.Write(ctx, []event.Event{numbered(100 + i)}); err != nil { // not yet due
			t.Fatal(err)
		}
		mu.Lock()
		now = now.Add(time.Hour)
		mu.Unlock()
	}
	rotated, err := f.rotated()
	if err != nil {
		t.Fatal(err)
	}
	if len(rotated) != 2 {
		t.Fatalf("rotated files %v, want the 2 newest", rotated)
	}
	if want := path + ".20261207T150000.000000000Z"; rotated[0] != want {
		t.Errorf("oldest kept %s, want %s", rotated[0], want)
	}
	for i, r := range rotated {
		if got := seqsOf(readLines(t, r)); len(got) != 3 || got[0] != int64(2*(i+2)) {
			t.Errorf("%s holds seqs %v", r, got)
		}
	}
	if _, err := os.Stat(path + ".1"); err != nil {
		t.Errorf("the operator's file was removed: %v", err)
	}
	if got := seqsOf(readLines(t, path)); len(got) != 3 || got[0] != 8 {
		t.Errorf("the current file holds seqs %v, want 8, 9, 104", got)
	}
}

// logrotate without copytruncate: the file is moved away while the
// Dispatcher writes, and Reopen (SIGHUP) starts a new one. Every seq is in
// exactly one of the two files, each complete.
func TestFileReopenAfterExternalRename(t *testing.T) {
	total := 20_000
	if raceEnabled {
		total = 5_000
	}
	l := openLog(t)
	path := filepath.Join(t.TempDir(), "events.jsonl")
	s, err := ParseWith("file:"+path+"?tenant=acme,globex", ParseOptions{}) // through Filtered: Reopen is passed on
	if err != nil {
		t.Fatal(err)
	}
	r, ok := s.(Reopener)
	if !ok {
		t.Fatalf("%T is not a Reopener", s)
	}
	opt := fast(l, newRecorder())
	opt.MaxBatch = 100
	d, err := NewDispatcher(context.Background(), []Sink{s}, opt)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		l.add(t, d, total, 50)
	}()
	waitfor.Until(t, 30*time.Second, "some events in the file", func() bool {
		st, err := os.Stat(path)
		return err == nil && st.Size() > 100_000
	})
	if err := os.Rename(path, path+".1"); err != nil {
		t.Fatal(err)
	}
	time.Sleep(20 * time.Millisecond) // lines keep going to the moved file until the reopen
	if err := r.Reopen(); err != nil {
		t.Fatal(err)
	}
	<-done
	if err := d.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	moved, current := readLines(t, path+".1"), readLines(t, path)
	if len(moved) == 0 || len(current) == 0 {
		t.Fatalf("%d events in the moved file, %d in the new one: want both non-empty", len(moved), len(current))
	}
	if moved[len(moved)-1].Seq+1 != current[0].Seq {
		t.Errorf("the moved file ends at seq %d, the new one starts at %d", moved[len(moved)-1].Seq, current[0].Seq)
	}
	exactlyOnce(t, append(seqsOf(moved), seqsOf(current)...), int64(total))
	t.Logf("%d events in the moved file, %d in the new one", len(moved), len(current))
}

func TestFileReopenAfterClose(t *testing.T) {
	f, err := OpenFile(filepath.Join(t.TempDir(), "e.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	if err := f.Reopen(); err == nil || !strings.Contains(err.Error(), "closed") {
		t.Errorf("Reopen after Close: %v, want ErrClosed", err)
	}
}

// A rotation due after logrotate moved the file, before its SIGHUP, starts
// a new PATH instead of failing every Write until the signal comes.
func TestFileRotationAfterAnExternalMove(t *testing.T) {
	path := filepath.Join(t.TempDir(), "e.jsonl")
	f, err := OpenFileWith(path, FileOptions{MaxSize: 1, Keep: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	ctx := context.Background()
	if err := f.Write(ctx, []event.Event{numbered(0)}); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(path, path+".1"); err != nil {
		t.Fatal(err)
	}
	if err := f.Write(ctx, []event.Event{numbered(1)}); err != nil {
		t.Fatalf("Write after an external move: %v", err)
	}
	if got := seqsOf(readLines(t, path+".1")); len(got) != 1 || got[0] != 0 {
		t.Errorf("moved file holds %v, want [0]", got)
	}
	if got := seqsOf(readLines(t, path)); len(got) != 1 || got[0] != 1 {
		t.Errorf("new file holds %v, want [1]", got)
	}
}
