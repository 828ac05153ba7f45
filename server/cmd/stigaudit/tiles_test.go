package main

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	sumdbtlog "golang.org/x/mod/sumdb/tlog"

	"github.com/stigaudit/stigaudit/core/checkpoint"
	"github.com/stigaudit/stigaudit/core/merkle"
)

// fsckBin finds tessera's fsck, which audits a tlog-tiles log, or skips.
func fsckBin(t *testing.T) string {
	return toolBin(t, "STIGAUDIT_FSCK", "STIGAUDIT_REQUIRE_FSCK", "fsck", "go install github.com/transparency-dev/tessera/cmd/fsck@v1.0.4")
}

// runFsck audits the server's tiles. It returns "ok" when fsck finished
// with every range checked, "invalid" as soon as fsck reports an invalid
// range (it then keeps retrying; it is stopped), and what it printed.
func runFsck(t testing.TB, bin, url, key, vkeyFile string) (string, string) {
	t.Helper()
	return runFsckWithin(t, 60*time.Second, bin, url, key, vkeyFile)
}

// runFsckWithin is runFsck with its time limit.
func runFsckWithin(t testing.TB, limit time.Duration, bin, url, key, vkeyFile string) (string, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "--storage_url", url+"/v1/audit/tlog/", "--bearer_token", key,
		"--public_key", vkeyFile, "--ui=false", "-v=1")
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	waited := make(chan error, 1)
	go func() { waited <- cmd.Wait(); pw.Close() }()
	var out bytes.Buffer
	verdict := ""
	sc := bufio.NewScanner(pr)
	for sc.Scan() {
		out.WriteString(sc.Text() + "\n")
		if strings.Contains(sc.Text(), "Invalid") && verdict == "" {
			verdict = "invalid"
			cmd.Process.Kill()
		}
	}
	err := <-waited
	switch {
	case verdict != "":
	case err == nil && !bytes.Contains(out.Bytes(), []byte("fsck failed")):
		verdict = "ok"
	default:
		verdict = fmt.Sprintf("failed (%v)", err)
	}
	return verdict, out.String()
}

// TestTilesPassTesserasFsck serves the log as C2SP tlog-tiles and has
// tessera's fsck — a tool we did not write — audit it: checkpoint
// signature, every entry bundle against the level-0 tiles, every tile
// against the one above, the root against the checkpoint — over 70,001
// events, so levels 0 to 2 carry full and partial tiles. An event changed
// in the database behind the server's back is found.
func TestTilesPassTesserasFsck(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the server and fsck")
	}
	fsck := fsckBin(t)
	bin := buildBinary(t)
	dir := t.TempDir()
	p := startServe(t, bin, dir)
	admin := readAdminKey(t, dir)
	vkey := verifierKey(t, dir)
	vkeyFile := filepath.Join(t.TempDir(), "log.pub")
	os.WriteFile(vkeyFile, []byte(vkey), 0o644)
	var batch strings.Builder
	// 70,000 events and the bootstrap key's: full and partial tiles at
	// levels 0 and 1, and a partial tile at level 2 (70,001 = 1·256² +
	// 17·256 + 113).
	for b := range 70 {
		batch.Reset()
		batch.WriteString(`{"events":[`)
		for i := range 1000 {
			if i > 0 {
				batch.WriteByte(',')
			}
			fmt.Fprintf(&batch, `{"event_type":"fact_write","entity_uri":"urn:test:%d","fact_id":"f%d"}`, b, i)
		}
		batch.WriteString(`]}`)
		if code, body := emitHTTP(t, p.url, admin, batch.String()); code != 201 {
			t.Fatalf("emit: %d %s", code, body)
		}
	}
	waitSigned(t, p, admin, 70001)
	if v, out := runFsck(t, fsck, p.url, admin, vkeyFile); v != "ok" {
		t.Fatalf("fsck: %s\n%s", v, out)
	}
	sumdbReadsOurTiles(t, p.url, admin)
	// A read key sees hash tiles, not the entry bundles of every tenant.
	_, reader, _ := cli(t, "keys", "create", "--data-dir", dir, "--tenant", "default", "--entity", "urn:r", "--perm", "read")
	reader = strings.TrimSpace(reader)
	if code := tileStatus(t, p.url, reader, "/v1/audit/tlog/tile/0/000"); code != 200 {
		t.Fatalf("hash tile for a read key: %d", code)
	}
	if code := tileStatus(t, p.url, reader, "/v1/audit/tlog/tile/entries/000"); code != 403 {
		t.Fatalf("entry bundle for a read key: %d", code)
	}
	for _, path := range []string{"/v1/audit/tlog/tile/0/x000/000", "/v1/audit/tlog/tile/0/5", "/v1/audit/tlog/tile/0/x001/000", "/v1/audit/tlog/tile/0/000.p/0", "/v1/audit/tlog/tile/64/000"} {
		if code := tileStatus(t, p.url, admin, path); code != 404 {
			t.Errorf("%s: %d, want 404", path, code)
		}
	}
	p.kill(syscall.SIGTERM)

	db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, DBFile))
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{`DROP TRIGGER events_no_update`, `UPDATE events SET entity_uri = 'urn:test:mallory' WHERE seq = 300`} {
		if _, err := db.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	db.Close()
	p = startServe(t, bin, dir)
	// Event 300 is in the second entry bundle: fsck finds that bundle's
	// leaves do not make the level-0 tile [1, 2).
	if v, out := runFsck(t, fsck, p.url, admin, vkeyFile); v != "invalid" || !strings.Contains(out, "[1, 2):Invalid") {
		t.Fatalf("fsck on a log with a changed event: %s\n%s", v, out)
	}
}

func tileStatus(t *testing.T, url, key, path string) int {
	t.Helper()
	code, _ := getWith(t, url+path, key)
	return code
}

// tilesOverHTTP is golang.org/x/mod/sumdb/tlog's TileReader over our
// tlog-tiles routes (sumdb's tile paths carry the height, 8, which C2SP's
// omit).
type tilesOverHTTP struct {
	t        *testing.T
	url, key string
}

func (r tilesOverHTTP) Height() int { return 8 }

func (r tilesOverHTTP) ReadTiles(tiles []sumdbtlog.Tile) ([][]byte, error) {
	out := make([][]byte, len(tiles))
	for i, tile := range tiles {
		path := "tile/" + strings.TrimPrefix(tile.Path(), "tile/8/")
		code, b := getWith(r.t, r.url+"/v1/audit/tlog/"+path, r.key)
		if code != 200 {
			return nil, fmt.Errorf("%s: HTTP %d %s", path, code, b)
		}
		out[i] = b
	}
	return out, nil
}

func (r tilesOverHTTP) SaveTiles([]sumdbtlog.Tile, [][]byte) {}

// sumdbReadsOurTiles has Go's checksum-database code prove, from our hash
// tiles alone, records and an older tree into the signed checkpoint.
func sumdbReadsOurTiles(t *testing.T, url, key string) {
	t.Helper()
	code, note := getWith(t, url+"/v1/audit/tlog/checkpoint", key)
	if code != 200 {
		t.Fatalf("tlog checkpoint: %d", code)
	}
	c, err := checkpoint.ParseBody(note[:bytes.Index(note, []byte("\n\n"))+1])
	if err != nil {
		t.Fatal(err)
	}
	tree := sumdbtlog.Tree{N: int64(c.Size), Hash: sumdbtlog.Hash(c.Root)}
	hr := sumdbtlog.TileHashReader(tree, tilesOverHTTP{t, url, key})
	code, bundle := getWith(t, url+"/v1/audit/tlog/tile/entries/001", key) // entries 256–511
	if code != 200 {
		t.Fatalf("entry bundle 1: %d", code)
	}
	for _, n := range []int64{256, 300, 511} {
		entry := bundle
		for i := int64(256); ; i++ {
			l := int(binary.BigEndian.Uint16(entry))
			if i == n {
				entry = entry[2 : 2+l]
				break
			}
			entry = entry[2+l:]
		}
		proof, err := sumdbtlog.ProveRecord(tree.N, n, hr)
		if err != nil {
			t.Fatalf("sumdb ProveRecord(%d): %v", n, err)
		}
		if err := sumdbtlog.CheckRecord(proof, tree.N, tree.Hash, n, sumdbtlog.RecordHash(entry)); err != nil {
			t.Fatalf("sumdb CheckRecord(%d): %v", n, err)
		}
	}
	old := int64(65536)
	oldHash, err := sumdbtlog.TreeHash(old, hr)
	if err != nil {
		t.Fatal(err)
	}
	tp, err := sumdbtlog.ProveTree(tree.N, old, hr)
	if err != nil {
		t.Fatal(err)
	}
	if err := sumdbtlog.CheckTree(tp, tree.N, tree.Hash, old, oldHash); err != nil {
		t.Fatalf("sumdb CheckTree(%d → %d): %v", old, tree.N, err)
	}
	// And the older tree's hash is the one our consistency proof agrees on.
	_, cons := getWith(t, fmt.Sprintf("%s/v1/audit/proof/consistency?from=%d&to=%d", url, old, tree.N), key)
	var cp merkle.ConsistencyProof
	if err := cp.UnmarshalJSON(cons); err != nil || cp.Verify([32]byte(oldHash), c.Root) != nil {
		t.Fatalf("our consistency proof from %d disagrees with the tiles' tree hash: %v", old, err)
	}
}

// BenchmarkFsck1M serves a 1,000,000-event log (the real binary, SQLite)
// and times tessera's fsck over its tiles beside `stigaudit verify` over
// its database, on the same log:
//
//	go test -run '^$' -bench Fsck1M -benchtime 1x -timeout 30m ./server/cmd/stigaudit/
func BenchmarkFsck1M(b *testing.B) {
	fsck := toolBin(b, "STIGAUDIT_FSCK", "STIGAUDIT_REQUIRE_FSCK", "fsck", "go install github.com/transparency-dev/tessera/cmd/fsck@v1.0.4")
	bin := buildBinary(b)
	dir := b.TempDir()
	p := startServe(b, bin, dir)
	admin := readAdminKey(b, dir)
	vkey := verifierKey(b, dir)
	vkeyFile := filepath.Join(b.TempDir(), "log.pub")
	os.WriteFile(vkeyFile, []byte(vkey), 0o644)
	const total = 1_000_000
	var batch strings.Builder
	for k := range total / 1000 {
		batch.Reset()
		batch.WriteString(`{"events":[`)
		for i := range 1000 {
			if i > 0 {
				batch.WriteByte(',')
			}
			fmt.Fprintf(&batch, `{"event_type":"fact_write","entity_uri":"urn:test:%d","fact_id":"f%d"}`, k, i)
		}
		batch.WriteString(`]}`)
		if code, body := emitHTTP(b, p.url, admin, batch.String()); code != 201 {
			b.Fatalf("emit: %d %s", code, body)
		}
	}
	waitSigned(b, p, admin, total+1)
	for b.Loop() {
		start := time.Now()
		if v, out := runFsckWithin(b, 20*time.Minute, fsck, p.url, admin, vkeyFile); v != "ok" {
			b.Fatalf("fsck: %s\n%.2000s", v, out)
		}
		fsckTime := time.Since(start)
		start = time.Now()
		out, err := exec.Command(bin, "verify", "--data-dir", dir, "--verifier-key", vkey, "--allow-tail").CombinedOutput()
		if err != nil {
			b.Fatalf("verify: %v\n%s", err, out)
		}
		verifyTime := time.Since(start)
		b.ReportMetric(fsckTime.Seconds(), "fsck-s")
		b.ReportMetric(verifyTime.Seconds(), "verify-db-s")
	}
}
