package witness

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/mod/sumdb/note"

	"github.com/stigaudit/stigaudit/core/auditerr"
	"github.com/stigaudit/stigaudit/core/checkpoint"
	"github.com/stigaudit/stigaudit/core/merkle"
	"github.com/stigaudit/stigaudit/server/tlog"
)

// Defaults of Config.
const (
	DefaultTimeout  = 10 * time.Second
	DefaultInterval = time.Second
)

// Config configures New.
type Config struct {
	// Policy names the witnesses and the quorum; required.
	Policy *Policy
	// Tree is the stored log, for consistency proofs; required.
	Tree tlog.Tree
	// Client sends the requests; default a client with Timeout.
	Client *http.Client
	// Timeout bounds one request; default DefaultTimeout.
	Timeout time.Duration
	// Interval is the least time between two requests to one witness;
	// default DefaultInterval (docs/tamper-evidence.md#witnesses: at most once a second).
	Interval time.Duration
	// Logger receives refusals (ERROR) and failures; default slog.Default().
	Logger *slog.Logger
	// Registerer, if set, receives stigaudit_witness_cosign_total and
	// stigaudit_witness_lag_seconds.
	Registerer prometheus.Registerer
	// StaleAfter is how long the newest signed checkpoint may wait for the
	// quorum before Ready fails; default DefaultStaleAfter.
	StaleAfter time.Duration
	// Active, if set, says whether this process talks to the witnesses now
	// (the elected signer among PostgreSQL replicas); nil means always.
	Active func() bool
	// Shared, if set, is where the active process stores each checkpoint
	// that reaches the quorum and the others read it from (every replica
	// serves the witnessed checkpoint; one talks to the witnesses).
	Shared Shared
}

// Shared keeps the newest witnessed checkpoint where every replica reads it.
type Shared interface {
	// Save stores the note (with its cosignatures) of a checkpoint of size
	// unless a larger one is stored.
	Save(ctx context.Context, size uint64, note []byte) error
	// Load returns the stored note; ok is false when none is.
	Load(ctx context.Context) (note []byte, ok bool, err error)
}

// DefaultStaleAfter is Config.StaleAfter's default: ten rounds.
const DefaultStaleAfter = 10 * time.Second

// Witnessing collects cosignatures for a log's checkpoints. It is safe for
// concurrent use. Close stops it.
type Witnessing struct {
	cfg     Config
	workers []*worker
	m       *metrics

	mu        sync.Mutex
	signed    *tlog.Signed              // the newest checkpoint submitted
	cosigs    map[uint64]map[int][]byte // size → witness index → its cosignature line(s)
	notes     map[uint64]tlog.Signed    // size → the checkpoint cosigned at that size
	witnessed *Cosigned                 // the newest checkpoint meeting the quorum
	// shared is the newest witnessed checkpoint read from Shared that this
	// process has not verified a tree as large as yet (a follower).
	shared *Cosigned
	// disagreed is the size of the last stored witnessed checkpoint found
	// to disagree with this process's tree (said once, not every second).
	disagreed uint64

	stop chan struct{}
	wg   sync.WaitGroup
}

// Cosigned is a checkpoint with the cosignatures that meet the quorum.
type Cosigned struct {
	tlog.Signed
	// Note is the signed note with every cosignature line appended: what
	// GET /v1/audit/checkpoint serves.
	Note []byte
}

// New starts one goroutine per witness of cfg.Policy.
func New(cfg Config) (*Witnessing, error) {
	if cfg.Policy == nil || cfg.Tree == nil {
		return nil, auditerr.Errorf(auditerr.ErrInvalidConfig, "witness: Config needs Policy and Tree")
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.Interval <= 0 {
		cfg.Interval = DefaultInterval
	}
	if cfg.Client == nil {
		cfg.Client = &http.Client{Timeout: cfg.Timeout}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.StaleAfter <= 0 {
		cfg.StaleAfter = DefaultStaleAfter
	}
	m, err := newMetrics(cfg.Registerer)
	if err != nil {
		return nil, err
	}
	w := &Witnessing{cfg: cfg, m: m, cosigs: map[uint64]map[int][]byte{}, notes: map[uint64]tlog.Signed{}, stop: make(chan struct{})}
	for i, wit := range cfg.Policy.Witnesses {
		k := &worker{w: w, i: i, wit: wit, wake: make(chan struct{}, 1)}
		w.workers = append(w.workers, k)
		w.wg.Add(1)
		go k.run()
	}
	if cfg.Shared != nil {
		w.wg.Add(1)
		go w.follow()
	}
	return w, nil
}

// Submit hands a newly signed checkpoint to every witness. It never
// blocks: a witness that is busy gets the newest checkpoint when it is done.
func (w *Witnessing) Submit(s tlog.Signed) {
	w.mu.Lock()
	if w.signed != nil && w.signed.Size >= s.Size {
		w.mu.Unlock()
		return
	}
	w.signed = &s
	w.notes[s.Size] = s
	w.adoptSharedLocked()
	w.mu.Unlock()
	if w.cfg.Policy.None() {
		w.cosigned(s.Size, -1, nil)
	}
	for _, k := range w.workers {
		select {
		case k.wake <- struct{}{}:
		default:
		}
	}
}

// Latest returns the newest checkpoint whose cosignatures meet the quorum.
func (w *Witnessing) Latest() (Cosigned, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.witnessed == nil {
		return Cosigned{}, false
	}
	return *w.witnessed, true
}

// Ready fails while a witness refuses the log's checkpoints as a fork or a
// rollback (until it cosigns again), and while the newest signed checkpoint
// has waited StaleAfter for the quorum (naming the witnesses that have not
// cosigned it and their last error), for /readyz.
func (w *Witnessing) Ready(context.Context) error {
	var problems []string
	for _, k := range w.workers {
		if err := k.refusal(); err != nil {
			problems = append(problems, err.Error())
		}
	}
	w.mu.Lock()
	var waiting time.Duration
	var size uint64
	if w.signed != nil && (w.witnessed == nil || w.witnessed.Size < w.signed.Size) {
		waiting, size = time.Since(w.signed.Time), w.signed.Size
	}
	w.mu.Unlock()
	if waiting > w.cfg.StaleAfter {
		var missing []string
		for _, k := range w.workers {
			if at, err := k.status(); at < size {
				s := k.wit.Name
				if err != nil {
					s += " (" + err.Error() + ")"
				}
				missing = append(missing, s)
			}
		}
		problems = append(problems, fmt.Sprintf("checkpoint %d has waited %s for the witness quorum; not cosigned by %s",
			size, waiting.Round(time.Second), strings.Join(missing, ", ")))
	}
	if len(problems) > 0 {
		return auditerr.Errorf(auditerr.ErrStoreUnavailable, "%s", strings.Join(problems, "; "))
	}
	return nil
}

// Close stops the witnesses' goroutines, abandoning requests in flight.
func (w *Witnessing) Close() {
	select {
	case <-w.stop:
	default:
		close(w.stop)
	}
	w.wg.Wait()
}

// cosigned records witness i's cosignature lines for the checkpoint of
// size and advances the witnessed checkpoint when the quorum is met.
func (w *Witnessing) cosigned(size uint64, i int, lines []byte) {
	w.mu.Lock()
	defer w.mu.Unlock()
	s, ok := w.notes[size]
	if !ok {
		return
	}
	if i >= 0 {
		if w.cosigs[size] == nil {
			w.cosigs[size] = map[int][]byte{}
		}
		w.cosigs[size][i] = lines
	}
	if w.witnessed != nil && w.witnessed.Size >= size {
		return
	}
	full := append([]byte(nil), s.Note...)
	for j := range w.workers {
		full = append(full, w.cosigs[size][j]...)
	}
	if !w.cfg.Policy.Satisfied(full) && !w.cfg.Policy.None() {
		return
	}
	w.witnessed = &Cosigned{Signed: s, Note: full}
	w.m.lag.Set(0)
	if w.cfg.Shared != nil {
		go func(size uint64, note []byte) {
			ctx, cancel := context.WithTimeout(context.Background(), w.cfg.Timeout)
			defer cancel()
			if err := w.cfg.Shared.Save(ctx, size, note); err != nil {
				w.cfg.Logger.Warn("storing the witnessed checkpoint for the other replicas", slog.String("error", err.Error()))
			}
		}(size, full)
	}
	// Older sizes can never become the newest witnessed one.
	for sz := range w.notes {
		if sz < size {
			delete(w.notes, sz)
			delete(w.cosigs, sz)
		}
	}
}

// active reports whether this process talks to the witnesses now.
func (w *Witnessing) active() bool { return w.cfg.Active == nil || w.cfg.Active() }

// follow reads, once a second while this process is not the active one,
// the witnessed checkpoint the active one stored, and serves it once it
// has checked the quorum itself.
func (w *Witnessing) follow() {
	defer w.wg.Done()
	t := time.NewTicker(time.Second)
	defer t.Stop()
	var warned time.Time
	for {
		select {
		case <-w.stop:
			return
		case <-t.C:
		}
		if w.active() {
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), w.cfg.Timeout)
		n, ok, err := w.cfg.Shared.Load(ctx)
		cancel()
		if err != nil && time.Since(warned) > time.Minute {
			warned = time.Now()
			w.cfg.Logger.Warn("reading the witnessed checkpoint stored by the elected replica", slog.String("error", err.Error()))
		}
		if !ok || !w.cfg.Policy.Satisfied(n) {
			continue
		}
		c, err := checkpoint.ParseBody(checkpoint.NoteBody(n))
		if err != nil {
			continue
		}
		w.mu.Lock()
		if w.shared == nil || c.Size > w.shared.Size {
			w.shared = &Cosigned{Signed: tlog.Signed{Checkpoint: c, Note: n}, Note: n}
		}
		w.adoptSharedLocked()
		w.mu.Unlock()
	}
}

// adoptSharedLocked serves the witnessed checkpoint read from Shared once
// this process's own checkpointer has verified a tree at least as large:
// a replica never serves a checkpoint whose tiles and proofs it would
// refuse. At equal sizes the roots must agree; a disagreement is a fork
// between replicas and is said, not served. w.mu is held.
func (w *Witnessing) adoptSharedLocked() {
	sh := w.shared
	if sh == nil || w.signed == nil || sh.Size > w.signed.Size {
		return
	}
	w.shared = nil
	if sh.Size == w.signed.Size && sh.Root != w.signed.Root {
		if w.disagreed == sh.Size {
			return
		}
		w.disagreed = sh.Size
		w.cfg.Logger.Error("the witnessed checkpoint stored by the elected replica disagrees with this replica's tree; not serving it",
			slog.Uint64("size", sh.Size), slog.String("stored_root", fmt.Sprintf("%x", sh.Root)), slog.String("own_root", fmt.Sprintf("%x", w.signed.Root)))
		return
	}
	if w.witnessed == nil || sh.Size > w.witnessed.Size {
		w.witnessed = sh
	}
}

// observeLag updates stigaudit_witness_lag_seconds: how long the newest
// signed checkpoint has waited for its quorum.
func (w *Witnessing) observeLag() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.signed == nil || (w.witnessed != nil && w.witnessed.Size >= w.signed.Size) {
		w.m.lag.Set(0)
		return
	}
	w.m.lag.Set(time.Since(w.signed.Time).Seconds())
}

// worker talks to one witness.
type worker struct {
	w    *Witnessing
	i    int
	wit  Witness
	wake chan struct{}

	// size is what the witness last cosigned, as far as we know: 0 until it
	// says otherwise (a 409 names it).
	size uint64

	mu      sync.Mutex
	refused error  // the witness's last word was a refusal of a fork or rollback
	cosign  uint64 // the size it last cosigned
	lastErr error  // its last failure, nil after a cosignature
}

// status returns the size the witness last cosigned and its last failure.
func (k *worker) status() (uint64, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.cosign, k.lastErr
}

func (k *worker) failed(err error) {
	k.mu.Lock()
	k.lastErr = err
	k.mu.Unlock()
}

func (k *worker) refusal() error {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.refused
}

func (k *worker) setRefused(err error) {
	k.mu.Lock()
	k.refused = err
	k.mu.Unlock()
}

func (k *worker) run() {
	defer k.w.wg.Done()
	tick := time.NewTicker(k.w.cfg.Interval)
	defer tick.Stop()
	var sent uint64
	for {
		select {
		case <-k.w.stop:
			return
		case <-k.wake:
		case <-tick.C: // retry after a failure, and keep the lag gauge current
		}
		k.w.observeLag()
		if !k.w.active() {
			k.size = 0 // learn the witness's size again when elected
			continue
		}
		k.w.mu.Lock()
		s := k.w.signed
		k.w.mu.Unlock()
		if s == nil || s.Size <= sent && k.refusal() == nil {
			continue
		}
		if err := k.add(*s); err == nil {
			sent = s.Size
		} else {
			k.failed(err)
		}
		select { // at most one request a second
		case <-k.w.stop:
			return
		case <-time.After(k.w.cfg.Interval):
		}
	}
}

// add sends s, resending once from the size a 409 names.
func (k *worker) add(s tlog.Signed) error {
	for attempt := 0; ; attempt++ {
		held, err := k.post(s)
		if err == nil {
			return nil
		}
		var c *conflict
		if !errors.As(err, &c) || attempt > 0 {
			return err
		}
		if held > s.Size {
			err := fmt.Errorf("witness %s holds size %d of this log, beyond our checkpoint of size %d: a rollback, or another log signing as ours", k.wit.Name, held, s.Size)
			k.refuse(err)
			return err
		}
		k.size = held
	}
}

// conflict is a 409: the witness holds another size.
type conflict struct{ size uint64 }

func (c *conflict) Error() string { return fmt.Sprintf("the witness holds size %d", c.size) }

// post makes one add-checkpoint request; on a 409 it returns the size the
// witness holds with a *conflict.
func (k *worker) post(s tlog.Signed) (uint64, error) {
	ctx, cancel := context.WithTimeout(context.Background(), k.w.cfg.Timeout)
	defer cancel()
	go func() {
		select {
		case <-k.w.stop:
			cancel()
		case <-ctx.Done():
		}
	}()
	old := k.size
	if old > s.Size {
		old = 0
	}
	var body bytes.Buffer
	fmt.Fprintf(&body, "old %d\n", old)
	if old > 0 && old < s.Size {
		proof, err := merkle.ProveConsistency(old, s.Size, func(ids []merkle.NodeID) ([][]byte, error) {
			return k.w.cfg.Tree.ReadNodes(ctx, ids)
		})
		if err != nil {
			k.count("error")
			return 0, fmt.Errorf("witness %s: consistency proof %d→%d: %w", k.wit.Name, old, s.Size, err)
		}
		for _, h := range proof {
			body.WriteString(base64.StdEncoding.EncodeToString(h[:]))
			body.WriteByte('\n')
		}
	}
	body.WriteByte('\n')
	body.Write(s.Note)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, k.wit.URL+"/add-checkpoint", &body)
	if err != nil {
		return 0, err
	}
	resp, err := k.w.cfg.Client.Do(req)
	if err != nil {
		k.count("unreachable")
		k.warn("witness unreachable", err)
		return 0, err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	switch resp.StatusCode {
	case http.StatusOK:
		lines, err := k.verify(s, b)
		if err != nil {
			k.count("bad_cosignature")
			k.warn("witness answered an invalid cosignature", err)
			return 0, err
		}
		k.size = s.Size
		k.setRefused(nil)
		k.mu.Lock()
		k.cosign, k.lastErr = s.Size, nil
		k.mu.Unlock()
		k.count("cosigned")
		k.w.cosigned(s.Size, k.i, lines)
		return s.Size, nil
	case http.StatusConflict:
		held, err := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64)
		if err != nil {
			k.count("error")
			return 0, fmt.Errorf("witness %s: 409 without a size: %q", k.wit.Name, b)
		}
		k.count("conflict")
		return held, &conflict{size: held}
	case http.StatusUnprocessableEntity, http.StatusBadRequest:
		err := fmt.Errorf("witness %s refused checkpoint %d (root %x) from size %d as inconsistent with what it cosigned (HTTP %d: %s)",
			k.wit.Name, s.Size, s.Root, old, resp.StatusCode, bytes.TrimSpace(b))
		k.refuse(err)
		return 0, err
	default:
		k.count("error")
		err := fmt.Errorf("witness %s: HTTP %d: %s", k.wit.Name, resp.StatusCode, bytes.TrimSpace(b))
		k.warn("witness did not cosign", err)
		return 0, err
	}
}

// refuse records and reports a refusal that points at a fork or rollback.
func (k *worker) refuse(err error) {
	k.count("refused")
	k.setRefused(err)
	k.w.cfg.Logger.Error("WITNESS REFUSES THE LOG'S CHECKPOINT: a fork or a rollback of the log, as this witness sees it", slog.String("witness", k.wit.Name), slog.String("error", err.Error()))
}

func (k *worker) count(result string) {
	k.w.m.cosign.WithLabelValues(k.wit.Name, result).Inc()
}

func (k *worker) warn(msg string, err error) {
	k.w.cfg.Logger.Warn(msg, slog.String("witness", k.wit.Name), slog.String("error", err.Error()))
}

// verify checks the witness's answer: signature lines, of which at least
// one is a valid cosignature by its key on s. It returns the valid lines.
func (k *worker) verify(s tlog.Signed, answer []byte) ([]byte, error) {
	var valid []byte
	sc := bufio.NewScanner(bytes.NewReader(answer))
	for sc.Scan() {
		line := sc.Text()
		if line == "" {
			continue
		}
		if !strings.HasPrefix(line, "— ") {
			return nil, fmt.Errorf("witness %s: %q is not a signature line", k.wit.Name, line)
		}
		n, err := note.Open(append(append([]byte(nil), s.Note...), line+"\n"...), note.VerifierList(k.wit.Verifier))
		if err != nil || len(n.Sigs) == 0 {
			continue // another key of the witness, or not for us: ignored
		}
		valid = append(valid, line+"\n"...)
	}
	if len(valid) == 0 {
		return nil, fmt.Errorf("witness %s: no valid cosignature by %s in its answer", k.wit.Name, k.wit.Verifier.Name())
	}
	return valid, nil
}

type metrics struct {
	cosign *prometheus.CounterVec
	lag    prometheus.Gauge
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		cosign: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "stigaudit_witness_cosign_total",
			Help: "add-checkpoint requests by witness and result: cosigned, conflict (409, resent), refused (a fork or rollback as the witness sees it), unreachable, bad_cosignature, error.",
		}, []string{"witness", "result"}),
		lag: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "stigaudit_witness_lag_seconds",
			Help: "How long the newest signed checkpoint has waited for the witness quorum (0 when it is witnessed).",
		}),
	}
	if reg != nil {
		for _, c := range []prometheus.Collector{m.cosign, m.lag} {
			if err := reg.Register(c); err != nil {
				return nil, fmt.Errorf("witness metrics: %w", err)
			}
		}
	}
	return m, nil
}
