package sqlitestore_test

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stigaudit/stigaudit/core/event"
	"github.com/stigaudit/stigaudit/hostfns/sqlitestore"
	"github.com/stigaudit/stigaudit/hostfns/storetest"
)

const (
	crashEnvDB    = "STIGAUDIT_CRASH_DB"
	crashEnvRound = "STIGAUDIT_CRASH_ROUND"
)

// TestCrashChild is the process TestCrash kills: it appends from many
// goroutines and prints "ACK <tenant> <id>" for every acknowledged event, one write
// per line, until it is killed.
func TestCrashChild(t *testing.T) {
	path := os.Getenv(crashEnvDB)
	if path == "" {
		t.Skip("run by TestCrash")
	}
	var round int
	fmt.Sscan(os.Getenv(crashEnvRound), &round)
	s, err := sqlitestore.Open(path, sqlitestore.Options{})
	if err != nil {
		fmt.Printf("ERR open: %v\n", err)
		os.Exit(1)
	}
	var out sync.Mutex
	for g := 0; g < 32; g++ {
		go func() {
			for i := 0; ; i++ {
				base := round*10_000_000 + g*100_000 + i*3
				evs := storetest.NewEvents(base, 1+i%3) // 1, 2 or 3 events per call
				if _, err := s.Append(ctx, evs); err != nil {
					fmt.Printf("ERR append: %v\n", err)
					os.Exit(1)
				}
				var b strings.Builder
				for _, e := range evs {
					fmt.Fprintf(&b, "ACK %s %s\n", e.Tenant, e.ID)
				}
				out.Lock()
				os.Stdout.WriteString(b.String()) // one write(2): whole lines reach the pipe or none
				out.Unlock()
			}
		}()
	}
	select {}
}

// TestCrash kills a process that is appending (SIGKILL, no chance to
// flush or close), several times over the same file, and checks after each
// kill that every event the process acknowledged is stored, seqs are
// contiguous and the stored Merkle tree matches the leaves.
func TestCrash(t *testing.T) {
	if testing.Short() {
		t.Skip("starts child processes")
	}
	path := filepath.Join(t.TempDir(), "crash.db")
	acked := map[string]bool{}
	for round := 0; round < 3; round++ {
		n := crashRound(t, path, round, acked)
		t.Logf("round %d: killed after %d acknowledgements", round, n)

		s, err := sqlitestore.Open(path, sqlitestore.Options{})
		if err != nil {
			t.Fatalf("reopen after kill: %v", err)
		}
		size := size(t, s)
		var count, maxSeq int64
		if err := s.DB().QueryRow(`SELECT count(*), COALESCE(MAX(seq), -1) FROM events`).Scan(&count, &maxSeq); err != nil {
			t.Fatal(err)
		}
		if count != size || maxSeq != size-1 {
			t.Fatalf("after kill: %d rows, max seq %d, size %d: seqs are not contiguous", count, maxSeq, size)
		}
		for key := range acked {
			tenant, id, _ := strings.Cut(key, " ")
			if _, err := s.Get(ctx, tenant, id); err != nil {
				t.Fatalf("acknowledged event %s of %s lost in the crash: %v", id, tenant, err)
			}
		}
		if size < int64(len(acked)) {
			t.Fatalf("size %d < %d acknowledged", size, len(acked))
		}
		storetest.CheckTree(t, s)
		// The log carries on after the crash.
		e := storetest.NewEvent(99_000_000 + round)
		if out, err := s.Append(ctx, []event.Event{e}); err != nil || out[0].Seq != size {
			t.Fatalf("append after reopen: %v, %v; want seq %d", out, err, size)
		}
		acked[e.Tenant+" "+e.ID] = true
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

// crashRound runs the child until it has acknowledged a few hundred events,
// kills it, and adds every id it acknowledged to acked.
func crashRound(t *testing.T, path string, round int, acked map[string]bool) int {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$")
	cmd.Env = append(os.Environ(), crashEnvDB+"="+path, fmt.Sprintf("%s=%d", crashEnvRound, round))
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	killAt := 300 + 200*round
	timeout := time.AfterFunc(60*time.Second, func() { cmd.Process.Kill() })
	defer timeout.Stop()
	n := 0
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		line := sc.Text()
		if id, ok := strings.CutPrefix(line, "ACK "); ok {
			acked[id] = true
			n++
			if n == killAt {
				cmd.Process.Kill() // SIGKILL; keep reading what was already written
			}
		} else if strings.HasPrefix(line, "ERR ") {
			t.Errorf("child: %s", line)
		}
	}
	cmd.Wait()
	if n < killAt {
		t.Fatalf("child stopped after %d acknowledgements, before being killed", n)
	}
	return n
}
