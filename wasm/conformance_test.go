package wasm

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stigaudit/stigaudit/core/merkle"
	"github.com/stigaudit/stigaudit/hostfns/wazerohost"
	"github.com/stigaudit/stigaudit/internal/golden"
	"github.com/stigaudit/stigaudit/wasm/abi"
	"github.com/stigaudit/stigaudit/wasm/internal/ops"
)

var update = flag.Bool("update", false, "rewrite wasm/testdata/conformance.json")

// goldenPath holds every call derived from core/testdata with the envelope
// the native core answers. The Node test (wasm/js/test) replays it through
// the JS loader and requires the same bytes.
const goldenPath = "testdata/conformance.json"

// conformance is the file at goldenPath.
type conformance struct {
	Description string     `json:"description"`
	Calls       []confCall `json:"calls"`
}

// confCall is one operation call derived from a core vector.
type confCall struct {
	// Vector names the vector: file, section, index and description.
	Vector string `json:"vector"`
	Op     string `json:"op"`
	Input  string `json:"input,omitempty"`
	// LargeLeaves, when set, stands for the input of merkle_root over the
	// large test tree of that many leaves (leaf i is the leaf hash of the
	// 8-byte big-endian i), kept out of the file for its size.
	LargeLeaves uint64 `json:"large_leaves,omitempty"`
	// InputHex replaces Input when the input is not valid UTF-8.
	InputHex string `json:"input_hex,omitempty"`
	// ClockNS is what clock_now answers during the call, in decimal Unix
	// nanoseconds ("": the real clock; the answer does not depend on it).
	ClockNS string `json:"clock_ns,omitempty"`
	// EntropyHex is what WASI random_get yields during the call, given
	// when the call generates an id (a build without "id").
	EntropyHex string `json:"entropy_hex,omitempty"`
	// Envelope is the native answer.
	Envelope string `json:"envelope"`

	// check verifies the envelope against the vector's own expectation.
	check func(env []byte) error
}

// adapters turn one vector file into calls. Every file in core/testdata
// must have one, so that a new kind of vector cannot go unreplayed.
var adapters = map[string]func(data []byte) ([]confCall, error){
	"merkle.json":     merkleCalls,
	"checkpoint.json": checkpointCalls,
	"canonical.json":  canonicalCalls,
	"invalid.json":    invalidCalls,
	"jcs.json":        jcsCalls,
	"classify.json":   classifyCalls,
	"merge.json":      mergeCalls,
	"catalogue.json":  catalogueCalls,
	"numbers.json":    numberCalls,
	"receipts.json":   receiptCalls,
}

// wantOK checks a success envelope, and its value when want is not "".
func wantOK(want string) func([]byte) error {
	return func(env []byte) error {
		v, err := Value(env)
		if err != nil {
			return fmt.Errorf("want success, got %s", env)
		}
		if want != "" && string(v) != want {
			return fmt.Errorf("want value %s, got %s", want, v)
		}
		return nil
	}
}

// wantCode checks an error envelope with the given code; "" means success.
func wantCode(code string) func([]byte) error {
	if code == "" {
		return wantOK("")
	}
	return func(env []byte) error {
		prefix := `{"ok":false,"error":{"code":"` + code + `"`
		if !bytes.HasPrefix(env, []byte(prefix)) {
			return fmt.Errorf("want error code %s, got %s", code, env)
		}
		return nil
	}
}

func mustJSON(v any) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		panic(err)
	}
	return strings.TrimSuffix(b.String(), "\n")
}

func leafHashesInput(hashes []string) string {
	return mustJSON(map[string]any{"leaf_hashes": hashes})
}

func merkleCalls(data []byte) ([]confCall, error) {
	var f struct {
		Leaves []struct {
			Data     string `json:"data"`
			LeafHash string `json:"leaf_hash"`
		} `json:"leaves"`
		Roots []struct {
			Size uint64 `json:"size"`
			Root string `json:"root"`
		} `json:"roots"`
		Inclusion []struct {
			Description string          `json:"description"`
			Root        string          `json:"root"`
			Proof       json.RawMessage `json:"proof"`
			Error       string          `json:"error"`
		} `json:"inclusion"`
		Consistency []struct {
			Description string          `json:"description"`
			Root1       string          `json:"root1"`
			Root2       string          `json:"root2"`
			Proof       json.RawMessage `json:"proof"`
			Error       string          `json:"error"`
		} `json:"consistency"`
		Large []struct {
			Size uint64 `json:"size"`
			Root string `json:"root"`
		} `json:"large"`
	}
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, err
	}
	var calls []confCall
	var hashes []string
	for i, l := range f.Leaves {
		b, err := hex.DecodeString(l.Data)
		if err != nil {
			return nil, err
		}
		// leaf_hash takes the leaf's bytes as a JSON string; every vector
		// leaf is ASCII, so valid UTF-8.
		calls = append(calls, confCall{
			Vector: fmt.Sprintf("merkle.json leaves[%d]", i), Op: abi.OpLeafHash,
			Input: mustJSON(string(b)), check: wantOK(`"` + l.LeafHash + `"`),
		})
		hashes = append(hashes, l.LeafHash)
	}
	for i, r := range f.Roots {
		if r.Size > uint64(len(hashes)) {
			return nil, fmt.Errorf("roots[%d]: size %d beyond the leaves", i, r.Size)
		}
		calls = append(calls, confCall{
			Vector: fmt.Sprintf("merkle.json roots[%d]", i), Op: abi.OpMerkleRoot,
			Input: leafHashesInput(hashes[:r.Size]),
			check: wantOK(fmt.Sprintf(`{"tree_size":%d,"root":"%s"}`, r.Size, r.Root)),
		})
	}
	for i, c := range f.Inclusion {
		calls = append(calls, confCall{
			Vector: fmt.Sprintf("merkle.json inclusion[%d]: %s", i, c.Description), Op: abi.OpVerifyInclusion,
			Input: mustJSON(map[string]any{"proof": c.Proof, "root": c.Root}), check: wantCode(c.Error),
		})
	}
	for i, c := range f.Consistency {
		calls = append(calls, confCall{
			Vector: fmt.Sprintf("merkle.json consistency[%d]: %s", i, c.Description), Op: abi.OpVerifyConsistency,
			Input: mustJSON(map[string]any{"proof": c.Proof, "root1": c.Root1, "root2": c.Root2}), check: wantCode(c.Error),
		})
	}
	// Large trees: leaf i is the leaf hash of the 8-byte big-endian i.
	for i, r := range f.Large {
		calls = append(calls, confCall{
			Vector: fmt.Sprintf("merkle.json large[%d]", i), Op: abi.OpMerkleRoot,
			LargeLeaves: r.Size,
			check:       wantOK(fmt.Sprintf(`{"tree_size":%d,"root":"%s"}`, r.Size, r.Root)),
		})
	}
	return calls, nil
}

// checkpointCalls replays the signed checkpoints. The "bodies" section tests
// parsing of unsigned bodies, which no ABI operation exposes (a host only
// ever trusts a signed checkpoint), so it is not replayed here.
func checkpointCalls(data []byte) ([]confCall, error) {
	var f struct {
		VerifierKey string `json:"verifier_key"`
		Cases       []struct {
			Description string `json:"description"`
			Origin      string `json:"origin"`
			Note        string `json:"note"`
			Size        uint64 `json:"size"`
			Root        string `json:"root"`
			Error       string `json:"error"`
		} `json:"cases"`
	}
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, err
	}
	var calls []confCall
	for i, c := range f.Cases {
		in := map[string]any{"checkpoint": c.Note, "key": f.VerifierKey}
		if c.Origin != "" {
			in["origin"] = c.Origin
		}
		check := wantCode(c.Error)
		if c.Error == "" {
			size, root := c.Size, c.Root
			check = func(env []byte) error {
				v, err := Value(env)
				if err != nil {
					return fmt.Errorf("want success, got %s", env)
				}
				if !bytes.Contains(v, fmt.Appendf(nil, `"tree_size":%d,"root":"%s"`, size, root)) {
					return fmt.Errorf("want size %d and root %s, got %s", size, root, v)
				}
				return nil
			}
		}
		calls = append(calls, confCall{
			Vector: fmt.Sprintf("checkpoint.json cases[%d]: %s", i, c.Description), Op: abi.OpVerifyCheckpoint,
			Input: mustJSON(in), check: check,
		})
	}
	return calls, nil
}

// receiptCalls replays core/testdata/receipts.json through verify_receipt
// (an optional export: every host that has it must agree).
func receiptCalls(data []byte) ([]confCall, error) {
	var f struct {
		VerifierKey string `json:"verifier_key"`
		Policy      string `json:"policy"`
		Cases       []struct {
			Description string   `json:"description"`
			Receipt     string   `json:"receipt"`
			WithPolicy  bool     `json:"with_policy"`
			Seq         int64    `json:"seq"`
			LeafHash    string   `json:"leaf_hash"`
			TreeSize    uint64   `json:"tree_size"`
			Root        string   `json:"root"`
			CosignedBy  []string `json:"cosigned_by"`
			Met         *bool    `json:"met"`
			Error       string   `json:"error"`
		} `json:"cases"`
	}
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, err
	}
	var calls []confCall
	for i, c := range f.Cases {
		in := map[string]any{"receipt": c.Receipt, "key": f.VerifierKey}
		if c.WithPolicy {
			in["policy"] = f.Policy
		}
		check := wantCode(c.Error)
		if c.Error == "" {
			c := c
			check = func(env []byte) error {
				v, err := Value(env)
				if err != nil {
					return fmt.Errorf("want success, got %s", env)
				}
				want := fmt.Sprintf(`{"seq":%d,`, c.Seq)
				if !bytes.HasPrefix(v, []byte(want)) || !bytes.Contains(v, fmt.Appendf(nil, `"leaf_hash":"%s"`, c.LeafHash)) ||
					!bytes.Contains(v, fmt.Appendf(nil, `"tree_size":%d,"root":"%s"`, c.TreeSize, c.Root)) {
					return fmt.Errorf("want seq %d, leaf %s, size %d, root %s; got %s", c.Seq, c.LeafHash, c.TreeSize, c.Root, v)
				}
				if c.WithPolicy {
					by, _ := json.Marshal(c.CosignedBy)
					if !bytes.Contains(v, fmt.Appendf(nil, `"witnesses":{"cosigned_by":%s,"met":%t,`, by, *c.Met)) {
						return fmt.Errorf("want cosigned_by %s, met %t; got %s", by, *c.Met, v)
					}
				}
				return nil
			}
		}
		calls = append(calls, confCall{
			Vector: fmt.Sprintf("receipts.json cases[%d]: %s", i, c.Description), Op: abi.OpVerifyReceipt,
			Input: mustJSON(in), check: check,
		})
	}
	return calls, nil
}

// input returns the bytes of the call's input.
func (c *confCall) input() []byte {
	switch {
	case c.LargeLeaves > 0:
		return []byte(largeInput(c.LargeLeaves))
	case c.InputHex != "":
		b, err := hex.DecodeString(c.InputHex)
		if err != nil {
			panic(err)
		}
		return b
	}
	return []byte(c.Input)
}

// largeInput is the merkle_root input for the large test tree of n leaves.
func largeInput(n uint64) string {
	lh := make([]string, n)
	for j := range lh {
		var b [8]byte
		binary.BigEndian.PutUint64(b[:], uint64(j))
		h := merkle.LeafHash(b[:])
		lh[j] = hex.EncodeToString(h[:])
	}
	return leafHashesInput(lh)
}

// vectorCalls reads every core/testdata/*.json file through its adapter.
func vectorCalls(t *testing.T) []confCall {
	t.Helper()
	files, err := filepath.Glob("../core/testdata/*.json")
	if err != nil || len(files) == 0 {
		t.Fatalf("no vectors in core/testdata: %v", err)
	}
	sort.Strings(files)
	var calls []confCall
	for _, f := range files {
		name := filepath.Base(f)
		adapt, ok := adapters[name]
		if !ok {
			t.Errorf("core/testdata/%s has no adapter in wasm/conformance_test.go: its vectors are not replayed through the module", name)
			continue
		}
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		cs, err := adapt(data)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		calls = append(calls, cs...)
	}
	return calls
}

type fixedClock time.Time

func (c fixedClock) Now() time.Time { return time.Time(c) }

// TestConformance replays every core vector natively and through wazero
// and requires byte-identical envelopes that meet the vector's expectation;
// it also keeps the golden file the Node test replays up to date.
func TestConformance(t *testing.T) {
	calls := vectorCalls(t)
	r := newRuntime(t, Config{PoolSize: 2})
	for i := range calls {
		c := &calls[i]
		host := ops.Host{}
		ctx := context.Background()
		if c.ClockNS != "" {
			ns, err := strconv.ParseInt(c.ClockNS, 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			now := time.Unix(0, ns).UTC()
			entropy, err := hex.DecodeString(c.EntropyHex)
			if err != nil {
				t.Fatal(err)
			}
			host.Now = func() time.Time { return now }
			host.Entropy = bytes.NewReader(entropy)
			ctx = wazerohost.WithServices(ctx, wazerohost.Services{Clock: fixedClock(now), Entropy: bytes.NewReader(entropy)})
		}
		in := c.input()
		native := ops.Do(nil, &host, c.Op, in)
		if err := c.check(native); err != nil {
			t.Errorf("%s: native: %v", c.Vector, err)
		}
		got, err := r.Envelope(ctx, c.Op, in)
		if err != nil {
			t.Errorf("%s: wazero: %v", c.Vector, err)
			continue
		}
		if !bytes.Equal(got, native) {
			t.Errorf("%s: wazero answered\n%s\nnative answered\n%s", c.Vector, got, native)
		}
		c.Envelope = string(native)
	}
	file := conformance{
		Description: "Every vector of core/testdata replayed as WASM ABI v1 calls, with the envelope the native core answers. " +
			"Every host must answer the same bytes. Generated by `go test ./wasm -run TestConformance -update`.",
		Calls: calls,
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", " ")
	if err := enc.Encode(file); err != nil {
		t.Fatal(err)
	}
	golden.Check(t, goldenPath, b.Bytes(), *update, "go test ./wasm -run TestConformance -update")
}
