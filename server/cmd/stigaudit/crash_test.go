package main

import (
	"bufio"
	"bytes"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stigaudit/stigaudit/core/checkpoint"
	"github.com/stigaudit/stigaudit/core/merkle"
)

// buildBinary builds the stigaudit command into a temporary directory, so
// the test runs what an operator runs.
func buildBinary(t testing.TB) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "stigaudit")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// serveProc is a running `stigaudit serve`.
type serveProc struct {
	cmd    *exec.Cmd
	url    string
	stderr *bytes.Buffer
	exited chan struct{}
}

func startServe(t testing.TB, bin, dir string, extra ...string) *serveProc {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"serve", "--data-dir", dir, "--listen", "127.0.0.1:0"}, extra...)...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	p := &serveProc{cmd: cmd, stderr: &bytes.Buffer{}, exited: make(chan struct{})}
	cmd.Stderr = p.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { cmd.Wait(); close(p.exited) }()
	t.Cleanup(func() { p.kill(syscall.SIGKILL) })
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		if u, ok := strings.CutPrefix(sc.Text(), "stigaudit listening on "); ok {
			p.url = u
			break
		}
	}
	go io.Copy(io.Discard, stdout)
	if p.url == "" {
		t.Fatalf("serve did not start: %s", p.stderr)
	}
	return p
}

func (p *serveProc) kill(sig syscall.Signal) {
	select {
	case <-p.exited:
		return
	default:
	}
	p.cmd.Process.Signal(sig)
	select {
	case <-p.exited:
	case <-time.After(20 * time.Second):
		p.cmd.Process.Kill()
		<-p.exited
	}
}

func (p *serveProc) get(t *testing.T, key, path string) []byte {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, p.url+path, nil)
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %d %s", path, resp.StatusCode, b)
	}
	return b
}

type acked struct {
	Seq      int64  `json:"seq"`
	LeafHash string `json:"leaf_hash"`
}

// TestSIGKILLUnderLoad kills the server while 16 clients emit, restarts it,
// and checks that nothing acknowledged is lost, the stored tree agrees with
// the events, and the first checkpoint after the restart extends the last
// one signed before the crash.
func TestSIGKILLUnderLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and runs the server")
	}
	bin := buildBinary(t)
	dir := t.TempDir()
	p := startServe(t, bin, dir)
	admin := readAdminKey(t, dir)
	vkey := verifierKey(t, dir)
	v, err := checkpoint.NewVerifier(vkey)
	if err != nil {
		t.Fatal(err)
	}

	// Load: 16 clients emitting until the server dies.
	var mu sync.Mutex
	var acks []acked
	var stop atomic.Bool
	var wg sync.WaitGroup
	client := &http.Client{Timeout: 5 * time.Second}
	for w := 0; w < 16; w++ {
		wg.Go(func() {
			for i := 0; !stop.Load(); i++ {
				body := fmt.Sprintf(`{"event_type":"fact_read","entity_uri":"urn:load:%d","detail":{"i":%d}}`, w, i)
				req, _ := http.NewRequest(http.MethodPost, p.url+"/v1/audit/events", strings.NewReader(body))
				req.Header.Set("Authorization", "Bearer "+admin)
				resp, err := client.Do(req)
				if err != nil {
					return // the server is gone
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 201 {
					continue
				}
				var a acked
				if json.Unmarshal(b, &a) == nil {
					mu.Lock()
					acks = append(acks, a)
					mu.Unlock()
				}
			}
		})
	}
	// A client watching checkpoints while the log grows.
	var seen []byte
	deadline := time.Now().Add(2500 * time.Millisecond)
	for time.Now().Before(deadline) {
		seen = p.get(t, admin, "/v1/audit/checkpoint")
		time.Sleep(100 * time.Millisecond)
	}
	p.kill(syscall.SIGKILL)
	stop.Store(true)
	wg.Wait()
	seenCP, err := checkpoint.Open(seen, "", v)
	if err != nil {
		t.Fatal(err)
	}
	if len(acks) < 100 || seenCP.Size == 0 {
		t.Fatalf("only %d events acknowledged, checkpoint size %d", len(acks), seenCP.Size)
	}
	seenFile := filepath.Join(t.TempDir(), "seen.checkpoint")
	os.WriteFile(seenFile, seen, 0o644)

	// The crashed database: the signed prefix and the unsigned tail both
	// agree with the stored tree.
	dbFile := filepath.Join(dir, DBFile)
	lastSigned := latestStored(t, dbFile)
	t.Logf("killed with %d events acknowledged; last checkpoint signed before the crash: size %d; seen by the client: %d", len(acks), lastSigned.Size, seenCP.Size)
	out, err := exec.Command(bin, "verify", "--db", dbFile, "--key", vkey, "--allow-tail", "--since-checkpoint", seenFile).CombinedOutput()
	if err != nil {
		t.Fatalf("verify --allow-tail on the crashed database: %v\n%s", err, out)
	}

	// Restart: the tail is signed at once, consistently with the last
	// checkpoint signed before the crash.
	p2 := startServe(t, bin, dir)
	var maxAck int64
	for _, a := range acks {
		maxAck = max(maxAck, a.Seq)
	}
	var after checkpoint.Checkpoint
	for start := time.Now(); ; {
		after, err = checkpoint.Open(p2.get(t, admin, "/v1/audit/checkpoint"), "", v)
		if err != nil {
			t.Fatal(err)
		}
		if after.Size > uint64(maxAck) {
			break
		}
		if time.Since(start) > 3*time.Second {
			t.Fatalf("after restart the checkpoint covers %d events; seq %d was acknowledged", after.Size, maxAck)
		}
		time.Sleep(50 * time.Millisecond)
	}
	var cons merkle.ConsistencyProof
	if err := cons.UnmarshalJSON(p2.get(t, admin, fmt.Sprintf("/v1/audit/proof/consistency?from=%d&to=%d", lastSigned.Size, after.Size))); err != nil {
		t.Fatal(err)
	}
	if err := cons.Verify(lastSigned.Root, after.Root); err != nil {
		t.Fatalf("the checkpoint after the restart does not extend the last one before the crash: %v", err)
	}
	// Every acknowledged event is there, with the leaf hash it was
	// acknowledged with, read straight from the file...
	stored := storedLeafHashes(t, dbFile)
	for _, a := range acks {
		if got, ok := stored[a.Seq]; !ok || got != a.LeafHash {
			t.Fatalf("acknowledged seq %d with leaf %s; the restarted log holds %q", a.Seq, a.LeafHash, got)
		}
	}
	// ... and a sample of them is proved into the new checkpoint over HTTP
	// (a request each).
	for i, a := range acks {
		if i%17 != 0 {
			continue
		}
		var ip merkle.InclusionProof
		if err := ip.UnmarshalJSON(p2.get(t, admin, fmt.Sprintf("/v1/audit/proof/inclusion?seq=%d&size=%d", a.Seq, after.Size))); err != nil {
			t.Fatal(err)
		}
		if merkle.Hex(ip.LeafHash) != a.LeafHash || ip.Verify(after.Root) != nil {
			t.Fatalf("acknowledged seq %d: leaf %x, acknowledged %s", a.Seq, ip.LeafHash, a.LeafHash)
		}
	}
	if r := p2.getStatus(t, "/readyz"); r != 200 {
		t.Fatalf("readyz after restart: %d\n%s", r, p2.stderr)
	}

	// A clean stop signs the whole log: the strict verify passes.
	p2.kill(syscall.SIGTERM)
	out, err = exec.Command(bin, "verify", "--db", dbFile, "--key", vkey, "--since-checkpoint", seenFile).CombinedOutput()
	if err != nil {
		t.Fatalf("verify after a clean stop: %v\n%s", err, out)
	}
	t.Logf("%s", bytes.TrimSpace(out))
}

func (p *serveProc) getStatus(t *testing.T, path string) int {
	resp, err := http.Get(p.url + path)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// storedLeafHashes reads every event's leaf hash (hex) by seq straight
// from the file.
func storedLeafHashes(t *testing.T, path string) map[int64]string {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.Query(`SELECT seq, leaf_hash FROM events`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := make(map[int64]string)
	for rows.Next() {
		var seq int64
		var leaf []byte
		if err := rows.Scan(&seq, &leaf); err != nil {
			t.Fatal(err)
		}
		out[seq] = hex.EncodeToString(leaf)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// latestStored reads the latest checkpoint row straight from the file.
func latestStored(t *testing.T, path string) checkpoint.Checkpoint {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var size uint64
	var root []byte
	if err := db.QueryRow(`SELECT tree_size, root FROM checkpoints ORDER BY tree_size DESC LIMIT 1`).Scan(&size, &root); err != nil && err != sql.ErrNoRows {
		t.Fatal(err)
	}
	return checkpoint.Checkpoint{Size: size, Root: [32]byte(root)}
}
