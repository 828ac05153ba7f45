package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/stigaudit/stigaudit/hostfns"
	"github.com/stigaudit/stigaudit/hostfns/pgstore"
	"github.com/stigaudit/stigaudit/hostfns/pgstore/pgtest"
	"github.com/stigaudit/stigaudit/hostfns/storetest"
	"github.com/stigaudit/stigaudit/server/export"
	"github.com/stigaudit/stigaudit/server/tlog"
)

// replica is one `stigaudit serve` process of the test.
type replica struct {
	t       *testing.T
	bin     string
	dir     string // data directory: checkpoint key, logs
	addr    string
	dsn     string
	extra   []string // more serve flags
	started int      // how many times it was started

	mu  sync.Mutex
	cmd *exec.Cmd
}

func (r *replica) url() string { return "http://" + r.addr }

func (r *replica) stderrPath() string {
	return filepath.Join(r.dir, fmt.Sprintf("serve-%d.log", r.started))
}

// start runs the process and waits until it answers /healthz.
func (r *replica) start() {
	r.t.Helper()
	r.started++
	logf, err := os.Create(r.stderrPath())
	if err != nil {
		r.t.Fatal(err)
	}
	args := append([]string{"serve", "--listen", r.addr, "--data-dir", r.dir, "--database-url", r.dsn, "--node", "replicas"}, r.extra...)
	cmd := exec.Command(r.bin, args...)
	cmd.Stdout = io.Discard
	cmd.Stderr = logf
	if err := cmd.Start(); err != nil {
		r.t.Fatalf("starting replica: %v", err)
	}
	logf.Close()
	r.mu.Lock()
	r.cmd = cmd
	r.mu.Unlock()
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(r.url() + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(r.stderrPath())
			r.t.Fatalf("replica %s not healthy after 30s: %v\n%s", r.addr, err, log)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// signal sends sig and waits for the process to end.
func (r *replica) signal(sig syscall.Signal) {
	r.mu.Lock()
	cmd := r.cmd
	r.cmd = nil
	r.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Signal(sig)
	_ = cmd.Wait()
}

// leads reports whether the replica's current process says it leads the
// checkpointer election.
func (r *replica) leads() bool {
	f, err := os.Open(r.stderrPath())
	if err != nil {
		return false
	}
	defer f.Close()
	leading := false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		switch {
		case strings.Contains(sc.Text(), `"msg":"became leader"`):
			leading = true
		case strings.Contains(sc.Text(), `"msg":"no longer leader"`), strings.Contains(sc.Text(), `"msg":"resigned leadership"`):
			leading = false
		}
	}
	return leading
}

func replicaAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// buildReplicaBinary compiles this command into dir.
func buildReplicaBinary(t *testing.T, dir string) string {
	t.Helper()
	bin := filepath.Join(dir, "stigaudit")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

func runReplicaCmd(t *testing.T, bin string, args ...string) string {
	t.Helper()
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("stigaudit %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return strings.TrimSpace(stdout.String())
}

func replicaUUID(t *testing.T) string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// TestReplicasOnPostgres runs three `stigaudit serve` processes on one
// PostgreSQL schema, emits through all of them concurrently, SIGKILLs the
// replica that signs checkpoints mid-load and restarts it. Every
// acknowledged event must then be stored exactly once with contiguous seqs,
// and the whole log must verify (`stigaudit verify`) against the latest
// checkpoint and be consistent with every earlier one.
func TestReplicasOnPostgres(t *testing.T) {
	dsn := pgtest.DSN(t)
	if testing.Short() {
		t.Skip("builds the binary and runs three servers; skipped with -short")
	}
	tmp := t.TempDir()
	bin := buildReplicaBinary(t, tmp)

	// One checkpoint key for every replica: whoever is elected signs as
	// the same log.
	var reps []*replica
	for i := range 3 {
		dir := filepath.Join(tmp, fmt.Sprintf("replica%d", i))
		if err := os.MkdirAll(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		reps = append(reps, &replica{t: t, bin: bin, dir: dir, addr: replicaAddr(t), dsn: dsn})
	}
	verifier := runReplicaCmd(t, bin, "keys", "checkpoint-key", "--data-dir", reps[0].dir, "--node", "replicas")
	keyFile, err := os.ReadFile(filepath.Join(reps[0].dir, tlog.KeyFile))
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range reps[1:] {
		if err := os.WriteFile(filepath.Join(r.dir, tlog.KeyFile), keyFile, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	apiKey := runReplicaCmd(t, bin, "keys", "create", "--data-dir", reps[0].dir, "--database-url", dsn,
		"--tenant", "acme", "--entity", "urn:test:emitter", "--perm", "audit.write,audit.read,read")

	for _, r := range reps {
		r.start()
		t.Cleanup(func() { r.signal(syscall.SIGTERM) })
	}

	// Load: clients emit events with their own ids, round-robin over the
	// replicas; a failed request is re-sent (same id) to the next replica
	// until one acknowledges it, as a client behind a load balancer would.
	const clients, perClient = 24, 60
	const total = clients * perClient
	type ack struct {
		seq int64
		id  string
	}
	acks := make(chan ack, total)
	var done, retries atomic.Int64
	hc := &http.Client{Timeout: 20 * time.Second}
	emit := func(r *replica, body []byte) (int64, error) {
		req, _ := http.NewRequest(http.MethodPost, r.url()+"/v1/audit/events", bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+apiKey)
		req.Header.Set("Content-Type", "application/json")
		resp, err := hc.Do(req)
		if err != nil {
			return 0, err
		}
		defer resp.Body.Close()
		msg, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusCreated {
			return 0, fmt.Errorf("HTTP %d: %s", resp.StatusCode, msg)
		}
		var got struct {
			Seq *int64 `json:"seq"`
		}
		if err := json.Unmarshal(msg, &got); err != nil || got.Seq == nil {
			return 0, fmt.Errorf("answer without seq: %s", msg)
		}
		return *got.Seq, nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var wg sync.WaitGroup
	errs := make(chan error, clients)
	for c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range perClient {
				id := replicaUUID(t)
				body := fmt.Appendf(nil, `{"id":%q,"event_type":"fact_write","entity_uri":"urn:test:actor-%d","fact_id":"fact-%d-%d","detail":{"n":%d}}`, id, c, c, i, i)
				for try := 0; ; try++ {
					seq, err := emit(reps[(c+i+try)%len(reps)], body)
					if err == nil {
						acks <- ack{seq, id}
						break
					}
					retries.Add(1)
					if ctx.Err() != nil {
						errs <- fmt.Errorf("event %s never acknowledged: %v", id, err)
						return
					}
					time.Sleep(20 * time.Millisecond)
				}
				done.Add(1)
			}
		}()
	}

	// Mid-load, kill -9 the replica that signs checkpoints, and restart it.
	for done.Load() < total/3 {
		time.Sleep(5 * time.Millisecond)
	}
	victim := reps[0]
	for _, r := range reps {
		if r.leads() {
			victim = r
		}
	}
	t.Logf("SIGKILL %s (leading: %v) after %d acknowledged events", victim.addr, victim.leads(), done.Load())
	victim.signal(syscall.SIGKILL)
	time.Sleep(300 * time.Millisecond)
	victim.start()
	wg.Wait()
	close(acks)
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	t.Logf("%d events acknowledged, %d requests re-sent", total, retries.Load())

	// Every acknowledged event is stored once, at the seq it was given,
	// and seqs are contiguous.
	store, err := pgstore.Open(ctx, dsn, pgstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	var log []string // id by seq
	for after := int64(-1); ; {
		p, err := store.Query(ctx, hostfns.Query{After: after, Limit: hostfns.MaxQueryLimit})
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range p.Events {
			if e.Seq != int64(len(log)) {
				t.Fatalf("stored seq %d at position %d: not contiguous", e.Seq, len(log))
			}
			log = append(log, e.ID)
			after = e.Seq
		}
		if !p.HasMore {
			break
		}
	}
	seen := map[string]bool{}
	for _, id := range log {
		if seen[id] {
			t.Fatalf("event %s stored twice", id)
		}
		seen[id] = true
	}
	n := 0
	for a := range acks {
		if a.seq >= int64(len(log)) || log[a.seq] != a.id {
			t.Fatalf("event %s acknowledged at seq %d, not stored there", a.id, a.seq)
		}
		n++
	}
	if n != total {
		t.Fatalf("%d acknowledgements, want %d", n, total)
	}
	storetest.CheckTree(t, store)

	// The elected replica signs the whole log within about a second, and
	// every replica serves that checkpoint.
	size := int64(len(log))
	var notes [][]byte
	deadline := time.Now().Add(20 * time.Second)
	for {
		notes = replicaCheckpoints(t, store)
		if len(notes) > 0 && noteSize(t, notes[len(notes)-1]) == size {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no checkpoint of size %d after 20s (%d stored)", size, len(notes))
		}
		time.Sleep(100 * time.Millisecond)
	}
	latest := notes[len(notes)-1]
	for _, r := range reps {
		waitReplicaServes(t, r, apiKey, latest)
	}

	// `stigaudit verify` checks the whole log, exported, against the latest
	// checkpoint and its consistency with every earlier one.
	exportFile := filepath.Join(tmp, "log.ndjson")
	f, err := os.Create(exportFile)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := export.Write(ctx, store, export.NewNDJSON(f), export.Options{Checkpoint: latest, Size: uint64(size)}); err != nil {
		t.Fatal(err)
	}
	f.Close()
	args := []string{"verify", "--ndjson", exportFile, "--key", verifier}
	for i, old := range notes[:len(notes)-1] {
		p := filepath.Join(tmp, fmt.Sprintf("checkpoint-%d.txt", i))
		if err := os.WriteFile(p, old, 0o600); err != nil {
			t.Fatal(err)
		}
		args = append(args, "--since-checkpoint", p)
	}
	t.Logf("%s", runReplicaCmd(t, bin, args...))
	if len(notes) < 2 {
		t.Fatalf("only %d checkpoint(s) signed during the run", len(notes))
	}
}

// replicaCheckpoints returns every stored checkpoint note, oldest first.
func replicaCheckpoints(t *testing.T, s *pgstore.Store) [][]byte {
	t.Helper()
	rows, err := s.DB().Query(`SELECT note FROM checkpoints ORDER BY tree_size`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out [][]byte
	for rows.Next() {
		var note string
		if err := rows.Scan(&note); err != nil {
			t.Fatal(err)
		}
		out = append(out, []byte(note))
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// noteSize reads the size line of a checkpoint note.
func noteSize(t *testing.T, note []byte) int64 {
	t.Helper()
	lines := strings.SplitN(string(note), "\n", 3)
	var n int64
	if len(lines) < 2 {
		t.Fatalf("checkpoint note %q", note)
	}
	if _, err := fmt.Sscan(lines[1], &n); err != nil {
		t.Fatalf("checkpoint size line %q: %v", lines[1], err)
	}
	return n
}

// waitReplicaServes waits until r serves want at GET /v1/audit/checkpoint.
func waitReplicaServes(t *testing.T, r *replica, apiKey string, want []byte) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	var got []byte
	for time.Now().Before(deadline) {
		req, _ := http.NewRequest(http.MethodGet, r.url()+"/v1/audit/checkpoint", nil)
		req.Header.Set("Authorization", "Bearer "+apiKey)
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			got, _ = io.ReadAll(resp.Body)
			resp.Body.Close()
			if bytes.Equal(got, want) {
				return
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("replica %s serves checkpoint\n%s\nwant\n%s", r.addr, got, want)
}

// TestReplicasThroughput measures durable emits through three replicas on
// one PostgreSQL, with 64 concurrent HTTP clients sending one event per
// request, first with group commit and then with one transaction per event
// (--max-batch-events 1), and prints both rates and their ratio as JSON. It
// is a benchmark, not a check: it runs only when STIGAUDIT_BENCH_REPLICAS
// is set (the number of events of the group-commit phase, e.g. 60000).
//
//	STIGAUDIT_TEST_PG_DSN=postgres://... STIGAUDIT_BENCH_REPLICAS=60000 \
//	  go test -run TestReplicasThroughput -v ./server/cmd/stigaudit
func TestReplicasThroughput(t *testing.T) {
	events, _ := strconv.Atoi(os.Getenv("STIGAUDIT_BENCH_REPLICAS"))
	if events <= 0 {
		t.Skip("a benchmark: set STIGAUDIT_BENCH_REPLICAS to the number of events (e.g. 60000) to run it")
	}
	tmp := t.TempDir()
	bin := buildReplicaBinary(t, tmp)
	const clients = 64
	type phase struct {
		EventsPerS float64 `json:"events_per_s"`
		P50Ms      float64 `json:"p50_ms"`
		P99Ms      float64 `json:"p99_ms"`
		Events     int     `json:"events"`
		SinkLost   int     `json:"sink_lost"` // NATS sink: dropped + failed, all replicas
		Stored     int     `json:"stored"`    // events in the log
		Published  int     `json:"published"` // messages in the NATS stream (after de-duplication)
	}
	// With STIGAUDIT_TEST_NATS_URL every replica also feeds a NATS sink, as
	// in production; the run then reports what the sinks lost.
	natsURL := os.Getenv("STIGAUDIT_TEST_NATS_URL")
	run := func(name string, n int, extra ...string) phase {
		var stream string
		if natsURL != "" {
			stream = fmt.Sprintf("STIGAUDIT_BENCH_%s_%d", strings.ToUpper(name), time.Now().UnixNano())
			extra = append(extra, "--sink", natsURL+"?stream="+stream+"&prefix="+strings.ToLower(stream))
			defer deleteStream(t, natsURL, stream)
		}
		dsn := pgtest.DSN(t)
		var reps []*replica
		for i := range 3 {
			dir := filepath.Join(tmp, fmt.Sprintf("%s-%d", name, i))
			if err := os.MkdirAll(dir, 0o700); err != nil {
				t.Fatal(err)
			}
			reps = append(reps, &replica{t: t, bin: bin, dir: dir, addr: replicaAddr(t), dsn: dsn, extra: extra})
		}
		runReplicaCmd(t, bin, "keys", "checkpoint-key", "--data-dir", reps[0].dir, "--node", "replicas")
		keyFile, err := os.ReadFile(filepath.Join(reps[0].dir, tlog.KeyFile))
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range reps[1:] {
			if err := os.WriteFile(filepath.Join(r.dir, tlog.KeyFile), keyFile, 0o600); err != nil {
				t.Fatal(err)
			}
		}
		apiKey := runReplicaCmd(t, bin, "keys", "create", "--data-dir", reps[0].dir, "--database-url", dsn,
			"--tenant", "acme", "--entity", "urn:bench:emitter", "--perm", "audit.write")
		for _, r := range reps {
			r.start()
		}
		defer func() {
			for _, r := range reps {
				r.signal(syscall.SIGTERM)
			}
		}()
		tr := &http.Transport{MaxIdleConnsPerHost: clients, MaxConnsPerHost: clients}
		defer tr.CloseIdleConnections()
		hc := &http.Client{Transport: tr, Timeout: 30 * time.Second}
		lat := make([]time.Duration, n)
		var next, failed atomic.Int64
		var wg sync.WaitGroup
		start := time.Now()
		for range clients {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					i := int(next.Add(1) - 1)
					if i >= n {
						return
					}
					body := fmt.Sprintf(`{"event_type":"admin_action","entity_uri":"urn:bench:emitter-%d","fact_id":"fact-%d","detail":{"action":"bench","pad":"%s"}}`, i%clients, i, strings.Repeat("x", 100))
					req, _ := http.NewRequest(http.MethodPost, reps[i%len(reps)].url()+"/v1/audit/events", strings.NewReader(body))
					req.Header.Set("Authorization", "Bearer "+apiKey)
					req.Header.Set("Content-Type", "application/json")
					t0 := time.Now()
					resp, err := hc.Do(req)
					if err == nil {
						io.Copy(io.Discard, resp.Body)
						resp.Body.Close()
						if resp.StatusCode != http.StatusCreated {
							err = fmt.Errorf("HTTP %d", resp.StatusCode)
						}
					}
					lat[i] = time.Since(t0)
					if err != nil && failed.Add(1) == 1 {
						t.Errorf("%s: %v", name, err)
					}
				}
			}()
		}
		wg.Wait()
		elapsed := time.Since(start)
		slices.Sort(lat)
		ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
		ph := phase{
			EventsPerS: float64(n-int(failed.Load())) / elapsed.Seconds(),
			P50Ms:      ms(lat[n/2]),
			P99Ms:      ms(lat[n*99/100]),
			Events:     n,
		}
		if stream != "" {
			// Let every replica's notifier catch up and its sink drain.
			time.Sleep(3 * time.Second)
			for _, r := range reps {
				ph.SinkLost += sinkLost(t, r)
			}
			ph.Published = streamCount(t, natsURL, stream)
			st, err := pgstore.Open(context.Background(), dsn, pgstore.Options{MaxConns: 2})
			if err != nil {
				t.Fatal(err)
			}
			size, _ := st.Size(context.Background())
			st.Close()
			ph.Stored = int(size)
		}
		return ph
	}
	grouped := run("group", events)
	baseline := run("baseline", max(events/20, 1000), "--max-batch-events", "1")
	out, _ := json.Marshal(map[string]any{
		"nats_sink":               natsURL != "",
		"sink_lost":               grouped.SinkLost,
		"stored":                  grouped.Stored,
		"published":               grouped.Published,
		"replicas":                3,
		"clients":                 clients,
		"events_per_s":            grouped.EventsPerS,
		"p50_ms":                  grouped.P50Ms,
		"p99_ms":                  grouped.P99Ms,
		"events":                  grouped.Events,
		"baseline_events_per_s":   baseline.EventsPerS,
		"baseline_p50_ms":         baseline.P50Ms,
		"baseline_p99_ms":         baseline.P99Ms,
		"baseline_events":         baseline.Events,
		"ratio":                   grouped.EventsPerS / baseline.EventsPerS,
		"cores":                   runtime.NumCPU(),
		"postgres_synchronous_on": true,
	})
	t.Logf("%s", out)
	fmt.Println(string(out))
}

// sinkLost sums stigaudit_sink_dropped_total and stigaudit_sink_errors_total
// on r's /metrics.
func sinkLost(t *testing.T, r *replica) int {
	t.Helper()
	resp, err := http.Get(r.url() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	total := 0
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "stigaudit_sink_dropped_total{") || strings.HasPrefix(line, "stigaudit_sink_errors_total{") {
			var v float64
			if _, err := fmt.Sscan(line[strings.LastIndexByte(line, ' ')+1:], &v); err == nil {
				total += int(v)
			}
		}
	}
	return total
}

// streamCount returns the number of messages in a JetStream stream.
func streamCount(t *testing.T, server, stream string) int {
	t.Helper()
	nc, err := nats.Connect(server)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := js.Stream(ctx, stream)
	if err != nil {
		t.Fatalf("stream %s: %v", stream, err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return int(info.State.Msgs)
}

func deleteStream(t *testing.T, server, stream string) {
	nc, err := nats.Connect(server)
	if err != nil {
		return
	}
	defer nc.Close()
	if js, err := jetstream.New(nc); err == nil {
		js.DeleteStream(context.Background(), stream)
	}
}
