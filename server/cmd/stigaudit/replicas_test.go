package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
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

	"github.com/jackc/pgx/v5"

	"github.com/stigaudit/stigaudit/hostfns/pgstore"
	"github.com/stigaudit/stigaudit/hostfns/pgstore/pgtest"
	"github.com/stigaudit/stigaudit/hostfns/storetest"
	"github.com/stigaudit/stigaudit/internal/waitfor"
	"github.com/stigaudit/stigaudit/server/export"
	"github.com/stigaudit/stigaudit/server/sink/natstest"
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
func (r *replica) leads() bool { return r.leadsRole(checkpointerRole) }

// leadsRole reports whether the replica's current process says it leads
// the election of role (a pgstore.Leader name).
func (r *replica) leadsRole(role string) bool {
	f, err := os.Open(r.stderrPath())
	if err != nil {
		return false
	}
	defer f.Close()
	leading := false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if !strings.Contains(sc.Text(), `"role":"`+role+`"`) {
			continue
		}
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

// newReplicas prepares three replicas of the log at dsn, not yet started,
// in directories tmp/<prefix>0..2, each with the flags extra(dir) returns
// (extra may be nil). They share one checkpoint key, made in the first
// directory and copied to the others, so whoever is elected signs as the
// same log; newReplicas returns the key's verifier.
func newReplicas(t *testing.T, bin, tmp, prefix, dsn string, extra func(dir string) []string) ([]*replica, string) {
	t.Helper()
	var reps []*replica
	for i := range 3 {
		dir := filepath.Join(tmp, fmt.Sprintf("%s%d", prefix, i))
		if err := os.MkdirAll(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		r := &replica{t: t, bin: bin, dir: dir, addr: replicaAddr(t), dsn: dsn}
		if extra != nil {
			r.extra = extra(dir)
		}
		reps = append(reps, r)
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
	return reps, verifier
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

	reps, verifier := newReplicas(t, bin, tmp, "replica", dsn, nil)
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
	for _, e := range storetest.Stored(t, store) {
		if e.Seq != int64(len(log)) {
			t.Fatalf("stored seq %d at position %d: not contiguous", e.Seq, len(log))
		}
		log = append(log, e.ID)
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
		notes = replicaCheckpoints(t, reps[0].dsn)
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
func replicaCheckpoints(t *testing.T, dsn string) [][]byte {
	t.Helper()
	db, err := sql.Open("pgx", dsn) // a connection of the test's own
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.Query(`SELECT note FROM checkpoints ORDER BY tree_size`)
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
// one PostgreSQL, with 64 concurrent HTTP clients round-robin over them,
// first with group commit — once per request size of
// STIGAUDIT_BENCH_BATCH (events per request, default "1") — and then the
// baseline: one event per request and one transaction per event
// (--max-batch-events 1). It prints one JSON object: each phase's rate,
// latencies, and the CPU time spent per event by the replicas, by their
// PostgreSQL backends, by PostgreSQL as a whole and by the load generator
// (process accounting from /proc: the primary figure on a shared machine,
// where wall-clock rates move with the neighbours' load), and the load
// average before and after. It is a benchmark, not a check: it runs only
// when STIGAUDIT_BENCH_REPLICAS is set (the number of events of each
// group-commit phase, e.g. 60000).
//
//	STIGAUDIT_TEST_PG_DSN=postgres://... STIGAUDIT_BENCH_REPLICAS=60000 STIGAUDIT_BENCH_BATCH=1,10,100 \
//	  go test -count=1 -run TestReplicasThroughput -v ./server/cmd/stigaudit
func TestReplicasThroughput(t *testing.T) {
	events, _ := strconv.Atoi(os.Getenv("STIGAUDIT_BENCH_REPLICAS"))
	if events <= 0 {
		t.Skip("a benchmark: set STIGAUDIT_BENCH_REPLICAS to the number of events (e.g. 60000) to run it")
	}
	batches := []int{1}
	if v := os.Getenv("STIGAUDIT_BENCH_BATCH"); v != "" {
		batches = nil
		for _, f := range strings.Split(v, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(f))
			if err != nil || n < 1 || n > 1000 {
				t.Fatalf("STIGAUDIT_BENCH_BATCH=%q: want sizes 1..1000, comma separated", v)
			}
			batches = append(batches, n)
		}
	}
	tmp := t.TempDir()
	bin := buildReplicaBinary(t, tmp)
	const clients = 64
	type cpu struct {
		Replicas         float64 `json:"replicas"`          // the three serve processes
		PostgresBackends float64 `json:"postgres_backends"` // their PostgreSQL sessions
		PostgresAll      float64 `json:"postgres_all"`      // every postgres process (includes other users of the server)
		Client           float64 `json:"client"`            // this test process: the load generator
	}
	type phase struct {
		Batch      int        `json:"batch"`
		EventsPerS float64    `json:"events_per_s"`
		P50Ms      float64    `json:"p50_ms"` // per request
		P99Ms      float64    `json:"p99_ms"`
		Events     int        `json:"events"`
		CPUusPer   cpu        `json:"cpu_us_per_event"`
		Load1      [2]float64 `json:"load1_before_after"`
		// Where PostgreSQL's time went (track_functions = pl): the append
		// function and the triggers, and per table, rows read and written.
		PGFunctions map[string]pgFunction `json:"pg_functions,omitempty"`
		PGTables    map[string]pgTable    `json:"pg_tables,omitempty"`
		SinkLost    int                   `json:"sink_lost,omitempty"` // NATS sink: dropped + failed, all replicas
		Stored      int                   `json:"stored,omitempty"`    // events in the log
		Published   int                   `json:"published,omitempty"` // messages in the NATS stream (after de-duplication)
	}
	// With STIGAUDIT_TEST_NATS_URL every replica also feeds a NATS sink, as
	// in production; the run then reports what the sinks lost.
	natsURL := os.Getenv("STIGAUDIT_TEST_NATS_URL")
	run := func(name string, n, batch int, extra ...string) (ph phase) {
		var stream string
		if natsURL != "" {
			stream = fmt.Sprintf("STIGAUDIT_BENCH_%s_%d", strings.ToUpper(name), time.Now().UnixNano())
			extra = append(extra, "--sink", natsURL+"?stream="+stream+"&prefix="+strings.ToLower(stream))
			defer natstest.Delete(natsURL, stream)
		}
		appName := fmt.Sprintf("stigaudit_bench_%d", time.Now().UnixNano())
		dsn := pgtest.DSN(t) + "&application_name=" + appName + "&options=" + strings.ReplaceAll(url.QueryEscape("-c track_functions=pl"), "+", "%20")
		reps, _ := newReplicas(t, bin, tmp, name+"-", dsn, func(string) []string { return extra })
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
		calls := (n + batch - 1) / batch
		lat := make([]time.Duration, calls)
		var next, failed atomic.Int64
		var wg sync.WaitGroup
		ph = phase{Batch: batch, Events: calls * batch}
		ph.Load1[0] = loadAverage()
		repPIDs := func() []int {
			var pids []int
			for _, r := range reps {
				r.mu.Lock()
				pids = append(pids, r.cmd.Process.Pid)
				r.mu.Unlock()
			}
			return pids
		}
		pgBefore := processCPU(pgBackendPIDs(t, dsn, appName))
		pgAllBefore := processCPU(processesNamed("postgres"))
		repBefore := processCPU(repPIDs())
		clientBefore := selfCPU()
		start := time.Now()
		for c := range clients {
			wg.Add(1)
			go func() {
				defer wg.Done()
				var body strings.Builder
				pad := strings.Repeat("x", 100)
				for {
					i := int(next.Add(1) - 1)
					if i >= calls {
						return
					}
					body.Reset()
					one := func(k int) {
						fmt.Fprintf(&body, `{"event_type":"admin_action","entity_uri":"urn:bench:emitter-%d","fact_id":"fact-%d","detail":{"action":"bench","pad":"%s"}}`, c, k, pad)
					}
					if batch == 1 {
						one(i)
					} else {
						body.WriteString(`{"events":[`)
						for j := range batch {
							if j > 0 {
								body.WriteByte(',')
							}
							one(i*batch + j)
						}
						body.WriteString(`]}`)
					}
					req, _ := http.NewRequest(http.MethodPost, reps[i%len(reps)].url()+"/v1/audit/events", strings.NewReader(body.String()))
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
		perEvent := func(d time.Duration) float64 { return float64(d.Microseconds()) / float64(ph.Events) }
		ph.CPUusPer = cpu{
			Replicas:         perEvent(processCPU(repPIDs()) - repBefore),
			PostgresBackends: perEvent(processCPU(pgBackendPIDs(t, dsn, appName)) - pgBefore),
			PostgresAll:      perEvent(processCPU(processesNamed("postgres")) - pgAllBefore),
			Client:           perEvent(selfCPU() - clientBefore),
		}
		ph.Load1[1] = loadAverage()
		slices.Sort(lat)
		ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
		ph.EventsPerS = float64((calls-int(failed.Load()))*batch) / elapsed.Seconds()
		ph.P50Ms, ph.P99Ms = ms(lat[calls/2]), ms(lat[calls*99/100])
		defer func() {
			// Backends report their statistics when they exit (else at
			// most once a second, and within 10s when idle).
			for _, r := range reps {
				r.signal(syscall.SIGTERM)
			}
			time.Sleep(200 * time.Millisecond)
			ph.PGFunctions, ph.PGTables = pgStats(t, dsn)
		}()
		if stream != "" {
			// Let the feeding replica catch up and its sink drain.
			time.Sleep(3 * time.Second)
			for _, r := range reps {
				ph.SinkLost += sinkLost(t, r)
			}
			ph.Published = natstest.Count(t, natsURL, stream)
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
	var grouped []phase
	for _, b := range batches {
		grouped = append(grouped, run(fmt.Sprintf("group%d", b), events, b))
	}
	baseline := run("baseline", max(events/20, 1000), 1, "--max-batch-events", "1")
	// What the server ran with, read from it rather than assumed.
	var syncCommit string
	if conn, err := pgx.Connect(context.Background(), os.Getenv(pgtest.EnvDSN)); err != nil {
		t.Fatal(err)
	} else {
		err := conn.QueryRow(context.Background(), `SHOW synchronous_commit`).Scan(&syncCommit)
		conn.Close(context.Background())
		if err != nil {
			t.Fatal(err)
		}
	}
	out := map[string]any{
		"nats_sink":                   natsURL != "",
		"replicas":                    3,
		"clients":                     clients,
		"cores":                       runtime.NumCPU(),
		"postgres_synchronous_commit": syncCommit,
		"baseline":                    baseline,
		"group":                       grouped,
	}
	for _, g := range grouped {
		out[fmt.Sprintf("ratio_batch%d", g.Batch)] = g.EventsPerS / baseline.EventsPerS
	}
	js, _ := json.Marshal(out)
	t.Logf("%s", js)
	fmt.Println(string(js))
}

// processCPU returns the user plus system CPU time the processes pids have
// used (from /proc/PID/stat; a process that is gone counts zero).
func processCPU(pids []int) time.Duration {
	var total time.Duration
	for _, pid := range pids {
		data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			continue
		}
		// The command name (field 2) may hold spaces; fields after it
		// start at the last ')'.
		fields := strings.Fields(string(data[bytes.LastIndexByte(data, ')')+1:]))
		if len(fields) < 13 {
			continue
		}
		utime, _ := strconv.ParseInt(fields[11], 10, 64)
		stime, _ := strconv.ParseInt(fields[12], 10, 64)
		total += time.Duration(utime+stime) * time.Second / 100 // USER_HZ is 100 on Linux
	}
	return total
}

// processesNamed returns the pids of the processes whose command is name.
func processesNamed(name string) []int {
	entries, _ := os.ReadDir("/proc")
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		comm, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
		if err == nil && strings.TrimSpace(string(comm)) == name {
			pids = append(pids, pid)
		}
	}
	return pids
}

// pgBackendPIDs returns the pids of the PostgreSQL sessions opened with
// application_name app.
func pgBackendPIDs(t *testing.T, dsn, app string) []int {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, `SELECT pid FROM pg_stat_activity WHERE application_name = $1 AND pid <> pg_backend_pid()`, app)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var pids []int
	for rows.Next() {
		var pid int
		if err := rows.Scan(&pid); err != nil {
			t.Fatal(err)
		}
		pids = append(pids, pid)
	}
	return pids
}

// pgFunction is a row of pg_stat_user_functions.
type pgFunction struct {
	Calls   int64   `json:"calls"`
	TotalMs float64 `json:"total_ms"`
	SelfMs  float64 `json:"self_ms"`
}

// pgTable is part of a row of pg_stat_user_tables.
type pgTable struct {
	SeqScan     int64 `json:"seq_scan"`
	SeqTupRead  int64 `json:"seq_tup_read"`
	IdxScan     int64 `json:"idx_scan"`
	IdxTupFetch int64 `json:"idx_tup_fetch"`
	Inserted    int64 `json:"n_tup_ins"`
	Updated     int64 `json:"n_tup_upd"`
}

// pgStats reads the function and table statistics of the schema dsn
// selects (the statistics collector lags by up to a second).
func pgStats(t *testing.T, dsn string) (map[string]pgFunction, map[string]pgTable) {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	fns := map[string]pgFunction{}
	rows, err := conn.Query(ctx, `SELECT funcname, calls, total_time, self_time FROM pg_stat_user_functions WHERE schemaname = current_schema()`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var name string
		var f pgFunction
		if err := rows.Scan(&name, &f.Calls, &f.TotalMs, &f.SelfMs); err != nil {
			t.Fatal(err)
		}
		fns[name] = f
	}
	rows.Close()
	tables := map[string]pgTable{}
	rows, err = conn.Query(ctx, `SELECT relname, seq_scan, seq_tup_read, COALESCE(idx_scan, 0), COALESCE(idx_tup_fetch, 0), n_tup_ins, n_tup_upd
		FROM pg_stat_user_tables WHERE schemaname = current_schema()`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var name string
		var tb pgTable
		if err := rows.Scan(&name, &tb.SeqScan, &tb.SeqTupRead, &tb.IdxScan, &tb.IdxTupFetch, &tb.Inserted, &tb.Updated); err != nil {
			t.Fatal(err)
		}
		tables[name] = tb
	}
	rows.Close()
	return fns, tables
}

// selfCPU returns the CPU time this process has used.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// loadAverage returns the one-minute load average.
func loadAverage() float64 {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return 0
	}
	var l float64
	fmt.Sscan(string(data), &l)
	return l
}

// sinkLost sums stigaudit_sink_errors_total on r's /metrics: sink writes
// that failed (and were retried from the sink's cursor; sinks drop nothing).
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
		if strings.HasPrefix(line, "stigaudit_sink_errors_total{") {
			var v float64
			if _, err := fmt.Sscan(line[strings.LastIndexByte(line, ' ')+1:], &v); err == nil {
				total += int(v)
			}
		}
	}
	return total
}

// TestReplicasFeedSinksOnce runs three replicas on one PostgreSQL log, each
// with a file sink, and emits through all of them. Only the replica elected
// for the sink feed delivers, so the three files together hold every event
// of the log exactly once, each file in seq order, and the replicas'
// stigmem_audit_event_total counters add up to the number of events, not
// three times it. When the feed's replica is killed, another resumes from
// the saved cursor: no event is missing, and what is delivered twice is
// only what the dead replica handled after its last saved cursor.
func TestReplicasFeedSinksOnce(t *testing.T) {
	dsn := pgtest.DSN(t)
	if testing.Short() {
		t.Skip("builds the binary and runs three servers; skipped with -short")
	}
	tmp := t.TempDir()
	bin := buildReplicaBinary(t, tmp)
	reps, _ := newReplicas(t, bin, tmp, "replica", dsn, func(dir string) []string {
		return []string{"--sink", "file:" + filepath.Join(dir, "sink.jsonl")}
	})
	apiKey := runReplicaCmd(t, bin, "keys", "create", "--data-dir", reps[0].dir, "--database-url", dsn,
		"--tenant", "acme", "--entity", "urn:test:emitter", "--perm", "audit.write")
	for _, r := range reps {
		r.start()
		t.Cleanup(func() { r.signal(syscall.SIGTERM) })
	}

	hc := &http.Client{Timeout: 20 * time.Second}
	// emitAll sends n events from 16 clients, round-robin over the live
	// replicas, re-sending (same id) until acknowledged.
	emitAll := func(live []*replica, n int) {
		t.Helper()
		var wg sync.WaitGroup
		var next atomic.Int64
		for range 16 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					i := int(next.Add(1) - 1)
					if i >= n {
						return
					}
					body := fmt.Sprintf(`{"id":%q,"event_type":"admin_action","entity_uri":"urn:test:a","detail":{"action":"feed","n":%d}}`, replicaUUID(t), i)
					for try := 0; ; try++ {
						req, _ := http.NewRequest(http.MethodPost, live[(i+try)%len(live)].url()+"/v1/audit/events", strings.NewReader(body))
						req.Header.Set("Authorization", "Bearer "+apiKey)
						resp, err := hc.Do(req)
						if err == nil {
							io.Copy(io.Discard, resp.Body)
							resp.Body.Close()
							if resp.StatusCode == http.StatusCreated {
								break
							}
						}
						if try > 100 {
							t.Errorf("event %d never acknowledged: %v", i, err)
							return
						}
						time.Sleep(20 * time.Millisecond)
					}
				}
			}()
		}
		wg.Wait()
	}
	counted := func() int {
		n := 0
		for _, r := range reps {
			n += int(metricSum(t, r.url(), "stigmem_audit_event_total", ""))
		}
		return n
	}
	logSize := func() int64 {
		store, err := pgstore.Open(context.Background(), dsn, pgstore.Options{MaxConns: 2})
		if err != nil {
			t.Fatal(err)
		}
		defer store.Close()
		size, err := store.Size(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		return size
	}

	// Phase 1: every replica up. The counters add up to the events once.
	const first = 600
	emitAll(reps, first)
	waitfor.Until(t, 15*time.Second, fmt.Sprintf("the replicas to count the %d events", first), func() bool { return counted() >= first })
	// A bounded sleep: a counter counting an event twice would do so at a
	// notifier's poll, and a poll that rightly counts nothing shows nowhere
	// outside the replica's process, so there is no later event to wait for.
	time.Sleep(1500 * time.Millisecond) // every replica's notifier has polled; the cursor is saved
	// Every event since the servers started (the key creation came
	// before): the clients' and any the servers record themselves.
	if got, want := counted(), int(logSize()-1); got != want || want < first {
		t.Fatalf("stigmem_audit_event_total summed over 3 replicas = %d after %d events emitted, want %d (once per event)", got, first, want)
	}

	phase1 := logSize()

	// Phase 2: kill the replica that feeds the sinks mid-load, restart it.
	var feeder *replica
	for _, r := range reps {
		if r.leadsRole("feed/sinks") {
			feeder = r
		}
	}
	if feeder == nil {
		t.Fatal("no replica says it leads the sink feed")
	}
	var live []*replica
	for _, r := range reps {
		if r != feeder {
			live = append(live, r)
		}
	}
	const second = 400
	done := make(chan struct{})
	go func() { defer close(done); emitAll(live, second) }()
	time.Sleep(200 * time.Millisecond)
	feeder.signal(syscall.SIGKILL)
	<-done
	feeder.start()
	time.Sleep(2 * time.Second)
	for _, r := range reps {
		r.signal(syscall.SIGTERM) // graceful: the last feeder drains and saves its cursor
	}

	size := logSize()
	if size < 1+first+second { // the key creation came before the servers
		t.Fatalf("log holds %d events, want at least %d", size, 1+first+second)
	}
	// Each replica's file sink has its own name, so its own cursor: a
	// replica elected after the kill delivers from where its sink was, and
	// what another replica's sink already took may reach its file too
	// (at least once across replicas). Within one sink, a seq handled and
	// saved before the kill is never delivered again: the restarted feeder
	// resumes from its saved cursor.
	times := map[int64]int{}
	for _, r := range reps {
		seqs := sinkFileSeqs(t, filepath.Join(r.dir, "sink.jsonl"))
		inFile := map[int64]int{}
		for i, s := range seqs {
			if i > 0 && s <= seqs[i-1] && inFile[s] == 0 {
				t.Errorf("%s: seq %d after %d: not in seq order", r.addr, s, seqs[i-1])
			}
			inFile[s]++
			times[s]++
			if inFile[s] == 2 && s < phase1 {
				t.Errorf("%s: seq %d, handled and saved before the kill, reached this sink twice", r.addr, s)
			}
		}
	}
	dups := 0
	for seq := int64(1); seq < size; seq++ {
		switch n := times[seq]; {
		case n == 0:
			t.Errorf("seq %d reached no sink", seq)
		case n > 1:
			dups += n - 1
		}
	}
	if times[0] != 0 {
		t.Errorf("seq 0, committed before any server started, reached the sinks")
	}
	t.Logf("%d events; %d delivered again after the feeder was killed", size-1, dups)
}

// sinkFileSeqs returns the seqs of a file sink's lines, in file order.
func sinkFileSeqs(t *testing.T, path string) []int64 {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []int64
	for _, line := range bytes.Split(bytes.TrimSpace(data), []byte("\n")) {
		if len(line) == 0 {
			continue
		}
		var e struct {
			Seq int64 `json:"seq"`
		}
		if err := json.Unmarshal(line, &e); err != nil {
			t.Fatalf("%s: %v: %s", path, err, line)
		}
		out = append(out, e.Seq)
	}
	return out
}
