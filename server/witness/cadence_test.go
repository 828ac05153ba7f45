package witness_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/stigaudit/stigaudit/core/checkpoint"
	"github.com/stigaudit/stigaudit/hostfns/memstore"
	"github.com/stigaudit/stigaudit/hostfns/storetest"
	"github.com/stigaudit/stigaudit/server/tlog"
	"github.com/stigaudit/stigaudit/server/witness"
)

// inMemoryWitness answers add-checkpoint in process (the real witness is
// TestWitnessedByOmniwitness's): it cosigns whatever it is sent and records
// when.
type inMemoryWitness struct {
	signer note.Signer
	mu     sync.Mutex
	at     []time.Time
	sizes  []uint64
}

func (w *inMemoryWitness) RoundTrip(req *http.Request) (*http.Response, error) {
	body, _ := io.ReadAll(req.Body)
	_, cp, _ := bytes.Cut(body, []byte("\n\n"))
	text, _, _ := bytes.Cut(cp, []byte("\n\n"))
	signed, err := note.Sign(&note.Note{Text: string(text) + "\n"}, w.signer)
	if err != nil {
		return nil, err
	}
	var sig string
	sc := bufio.NewScanner(bytes.NewReader(signed))
	for sc.Scan() {
		if strings.HasPrefix(sc.Text(), "— ") {
			sig = sc.Text() + "\n"
		}
	}
	c, _ := checkpoint.ParseBody(text)
	w.mu.Lock()
	w.at = append(w.at, time.Now())
	w.sizes = append(w.sizes, c.Size)
	w.mu.Unlock()
	return &http.Response{StatusCode: 200, Body: io.NopCloser(strings.NewReader(sig)), Header: http.Header{}, Request: req}, nil
}

// TestOneRequestASecondPerWitness pins the cadence of docs/tamper-evidence.md#witnesses on a fake
// clock: checkpoints signed ten times a second reach a witness at most once
// a second, each time the newest, and the newest is cosigned within about
// a second of being signed.
func TestOneRequestASecondPerWitness(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		csigner, cvkey := cosigKey(t, "witness.test/w1")
		fake := &inMemoryWitness{signer: csigner}
		p, err := witness.ParsePolicy([]byte(fmt.Sprintf("witness w1 %s http://w1.test\nquorum w1\n", cvkey)))
		if err != nil {
			t.Fatal(err)
		}
		st := memstore.New()
		w, err := witness.New(witness.Config{Policy: p, Tree: st, Client: &http.Client{Transport: fake}})
		if err != nil {
			t.Fatal(err)
		}
		lskey, _, _ := checkpoint.GenerateKey(rand.Reader, "example.com/log")
		key, _ := tlog.ParseKey(lskey)
		start := time.Now()
		for i := 0; time.Since(start) < 5*time.Second; i++ {
			if _, err := st.Append(context.Background(), storetest.NewEvents(i, 1)); err != nil {
				t.Fatal(err)
			}
			root, err := tlog.RootAt(context.Background(), st, uint64(i+1))
			if err != nil {
				t.Fatal(err)
			}
			c := checkpoint.Checkpoint{Origin: key.Origin, Size: uint64(i + 1), Root: root}
			n, _ := checkpoint.Sign(c, key.Signer)
			w.Submit(tlog.Signed{Checkpoint: c, Note: n, Time: time.Now()})
			time.Sleep(100 * time.Millisecond)
			synctest.Wait()
		}
		last := uint64(0)
		time.Sleep(1100 * time.Millisecond)
		synctest.Wait()
		if c, ok := w.Latest(); ok {
			last = c.Size
		}
		w.Close()
		fake.mu.Lock()
		defer fake.mu.Unlock()
		if len(fake.at) < 4 || len(fake.at) > 7 {
			t.Fatalf("%d requests in 5 s of checkpoints every 100 ms; want about one a second", len(fake.at))
		}
		for i := 1; i < len(fake.at); i++ {
			if d := fake.at[i].Sub(fake.at[i-1]); d < time.Second {
				t.Errorf("requests %d and %d only %v apart", i-1, i, d)
			}
		}
		if last != 50 {
			t.Errorf("the newest checkpoint (size 50) was not cosigned within 1.1 s: witnessed %d", last)
		}
	})
}
