package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/stigaudit/stigaudit/server/witness"
)

// OmniwitnessEnv names the omniwitness binary; without it the binary is
// looked up in PATH and in $(go env GOPATH)/bin. EnvRequireOmniwitness=1
// (CI) turns its absence into a failure.
const (
	OmniwitnessEnv        = "STIGAUDIT_OMNIWITNESS"
	EnvRequireOmniwitness = "STIGAUDIT_REQUIRE_OMNIWITNESS"
)

// omniwitnessBin finds transparency-dev's omniwitness, the reference C2SP
// tlog-witness, or skips.
func omniwitnessBin(t testing.TB) string {
	return toolBin(t, OmniwitnessEnv, EnvRequireOmniwitness, "omniwitness",
		"go install github.com/transparency-dev/witness/cmd/omniwitness@v0.0.0-20260720115447-2e1c6971d19e")
}

// freePort returns a TCP port free on 127.0.0.1 a moment ago.
func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// omniwitness is a witness of the test's own, on 127.0.0.1.
type omniwitness struct {
	t         testing.TB
	name      string
	url       string
	cosigVKey string // its cosignature/v1 verifier key, for policies
	args      []string
	bin       string
	cmd       *exec.Cmd
	out       *bytes.Buffer
	done      chan struct{}
}

// startOmniwitness runs omniwitness for the one log named by origin and
// verifierKey: no bastion, distributor or public configuration, so it
// makes no outbound connection. It is stopped when the test ends.
func startOmniwitness(t testing.TB, origin, verifierKey string, name ...string) *omniwitness {
	t.Helper()
	bin := omniwitnessBin(t)
	n := "witness.test/w1"
	if len(name) > 0 {
		n = name[0]
	}
	dir := t.TempDir()
	// The witness's key, from the witness's own generate_keys (the same
	// version): its private key and its cosignature/v1 verifier key.
	gen := toolBin(t, "STIGAUDIT_GENERATE_KEYS", EnvRequireOmniwitness, "generate_keys",
		"go install github.com/transparency-dev/witness/cmd/generate_keys@v0.0.0-20260720115447-2e1c6971d19e")
	out, err := exec.Command(gen, "--origin", n, "--print").Output()
	if err != nil {
		t.Fatalf("generate_keys: %v", err)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) != 2 {
		t.Fatalf("generate_keys printed %q", out)
	}
	skey, cosig := lines[0], lines[1]
	keyFile := filepath.Join(dir, "witness.key")
	logs := filepath.Join(dir, "logs.yaml")
	if err := os.WriteFile(keyFile, []byte(skey), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(logs, fmt.Appendf(nil, "Logs:\n  - Origin: %s\n    PublicKey: %s\n", origin, verifierKey), 0o600); err != nil {
		t.Fatal(err)
	}
	port := freePort(t)
	w := &omniwitness{t: t, name: n, bin: bin, url: fmt.Sprintf("http://127.0.0.1:%d", port), cosigVKey: cosig, out: &bytes.Buffer{},
		args: []string{"--listen", fmt.Sprintf("127.0.0.1:%d", port), "--metrics_listen", "",
			"--db_file", filepath.Join(dir, "witness.db"), "--private_key_path", keyFile, "--additional_logs", logs}}
	w.start()
	t.Cleanup(func() {
		w.stop()
		if t.Failed() {
			t.Logf("%s output:\n%s", n, w.out.String())
		}
	})
	return w
}

// start runs the witness (again, with the state it kept) and waits until
// it listens.
func (w *omniwitness) start() {
	w.t.Helper()
	w.cmd = exec.Command(w.bin, w.args...)
	w.cmd.Stdout, w.cmd.Stderr = w.out, w.out
	if err := w.cmd.Start(); err != nil {
		w.t.Fatal(err)
	}
	w.done = make(chan struct{})
	go func(c *exec.Cmd, done chan struct{}) { c.Wait(); close(done) }(w.cmd, w.done)
	addr := strings.TrimPrefix(w.url, "http://")
	for start := time.Now(); ; time.Sleep(50 * time.Millisecond) {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			return
		}
		if time.Since(start) > 15*time.Second {
			w.t.Fatalf("omniwitness did not listen:\n%s", w.out.String())
		}
	}
}

// stop ends the witness.
func (w *omniwitness) stop() {
	if w.cmd == nil {
		return
	}
	w.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-w.done:
	case <-time.After(5 * time.Second):
		w.cmd.Process.Kill()
		<-w.done
	}
	w.cmd = nil
}

// TestWitnessedByOmniwitness: the server sends its checkpoints to the
// reference witness, serves the newest cosigned one, and that checkpoint
// meets the policy's quorum as the reference policy code reads it; a second
// history signed with the same key is refused by the witness, and the
// server says so on /readyz.
func TestWitnessedByOmniwitness(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the server and a witness")
	}
	bin := buildBinary(t)
	dir := t.TempDir()
	vkey := verifierKey(t, dir)
	origin := vkey[:strings.Index(vkey, "+")]
	w := startOmniwitness(t, origin, vkey)
	policyText := fmt.Sprintf("log %s\nwitness w1 %s %s\nquorum w1\n", vkey, w.cosigVKey, w.url)
	policyFile := filepath.Join(t.TempDir(), "policy")
	if err := os.WriteFile(policyFile, []byte(policyText), 0o644); err != nil {
		t.Fatal(err)
	}
	policy, err := witness.ParsePolicy([]byte(policyText))
	if err != nil {
		t.Fatal(err)
	}

	p := startServe(t, bin, dir, "--witness-policy", policyFile)
	admin := readAdminKey(t, dir)
	for range 20 {
		if code, b := emitHTTP(t, p.url, admin, criticalEvent); code != 201 {
			t.Fatalf("emit: %d %s", code, b)
		}
	}
	var cosigned []byte
	for start := time.Now(); ; time.Sleep(100 * time.Millisecond) {
		code, b := getCheckpoint(t, p, admin, "")
		var size int
		if code == 200 && bytes.HasPrefix(b, []byte(origin+"\n")) {
			fmt.Sscan(string(b[len(origin)+1:]), &size)
		}
		if size >= 21 { // the bootstrap key's event, the retention setting's, and twenty
			cosigned = b
			break
		}
		if time.Since(start) > 20*time.Second {
			t.Fatalf("no witnessed checkpoint covering 21 events within 20 s: %d %s\n%s", code, b, p.stderr)
		}
	}
	if !bytes.Contains(cosigned, []byte("\n— witness.test/w1 ")) || !policy.Satisfied(cosigned) {
		t.Fatalf("the served checkpoint does not meet the quorum:\n%s", cosigned)
	}
	if _, err := note.Open(cosigned, note.VerifierList(mustVerifier(t, vkey))); err != nil {
		t.Fatalf("the cosigned checkpoint lost the log's own signature: %v", err)
	}
	code, signed := getCheckpoint(t, p, admin, "?witnessed=0")
	if code != 200 || bytes.Contains(signed, []byte("witness.test")) {
		t.Fatalf("?witnessed=0: %d\n%s", code, signed)
	}
	if r := p.getStatus(t, "/readyz"); r != 200 {
		t.Fatalf("readyz while witnessed: %d", r)
	}
	// A receipt carries the cosigned checkpoint: it verifies offline with
	// the policy.
	rcode, rec := getReceipt(t, p.url, admin, "5")
	if rcode != 200 || !bytes.Contains(rec, []byte("\n— witness.test/w1 ")) {
		t.Fatalf("receipt of a witnessed log: %d %s", rcode, rec)
	}
	recFile := filepath.Join(t.TempDir(), "receipt")
	os.WriteFile(recFile, rec, 0o644)
	if code, out, stderr := cli(t, "verify", "--receipt", recFile, "--key", vkey, "--witness-policy", policyFile); code != 0 || !strings.Contains(out, "cosigned by the witness quorum") {
		t.Fatalf("verify --receipt --witness-policy: %d %s %s", code, out, stderr)
	}
	// wait=witnessed answers once the witnesses cosigned the event's
	// checkpoint, with that receipt.
	wcode, wb := emitWait(t, p.url+"/v1/audit/events?wait=witnessed", admin, criticalEvent)
	var withReceipt struct{ Receipt string }
	json.Unmarshal(wb, &withReceipt)
	if wcode != 201 || !strings.Contains(withReceipt.Receipt, "\n— witness.test/w1 ") {
		t.Fatalf("wait=witnessed: %d %s", wcode, wb)
	}
	os.WriteFile(recFile, []byte(withReceipt.Receipt), 0o644)
	if code, out, stderr := cli(t, "verify", "--receipt", recFile, "--key", vkey, "--witness-policy", policyFile); code != 0 {
		t.Fatalf("verify of the wait=witnessed receipt: %d %s %s", code, out, stderr)
	}
	p.kill(syscall.SIGTERM)

	// Offline, verify requires the quorum on the checkpoint it is given.
	tmp := t.TempDir()
	cosignedFile, signedFile := filepath.Join(tmp, "cosigned"), filepath.Join(tmp, "signed")
	os.WriteFile(cosignedFile, cosigned, 0o644)
	os.WriteFile(signedFile, signed, 0o644)
	db := filepath.Join(dir, DBFile)
	if code, out, stderr := cli(t, "verify", "--db", db, "--key", vkey, "--checkpoint", cosignedFile, "--witness-policy", policyFile, "--allow-tail"); code != 0 {
		t.Fatalf("verify of the cosigned checkpoint: %d %s %s", code, out, stderr)
	}
	code, out, stderr := cli(t, "verify", "--db", db, "--key", vkey, "--checkpoint", signedFile, "--witness-policy", policyFile, "--allow-tail")
	if code == 0 || !strings.Contains(stderr, "no_witness_quorum") {
		t.Fatalf("verify of a checkpoint without cosignatures: %d %s %s", code, out, stderr)
	}

	// Another history under the same key and origin: the witness, which
	// cosigned size 21 of the first one, refuses it, and the server says
	// so instead of serving it as witnessed.
	forkDir := t.TempDir()
	key, err := os.ReadFile(filepath.Join(dir, "checkpoint.key"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(forkDir, "checkpoint.key"), key, 0o600); err != nil {
		t.Fatal(err)
	}
	fork := startServe(t, bin, forkDir, "--witness-policy", policyFile)
	forkAdmin := readAdminKey(t, forkDir)
	for range 40 {
		if code, b := emitHTTP(t, fork.url, forkAdmin, bestEffortEvent); code != 201 {
			t.Fatalf("emit into the fork: %d %s", code, b)
		}
	}
	for start := time.Now(); ; time.Sleep(100 * time.Millisecond) {
		resp, err := http.Get(fork.url + "/readyz")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode == 503 && bytes.Contains(b, []byte(`"check":"witnesses"`)) {
			break
		}
		if time.Since(start) > 20*time.Second {
			t.Fatalf("readyz of a forked log never reported the witness's refusal: %d %s\n%s", resp.StatusCode, b, fork.stderr)
		}
	}
	if code, b := getCheckpoint(t, fork, forkAdmin, ""); code != 404 {
		t.Fatalf("the fork's checkpoint was served as witnessed: %d\n%s", code, b)
	}
	if !strings.Contains(fork.stderr.String(), "WITNESS REFUSES") {
		t.Fatalf("no ERROR line for the refusal:\n%s", fork.stderr)
	}
}

func mustVerifier(t *testing.T, vkey string) note.Verifier {
	t.Helper()
	v, err := note.NewVerifier(vkey)
	if err != nil {
		t.Fatal(err)
	}
	return v
}
