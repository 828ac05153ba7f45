package main

import (
	"bufio"
	"crypto/rand"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/stigaudit/stigaudit/core/checkpoint"
	"github.com/stigaudit/stigaudit/core/merkle"

	"github.com/stigaudit/stigaudit/server/export"
	"github.com/stigaudit/stigaudit/server/tlog"
)

// The 1,000,000-event export is written only when the benchmark runs, once
// per process; TestMain removes it.
const benchExportSize = 1_000_000

var benchExportDir string

// TestMain also makes the test binary the stigaudit command of the
// testscript scripts (script_test.go).
func TestMain(m *testing.M) {
	//lint:ignore SA1019 testscript.Main exits itself, before the benchmark's export is removed
	code := testscript.RunMain(m, map[string]func() int{"stigaudit": realMain})
	if benchExportDir != "" {
		os.RemoveAll(benchExportDir)
	}
	os.Exit(code)
}

var benchExport = sync.OnceValues(func() (string, *tlog.Key) {
	dir, err := os.MkdirTemp("", "stigaudit-verify-bench-")
	if err != nil {
		panic(err)
	}
	benchExportDir = dir
	path := filepath.Join(dir, "export.ndjson")
	f, err := os.Create(path)
	if err != nil {
		panic(err)
	}
	skey, _, err := checkpoint.GenerateKey(rand.Reader, "stigaudit/local")
	if err != nil {
		panic(err)
	}
	key, err := tlog.ParseKey(skey)
	if err != nil {
		panic(err)
	}
	w := bufio.NewWriterSize(f, 1<<20)
	var tree merkle.Tree
	var line []byte
	for base := 0; base < benchExportSize; base += 1000 {
		evs := testEvents(base, 1000, nil)
		for j := range evs {
			evs[j].Seq = int64(base + j)
			line = export.AppendLine(line[:0], &evs[j], nil)
			w.Write(append(line, '\n'))
			tree.Append(evs[j].LeafHash)
		}
	}
	note, err := checkpoint.Sign(checkpoint.Checkpoint{Origin: key.Origin, Size: tree.Size(), Root: tree.Root()}, key.Signer)
	if err != nil {
		panic(err)
	}
	w.Write(append(export.AppendTrailer(nil, export.Trailer{Checkpoint: note}), '\n'))
	if err := w.Flush(); err != nil {
		panic(err)
	}
	f.Close()
	return path, key
})

// BenchmarkVerifyNDJSON1M runs `stigaudit verify --ndjson` on a complete
// export of 1,000,000 events and reports events per second (goal, README.md#measured:
// at least 300,000).
func BenchmarkVerifyNDJSON1M(b *testing.B) {
	path, key := benchExport()
	st, _ := os.Stat(path)
	b.SetBytes(st.Size())
	b.ResetTimer()
	var d time.Duration
	cpu0 := cpuTime()
	for b.Loop() {
		start := time.Now()
		sum, err := verifyNDJSON(path, checkpoint.SingleKey(key.Verifier), nil, nil)
		d += time.Since(start)
		if err != nil || sum.events != benchExportSize {
			b.Fatal(err, sum.events)
		}
	}
	events := float64(benchExportSize) * float64(b.N)
	b.ReportMetric(events/d.Seconds(), "events/s")
	// On a shared machine wall time depends on the neighbours; CPU time
	// says what the verifier itself costs.
	b.ReportMetric(events/(cpuTime()-cpu0).Seconds(), "events/cpu-s")
}

// cpuTime returns the user and system CPU time of the process so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
