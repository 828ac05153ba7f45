package wasm

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stigaudit/stigaudit/core/auditerr"
	"github.com/stigaudit/stigaudit/core/checkpoint"
	"github.com/stigaudit/stigaudit/core/event"
	"github.com/stigaudit/stigaudit/core/merkle"
	"github.com/stigaudit/stigaudit/hostfns/memstore"
	"github.com/stigaudit/stigaudit/hostfns/storetest"
	"github.com/stigaudit/stigaudit/hostfns/wazerohost"
)

var testNow = time.Date(2026, 5, 3, 12, 0, 0, 123456789, time.UTC)

// typicalDraft is a ~300-byte event as an agent would emit it.
const typicalDraft = `{"id":"0196a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b","event_type":"fact_write","tenant_id":"acme",` +
	`"entity_uri":"agent:planner-7","fact_id":"fact-2291","source":"api","scope":"facts:write",` +
	`"detail":{"bytes":1834,"relation":"knows","résumé":"naïve café ☕","ratio":0.25}}`

// nativeBuild is what the core answers natively for a draft at testNow.
func nativeBuild(t *testing.T, draft string) []byte {
	t.Helper()
	d, err := event.ParseDraft([]byte(draft), event.DefaultLimits())
	if err != nil {
		t.Fatal(err)
	}
	var b event.Builder
	ev, err := b.Build(&d, testNow, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return event.AppendJSON(nil, &ev)
}

func TestBuildEventMatchesNative(t *testing.T) {
	r := newRuntime(t, Config{PoolSize: 1})
	ctx := wazerohost.WithServices(context.Background(), wazerohost.Services{Clock: fixedClock(testNow)})
	got, err := r.BuildEvent(ctx, []byte(typicalDraft))
	if err != nil {
		t.Fatal(err)
	}
	if want := nativeBuild(t, typicalDraft); !bytes.Equal(got, want) {
		t.Errorf("wazero built\n%s\nnative built\n%s", got, want)
	}
	// Without an id the guest generates a UUIDv7 from WASI random_get.
	a, err := r.BuildEvent(ctx, []byte(`{"event_type":"fact_read","entity_uri":"agent:a"}`))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := r.BuildEvent(ctx, []byte(`{"event_type":"fact_read","entity_uri":"agent:a"}`))
	ea, err := event.ParseEvent(a)
	if err != nil {
		t.Fatalf("ParseEvent(%s): %v", a, err)
	}
	eb, _ := event.ParseEvent(b)
	if ea.ID == eb.ID || ea.ID[14] != '7' {
		t.Errorf("generated ids %s and %s: want two distinct UUIDv7", ea.ID, eb.ID)
	}
	if ea.TS != "2026-05-03T12:00:00.123456Z" {
		t.Errorf("ts %s does not come from the host clock", ea.TS)
	}
	// An instruction event about a non-instruction fact records nothing.
	v, err := r.BuildEvent(ctx, []byte(`{"event_type":"instruction_quarantined","entity_uri":"agent:a","fact":{"entity":"user:1","relation":"likes","interpret_as":"content"}}`))
	if err != nil || string(v) != Skipped {
		t.Errorf("non-instruction fact: got %s, %v; want %s", v, err, Skipped)
	}
	_, err = r.BuildEvent(ctx, []byte(`{"event_type":"no_such_type","entity_uri":"agent:a"}`))
	if !errors.Is(err, auditerr.ErrUnknownEventType) {
		t.Errorf("unknown type: got %v", err)
	}
}

func TestEmitThroughStoreAppend(t *testing.T) {
	r := newRuntime(t, Config{PoolSize: 2})
	st := memstore.New()
	var appended []event.Event
	svc := wazerohost.Services{Store: st, Clock: fixedClock(testNow), Scope: event.Scope{Tenant: "acme"},
		Appended: func(e event.Event) { appended = append(appended, e) }}
	ctx := wazerohost.WithServices(context.Background(), svc)
	draft := func(id, entity string) []byte {
		return []byte(`{"id":"` + id + `","event_type":"fact_read","tenant_id":"acme","entity_uri":"` + entity + `"}`)
	}
	ids := []string{
		"0196a1b2-c3d4-7e5f-8a9b-000000000001",
		"0196a1b2-c3d4-7e5f-8a9b-000000000002",
		"0196a1b2-c3d4-7e5f-8a9b-000000000003",
	}
	for i, id := range ids {
		got, err := r.Emit(ctx, draft(id, "agent:a"))
		if err != nil {
			t.Fatalf("emit %d: %v", i, err)
		}
		ev, err := event.ParseEvent(got)
		if err != nil || ev.Seq != int64(i) {
			t.Fatalf("emit %d answered %s (%v): want seq %d", i, got, err, i)
		}
		stored, err := st.Get(context.Background(), ev.Tenant, id)
		if err != nil || stored.LeafHash != ev.LeafHash || stored.Seq != ev.Seq {
			t.Errorf("emit %d: stored %+v, answered %s", i, stored, got)
		}
	}
	cases := []struct {
		name  string
		ctx   context.Context
		draft []byte
		want  *auditerr.Error
		seq   int64
	}{
		{"idempotent re-send answers the stored seq", ctx, draft(ids[1], "agent:a"), nil, 1},
		{"same id, other content", ctx, draft(ids[1], "agent:b"), auditerr.ErrIDConflict, 0},
		{"other tenant", ctx, []byte(`{"event_type":"fact_read","tenant_id":"other","entity_uri":"agent:a"}`), auditerr.ErrForbidden, 0},
		{"other emitter", wazerohost.WithServices(context.Background(), wazerohost.Services{Store: st, Scope: event.Scope{Tenant: "acme", Emitter: "urn:w"}}),
			[]byte(`{"event_type":"fact_read","tenant_id":"acme","entity_uri":"agent:a","emitter":"urn:x"}`), auditerr.ErrForbidden, 0},
		{"no store", context.Background(), draft("0196a1b2-c3d4-7e5f-8a9b-000000000009", "agent:a"), auditerr.ErrStoreUnavailable, 0},
		{"bad draft", ctx, []byte(`{"event_type":"fact_read"}`), auditerr.ErrMissingField, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := r.Emit(c.ctx, c.draft)
			if c.want != nil {
				if !errors.Is(err, c.want) {
					t.Fatalf("got %s, %v; want code %s", got, err, c.want.Code)
				}
				return
			}
			ev, perr := event.ParseEvent(got)
			if err != nil || perr != nil || ev.Seq != c.seq {
				t.Fatalf("got %s, %v; want seq %d", got, err, c.seq)
			}
		})
	}
	if n, _ := st.Size(context.Background()); n != 3 {
		t.Errorf("store holds %d events, want 3", n)
	}
	if len(appended) != 4 || appended[3].Seq != 1 {
		t.Errorf("Appended saw %d events, want 4 with the re-send as seq 1", len(appended))
	}

	// A store that cannot commit fails the emit closed.
	faulty := storetest.NewFaulty(memstore.New())
	faulty.SetDown(true)
	fctx := wazerohost.WithServices(context.Background(), wazerohost.Services{Store: faulty})
	if _, err := r.Emit(fctx, draft(ids[0], "agent:a")); !errors.Is(err, auditerr.ErrStoreUnavailable) {
		t.Errorf("store down: got %v, want store_unavailable", err)
	}
}

func TestClassifyMergeAndHashes(t *testing.T) {
	r := newRuntime(t, Config{PoolSize: 1})
	ctx := context.Background()
	s := func(v string) *string { return &v }
	for _, c := range []struct {
		entity, relation, interpretAs *string
		want                          bool
		code                          auditerr.Code
	}{
		{s("instruction:x"), nil, nil, true, ""},
		{nil, s("instruction:run"), nil, true, ""},
		{s("user:1"), s("likes"), s("instruction"), true, ""},
		{s("user:1"), s("likes"), s("content"), false, ""},
		{s("Instruction:x"), nil, nil, false, ""},
		{nil, nil, s("code"), false, ""},
		{s("instruction:x"), nil, s("code"), true, ""},
		{nil, nil, s("script"), false, "invalid_interpret_as"},
	} {
		got, err := r.Classify(ctx, c.entity, c.relation, c.interpretAs)
		native, nerr := event.IsInstructionFact(c.entity, c.relation, c.interpretAs)
		if got != c.want || auditerr.CodeOf(err) != c.code || got != native || auditerr.CodeOf(nerr) != c.code {
			t.Errorf("Classify(%v,%v,%v) = %v, %v; native %v, %v", c.entity, c.relation, c.interpretAs, got, err, native, nerr)
		}
	}
	fact := event.FactRef{Entity: s("instruction:x"), Relation: s("r")}
	got, err := r.MergeDetail(ctx, fact, []byte(`{"fact_relation":"mine","z":1}`))
	want, _ := event.MergeDetail(fact, []byte(`{"fact_relation":"mine","z":1}`))
	if err != nil || !bytes.Equal(got, want) {
		t.Errorf("MergeDetail = %s, %v; native %s", got, err, want)
	}

	// The leaf hash recomputed from an API-form event equals the core's.
	api := nativeBuild(t, typicalDraft)
	ev, _ := event.ParseEvent(api)
	lh, err := r.LeafHash(ctx, api)
	if err != nil || lh != event.LeafHash(event.AppendCanonical(nil, &ev)) {
		t.Errorf("LeafHash = %x, %v", lh, err)
	}

	// Merkle root, inclusion and consistency against the native tree.
	var tree merkle.Tree
	leaves := make([][merkle.HashSize]byte, 7)
	for i := range leaves {
		leaves[i] = merkle.LeafHash([]byte{byte(i)})
		tree.Append(leaves[i])
	}
	root, err := r.MerkleRoot(ctx, leaves)
	if err != nil || root != tree.Root() {
		t.Errorf("MerkleRoot = %x, %v; want %x", root, err, tree.Root())
	}
	p := merkle.InclusionProof{Seq: 3, TreeSize: 7, LeafHash: leaves[3], Hashes: [][]byte{}}
	if err := r.VerifyInclusion(ctx, &p, root); !errors.Is(err, auditerr.ErrInvalidProof) {
		t.Errorf("an empty proof for leaf 3 of 7: got %v, want invalid_proof", err)
	}

	// Checkpoints signed natively open in the module.
	skey, vkey, err := checkpoint.GenerateKey(rand.Reader, "stigaudit/test")
	if err != nil {
		t.Fatal(err)
	}
	signer, _ := checkpoint.NewSigner(skey)
	signed, err := checkpoint.Sign(checkpoint.Checkpoint{Origin: "stigaudit/test", Size: 7, Root: root}, signer)
	if err != nil {
		t.Fatal(err)
	}
	cp, err := r.VerifyCheckpoint(ctx, signed, vkey)
	if err != nil || cp.Size != 7 || cp.Root != root || cp.Origin != "stigaudit/test" {
		t.Errorf("VerifyCheckpoint = %+v, %v", cp, err)
	}
	tampered := bytes.Replace(signed, []byte("\n7\n"), []byte("\n8\n"), 1)
	if _, err := r.VerifyCheckpoint(ctx, tampered, vkey); !errors.Is(err, auditerr.ErrInvalidCheckpoint) {
		t.Errorf("tampered checkpoint: got %v", err)
	}
	if _, err := r.VerifyCheckpoint(ctx, signed, strings.Replace(vkey, "stigaudit/test", "stigaudit/other", 1)); err == nil {
		t.Error("a checkpoint opened with another key's name")
	}
}
