package main

import (
	"bytes"
	"crypto/rand"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stigaudit/stigaudit/core/checkpoint"
	"github.com/stigaudit/stigaudit/hostfns/pgstore"
	"github.com/stigaudit/stigaudit/hostfns/sqlitestore"
	"github.com/stigaudit/stigaudit/server/tlog"
)

// benchDBSize is the number of events BenchmarkVerifyDB verifies.
const benchDBSize = 100_000

// BenchmarkVerifyDB runs `stigaudit verify --db` on a SQLite file and on
// a PostgreSQL schema holding the same 100,000 events and reports events
// per second, and per CPU second of the verifier process (the database
// server's own CPU, PostgreSQL's in particular, is not counted).
func BenchmarkVerifyDB(b *testing.B) {
	for _, bc := range []struct {
		name string
		open func(b *testing.B) (db string, vkey string)
	}{
		{"sqlite", func(b *testing.B) (string, string) {
			dir := b.TempDir()
			st, err := sqlitestore.Open(filepath.Join(dir, DBFile), sqlitestore.Options{Synchronous: "OFF"})
			if err != nil {
				b.Fatal(err)
			}
			defer st.Close()
			key, err := tlog.LoadOrCreateKey(dir, "", rand.Reader)
			if err != nil {
				b.Fatal(err)
			}
			cp, err := tlog.New(bg, tlog.Config{Tree: st, Checkpoints: st.Checkpoints(), Key: key})
			if err != nil {
				b.Fatal(err)
			}
			for done := 0; done < benchDBSize; done += 1000 {
				if _, err := st.Append(bg, testEvents(done, 1000, nil)); err != nil {
					b.Fatal(err)
				}
			}
			if _, err := cp.Sync(bg); err != nil {
				b.Fatal(err)
			}
			return filepath.Join(dir, DBFile), key.VerifierKey
		}},
		{"postgres", func(b *testing.B) (string, string) {
			l := newPgLog(b, benchDBSize, nil)
			return l.dsn, l.vkey
		}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			db, vkey := bc.open(b)
			key, err := readVerifierKey(vkey)
			if err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			var d, serverCPU time.Duration
			cpu0 := cpuTime()
			for b.Loop() {
				start := time.Now()
				l, err := openLogReadOnly(bg, db)
				if err != nil {
					b.Fatal(err)
				}
				sum, err := verifyDB(bg, l, checkpoint.SingleKey(key), nil, nil, false)
				if pgstore.IsURL(db) {
					serverCPU += backendCPU(b, db)
				}
				l.Close()
				d += time.Since(start)
				if err != nil || sum.events != benchDBSize {
					b.Fatal(err, sum.events)
				}
			}
			events := float64(benchDBSize) * float64(b.N)
			b.ReportMetric(events/d.Seconds(), "events/s")
			b.ReportMetric(events/(cpuTime()-cpu0).Seconds(), "events/cpu-s")
			if serverCPU > 0 {
				b.ReportMetric(events/serverCPU.Seconds(), "events/server-cpu-s")
			}
		})
	}
}

// backendCPU returns the CPU time the PostgreSQL backends of verify have
// used so far (their /proc entries: the server must run on this machine),
// asked on a connection of its own to dsn.
func backendCPU(b *testing.B, dsn string) time.Duration {
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	rows, err := db.QueryContext(bg, `SELECT pid FROM pg_stat_activity WHERE application_name = 'stigaudit verify'`)
	if err != nil {
		b.Fatal(err)
	}
	defer rows.Close()
	var total time.Duration
	for rows.Next() {
		var pid int
		if err := rows.Scan(&pid); err != nil {
			b.Fatal(err)
		}
		stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			b.Skipf("the PostgreSQL server's processes are not readable here: %v", err)
		}
		f := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+2:]))
		utime, _ := strconv.ParseInt(f[11], 10, 64)
		stime, _ := strconv.ParseInt(f[12], 10, 64)
		total += time.Duration(utime+stime) * time.Second / 100 // USER_HZ
	}
	return total
}
