package wasm

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stigaudit/stigaudit/core/checkpoint"
	"github.com/stigaudit/stigaudit/core/event"
	"github.com/stigaudit/stigaudit/core/jcs"
)

// verifyNDJSON checks a log written by wasm/js/examples/record.mjs the way
// `stigaudit verify --ndjson` does: every line is in the canonical export
// form, its leaf hash is recomputed natively from its content, and seqs run
// 0, 1, 2, ... It returns the number of events, or the first bad seq and
// why.
func verifyNDJSON(data []byte) (n int64, badSeq int64, err error) {
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		ev, perr := event.ParseEvent(sc.Bytes())
		if perr != nil {
			return n, n, fmt.Errorf("line %d: %v", n+1, perr)
		}
		if c, err := jcs.Canonicalize(nil, sc.Bytes(), jcs.Limits{}); err != nil || !bytes.Equal(c, sc.Bytes()) {
			return n, n, fmt.Errorf("line %d is not canonical JSON: %v", n+1, err)
		}
		if ev.Seq != n {
			return n, n, fmt.Errorf("line %d has seq %d, want %d", n+1, ev.Seq, n)
		}
		if got := event.LeafHash(event.AppendCanonical(nil, &ev)); got != ev.LeafHash {
			return n, n, fmt.Errorf("seq %d: content hashes to %x, the line says %x", n, got, ev.LeafHash)
		}
		n++
	}
	return n, -1, sc.Err()
}

// TestNodeRecordExample runs the polyglot example: a Node program records
// 10,000 events through the module with its own storeAppend, and the log it
// wrote verifies natively, as the README says: `stigaudit verify --ndjson`
// recomputes every leaf hash and the root and checks them against a signed
// checkpoint of the root the module computed in Node. One flipped byte is
// detected and its seq named.
func TestNodeRecordExample(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		if os.Getenv("STIGAUDIT_REQUIRE_NODE") == "1" {
			t.Fatal("node is not installed and STIGAUDIT_REQUIRE_NODE=1")
		}
		t.Skip("node is not installed: the JS example was not run")
	}
	if testing.Short() {
		t.Skip("records 10,000 events; skipped with -short")
	}
	out := filepath.Join(t.TempDir(), "log.ndjson")
	cmd := exec.Command(node, "js/examples/record.mjs", out, "10000")
	msg, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("record.mjs: %v\n%s", err, msg)
	}
	t.Logf("record.mjs: %s", bytes.TrimSpace(msg))
	var summary struct {
		Events uint64 `json:"events"`
		Root   string `json:"root"`
	}
	if err := json.Unmarshal(msg, &summary); err != nil || summary.Events != 10000 {
		t.Fatalf("record.mjs summary %q: %v", msg, err)
	}
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}

	// The operator's path: a checkpoint of the root Node computed, signed
	// by a key of the test's own, and the real verify command.
	root, err := hex.DecodeString(summary.Root)
	if err != nil || len(root) != 32 {
		t.Fatalf("root %q", summary.Root)
	}
	skey, vkey, err := checkpoint.GenerateKey(rand.Reader, "example.com/record")
	if err != nil {
		t.Fatal(err)
	}
	signer, _ := checkpoint.NewSigner(skey)
	cp, err := checkpoint.Sign(checkpoint.Checkpoint{Origin: "example.com/record", Size: summary.Events, Root: [32]byte(root)}, signer)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	cpFile, bin := filepath.Join(dir, "checkpoint"), filepath.Join(dir, "stigaudit")
	os.WriteFile(cpFile, cp, 0o644)
	if b, err := exec.Command("go", "build", "-o", bin, "../server/cmd/stigaudit").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, b)
	}
	verify := func(file string) (string, error) {
		b, err := exec.Command(bin, "verify", "--ndjson", file, "--checkpoint", cpFile, "--key", vkey).CombinedOutput()
		return string(b), err
	}
	if res, err := verify(out); err != nil || !strings.Contains(res, "OK: 10000 events") {
		t.Fatalf("stigaudit verify --ndjson of the Node log: %v\n%s", err, res)
	}

	n, bad, err := verifyNDJSON(data)
	if err != nil || n != 10000 {
		t.Fatalf("the log does not verify: %d events, bad seq %d: %v", n, bad, err)
	}

	// Flip one byte of the entity_uri in the line of seq 4321.
	lines := bytes.SplitAfter(data, []byte("\n"))
	line := lines[4321]
	i := bytes.Index(line, []byte(`"entity_uri":"agent:`))
	if i < 0 {
		t.Fatalf("line 4321 has no entity_uri: %s", line)
	}
	line[i+len(`"entity_uri":"`)] ^= 0x20 // 'a' -> 'A'
	_, bad, err = verifyNDJSON(bytes.Join(lines, nil))
	if err == nil || bad != 4321 {
		t.Fatalf("a flipped byte at seq 4321: verify reported bad seq %d, %v", bad, err)
	}
	flipped := filepath.Join(dir, "flipped.ndjson")
	os.WriteFile(flipped, bytes.Join(lines, nil), 0o644)
	if res, err := verify(flipped); err == nil || !strings.Contains(res, "seq 4321") {
		t.Fatalf("stigaudit verify --ndjson of a flipped byte at seq 4321: %v\n%s", err, res)
	}
}
