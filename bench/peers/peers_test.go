package main

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestSampleSize pins the one event every peer writes to eventSize bytes,
// whatever the writer and call numbers.
func TestSampleSize(t *testing.T) {
	for _, wi := range [][2]int{{0, 0}, {7, 12345}, {63, 9999999}} {
		if n := len(newSample(wi[0], wi[1]).JSON()); n != eventSize {
			t.Errorf("sample(%d, %d) is %d bytes, want %d", wi[0], wi[1], n, eventSize)
		}
	}
}

// TestPeersAppend drives every peer briefly and checks that it
// acknowledged every call without an error.
func TestPeersAppend(t *testing.T) {
	for _, p := range []peer{inProcess, overHTTP(1), overHTTP(3), seedEmit, tesseraPOSIX("tessera", 5*time.Millisecond, time.Second)} {
		t.Run(p.Name, func(t *testing.T) {
			r, err := cell(context.Background(), p, t.TempDir(), 2, 50*time.Millisecond)
			if err != nil {
				t.Fatal(err)
			}
			if r.Errors != 0 || r.Events == 0 {
				t.Fatalf("%d events, %d errors (%s)", r.Events, r.Errors, r.FirstError)
			}
		})
	}
}

// TestSeedSetsSeq checks the re-enacted seed stores each event once, with
// seq set from its rowid as the seed's UPDATE does.
func TestSeedSetsSeq(t *testing.T) {
	dir := t.TempDir()
	s, err := seedEmit.Open(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		if err := s.Call(context.Background(), 0, i); err != nil {
			t.Fatal(err)
		}
	}
	db, err := sql.Open("sqlite", seedDSN(filepath.Join(dir, "seed.db")))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var rows, bad int
	if err := db.QueryRow(`SELECT count(*), count(*) FILTER (WHERE seq IS NULL OR seq != rowid) FROM fact_audit_log`).Scan(&rows, &bad); err != nil {
		t.Fatal(err)
	}
	if rows != 5 || bad != 0 {
		t.Fatalf("%d rows, %d without seq = rowid; want 5 and 0", rows, bad)
	}
	var indexes int
	if err := db.QueryRow(`SELECT count(*) FROM sqlite_master WHERE type = 'index' AND tbl_name = 'fact_audit_log' AND name LIKE 'idx_%'`).Scan(&indexes); err != nil {
		t.Fatal(err)
	}
	if indexes != 5 {
		t.Fatalf("%d indexes, want the seed's five", indexes)
	}
}

// TestTesseraCheckpoint checks that what tessera acknowledged is in its
// log: after shutdown the published checkpoint commits to every entry.
func TestTesseraCheckpoint(t *testing.T) {
	dir := t.TempDir()
	s, err := tesseraPOSIX("tessera", 5*time.Millisecond, time.Second).Open(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if err := s.Call(context.Background(), 0, i); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	cp, err := os.ReadFile(filepath.Join(dir, "checkpoint"))
	if err != nil {
		t.Fatal(err)
	}
	// A checkpoint note: origin, tree size, root hash, blank line, signature.
	if lines := strings.Split(string(cp), "\n"); len(lines) < 2 || lines[1] != "3" {
		t.Fatalf("checkpoint does not commit to 3 entries:\n%s", cp)
	}
}
