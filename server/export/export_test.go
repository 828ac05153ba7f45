package export_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stigaudit/stigaudit/core/event"
	"github.com/stigaudit/stigaudit/core/jcs"
	"github.com/stigaudit/stigaudit/core/merkle"
	"github.com/stigaudit/stigaudit/hostfns"
	"github.com/stigaudit/stigaudit/hostfns/sqlitestore"
	"github.com/stigaudit/stigaudit/hostfns/storetest"
	"github.com/stigaudit/stigaudit/server/export"
	"github.com/stigaudit/stigaudit/server/tlog"
)

var ctx = context.Background()

func testEvents(from, n int) []event.Event {
	evs := storetest.NewEvents(from, n)
	for i := range evs {
		if evs[i].Detail != nil {
			d, err := jcs.Canonicalize(nil, evs[i].Detail, jcs.Limits{})
			if err != nil {
				panic(err)
			}
			evs[i].Detail = d
		}
		evs[i].LeafHash = event.LeafHash(event.AppendCanonical(nil, &evs[i]))
	}
	return evs
}

// TestLineIsCanonical checks the line format: it is the RFC 8785 form of
// the extended object, and without seq, leaf_hash and proof it is exactly
// the canonical event.
func TestLineIsCanonical(t *testing.T) {
	proof := &merkle.InclusionProof{Seq: 7, TreeSize: 9, Hashes: [][]byte{bytes.Repeat([]byte{1}, 32), bytes.Repeat([]byte{2}, 32)}}
	for _, e := range testEvents(0, 40) {
		e.Seq = int64(e.ID[len(e.ID)-1]) // any seq
		for _, p := range []*merkle.InclusionProof{nil, proof} {
			line := export.AppendLine(nil, &e, p)
			canon, err := jcs.Canonicalize(nil, line, jcs.Limits{})
			if err != nil {
				t.Fatalf("%s: %v", line, err)
			}
			if !bytes.Equal(canon, line) {
				t.Fatalf("line is not canonical:\n%s\n%s", line, canon)
			}
			// Remove the extra members: the canonical event remains.
			var b []byte
			it := jcs.Members(line)
			b = append(b, '{')
			for it.Next() {
				m := it.Member()
				if m.NameIs("seq") || m.NameIs("leaf_hash") || m.NameIs("proof") {
					continue
				}
				if len(b) > 1 {
					b = append(b, ',')
				}
				b = append(b, fmt.Sprintf("%q:", m.Key)...)
				b = append(b, m.Value...)
			}
			b = append(b, '}')
			if want := event.AppendCanonical(nil, &e); !bytes.Equal(b, want) {
				t.Fatalf("line without extras:\n%s\nwant\n%s", b, want)
			}
			if !bytes.Contains(line, fmt.Appendf(nil, `"seq":%d`, e.Seq)) || !bytes.Contains(line, []byte(merkle.Hex(e.LeafHash))) {
				t.Fatalf("line lacks seq or leaf_hash: %s", line)
			}
		}
	}
}

type node struct {
	store *sqlitestore.Store
	cp    *tlog.Checkpointer
	key   *tlog.Key
}

func newNode(t *testing.T, events int) *node {
	dir := t.TempDir()
	st, err := sqlitestore.Open(filepath.Join(dir, "stigaudit.db"), sqlitestore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	for i := 0; i < events; i += 500 {
		if _, err := st.Append(ctx, testEvents(i, min(500, events-i))); err != nil {
			t.Fatal(err)
		}
	}
	key, err := tlog.LoadOrCreateKey(dir, "", rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	cp, err := tlog.New(ctx, tlog.Config{Tree: st, Checkpoints: st.Checkpoints(), Key: key})
	if err != nil {
		t.Fatal(err)
	}
	return &node{st, cp, key}
}

func TestWriteAndReadBack(t *testing.T) {
	n := newNode(t, 2345)
	s, err := n.cp.Sync(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// Events appended after the checkpoint are not exported.
	if _, err := n.st().Append(ctx, testEvents(2345, 10)); err != nil {
		t.Fatal(err)
	}
	prover := tlog.NewProver(n.store, n.cp)
	acme := "acme"
	for _, tc := range []struct {
		name     string
		opts     export.Options
		want     func(e *event.Event) bool
		filtered bool
	}{
		{"complete", export.Options{}, func(*event.Event) bool { return true }, false},
		{"one tenant", export.Options{Filter: hostfns.Query{Tenant: acme}}, func(e *event.Event) bool { return e.Tenant == acme }, true},
		{"type and outcome", export.Options{Filter: hostfns.Query{Types: []string{"fact_read"}, Outcome: "denied"}},
			func(e *event.Event) bool { return e.Type == "fact_read" && e.Outcome == "denied" }, true},
		{"resumed", export.Options{From: 2000}, func(e *event.Event) bool { return e.Seq >= 2000 }, true},
		{"small pages", export.Options{PageSize: 7}, func(*event.Event) bool { return true }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			opts := tc.opts
			opts.Checkpoint, opts.Size, opts.Prover = s.Note, s.Size, prover
			var buf bytes.Buffer
			st, err := export.Write(ctx, n.store, export.NewNDJSON(&buf), opts)
			if err != nil {
				t.Fatal(err)
			}
			want := testEvents(0, 2345)
			for i := range want {
				want[i].Seq = int64(i)
			}
			r := export.NewReader(&buf)
			var got int64
			i := 0
			for r.Next() {
				e := r.Event()
				for i < len(want) && !tc.want(&want[i]) {
					i++
				}
				if i == len(want) || !e.SameContent(&want[i]) || e.Seq != want[i].Seq || e.LeafHash != want[i].LeafHash {
					t.Fatalf("line %d: got seq %d, want %d", r.Line(), e.Seq, want[i].Seq)
				}
				p := r.Proof()
				if tc.filtered != (p != nil) {
					t.Fatalf("line %d: proof %v, filtered %v", r.Line(), p, tc.filtered)
				}
				if p != nil {
					if p.Seq != uint64(e.Seq) || p.LeafHash != e.LeafHash || p.Verify(s.Root) != nil {
						t.Fatalf("line %d: proof does not verify", r.Line())
					}
				}
				i++
				got++
			}
			if err := r.Err(); err != nil {
				t.Fatal(err)
			}
			tr := r.Trailer()
			if tr == nil || !bytes.Equal(tr.Checkpoint, s.Note) || tr.Filtered != tc.filtered {
				t.Fatalf("trailer %+v", tr)
			}
			if got != st.Events {
				t.Fatalf("read %d events, wrote %d", got, st.Events)
			}
			for ; i < len(want); i++ {
				if tc.want(&want[i]) {
					t.Fatalf("seq %d missing from the export", i)
				}
			}
		})
	}
}

func (n *node) st() *sqlitestore.Store { return n.store }

func TestReaderRefusesMalformedInput(t *testing.T) {
	n := newNode(t, 3)
	s, _ := n.cp.Sync(ctx)
	var buf bytes.Buffer
	if _, err := export.Write(ctx, n.store, export.NewNDJSON(&buf), export.Options{Checkpoint: s.Note, Size: s.Size}); err != nil {
		t.Fatal(err)
	}
	good := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
	for _, tc := range []struct {
		name, input, wantErr string
	}{
		{"not JSON", good[0] + "\nnot json\n" + good[3] + "\n", "line 2"},
		{"no seq", strings.Replace(good[0], `"seq":0,`, "", 1) + "\n", "seq"},
		{"line after the checkpoint", buf.String() + good[0] + "\n", "after the checkpoint"},
		{"unknown member", strings.Replace(good[0], `"seq":0`, `"seq":0,"x":1`, 1) + "\n", "unknown field"},
		{"bad checkpoint line", `{"checkpoint":1}` + "\n", "checkpoint must be a string"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := export.NewReader(strings.NewReader(tc.input))
			for r.Next() {
			}
			if r.Err() == nil || !strings.Contains(r.Err().Error(), tc.wantErr) {
				t.Fatalf("Err() = %v, want mention of %q", r.Err(), tc.wantErr)
			}
		})
	}
	// A missing final newline and CRLF endings are fine.
	r := export.NewReader(strings.NewReader(strings.ReplaceAll(strings.TrimSuffix(buf.String(), "\n"), "\n", "\r\n")))
	count := 0
	for r.Next() {
		count++
	}
	if r.Err() != nil || count != 3 || r.Trailer() == nil {
		t.Fatalf("CRLF input: %d events, %v, trailer %v", count, r.Err(), r.Trailer())
	}
}

// BenchmarkReader reads a complete export of 100,000 events from memory:
// parsing, and hashing each event's content, as verify does.
func BenchmarkReader(b *testing.B) {
	var buf bytes.Buffer
	var line []byte
	for base := 0; base < 100_000; base += 1000 {
		evs := testEvents(base, 1000)
		for j := range evs {
			evs[j].Seq = int64(base + j)
			line = export.AppendLine(line[:0], &evs[j], nil)
			buf.Write(append(line, '\n'))
		}
	}
	buf.Write(append(export.AppendTrailer(nil, export.Trailer{Checkpoint: []byte("x\n1\nAA==\n")}), '\n'))
	data := buf.Bytes()
	b.SetBytes(int64(len(data)))
	b.ResetTimer()
	events := 0
	for b.Loop() {
		r := export.NewReader(bytes.NewReader(data))
		for r.Next() {
			events++
		}
		if r.Err() != nil {
			b.Fatal(r.Err())
		}
	}
	b.ReportMetric(float64(events)/b.Elapsed().Seconds(), "events/s")
}
