package tlog

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/transparency-dev/merkle/compact"

	"github.com/stigaudit/stigaudit/core/auditerr"
	"github.com/stigaudit/stigaudit/core/checkpoint"
	"github.com/stigaudit/stigaudit/core/merkle"
)

// Defaults of Config.
const (
	DefaultInterval = time.Second
	DefaultPoll     = 100 * time.Millisecond
)

// Tree is the stored log as the checkpointer and the prover read it:
// sqlitestore.Store implements it. Stored tree nodes never change once
// written (they are appended in the transaction of their last leaf).
type Tree interface {
	// Size returns the number of committed events.
	Size(ctx context.Context) (int64, error)
	// ReadNodes returns the hashes of perfect subtrees (level 0: leaf
	// hashes) in the order of ids; a node not complete yet is an error.
	ReadNodes(ctx context.Context, ids []compact.NodeID) ([][]byte, error)
}

// Config configures a Checkpointer.
type Config struct {
	// Tree is the stored log; required.
	Tree Tree
	// Checkpoints keeps the signed checkpoints; required.
	Checkpoints Checkpoints
	// Key signs the checkpoints; required. Its origin names the log.
	Key *Key
	// Ring, if set, replaces Key for signing and opening: the keys of a
	// rotation (docs/tamper-evidence.md#key-rotation), re-read before every signature.
	Ring *Ring
	// Interval is the least time between two signatures while the log
	// grows; default DefaultInterval (1s, docs/tamper-evidence.md#checkpoints).
	Interval time.Duration
	// Poll is how often the log's size is read; default DefaultPoll. An
	// acknowledged event is covered within about Interval + Poll.
	Poll time.Duration
	// StaleAfter is how long the log may grow past the latest checkpoint,
	// with nothing signed, before Ready fails; default ten Intervals and at
	// least 10 s.
	StaleAfter time.Duration
	// Now reads the wall clock for created_at; default time.Now.
	Now func() time.Time
	// Logger receives failures, and a fork loudly; default slog.Default().
	Logger *slog.Logger
	// Registerer, if set, receives the checkpointer's metrics.
	Registerer prometheus.Registerer
	// Pin, if set, keeps the last published checkpoint outside the
	// database (FilePin in the data directory): New requires the stored
	// tree to extend it too, and Sync saves every checkpoint before
	// publishing it.
	Pin Pin
	// OnSign, if set, is called with every checkpoint this Checkpointer
	// stores, after it is stored. It must not block.
	OnSign func(Signed)
	// OnPublish, if set, is called with every checkpoint that becomes the
	// latest one this Checkpointer serves: loaded at New, signed here, or
	// stored by another signer (a PostgreSQL replica's leader). It must not
	// block. Witnessing hangs off it.
	OnPublish func(Signed)
}

// Checkpointer signs checkpoints of a growing log (see the package doc).
// It is safe for concurrent use.
type Checkpointer struct {
	cfg Config
	m   *cpMetrics

	syncMu sync.Mutex // one signing at a time

	mu         sync.RWMutex
	latest     *Signed
	fault      error     // sticky: the stored tree disagrees with what was signed
	lastSigned time.Time // when the last signing by this process began (monotonic)
	created    time.Time // when New returned: Ready's clock before the first signing

	startOnce, stopOnce sync.Once
	stop, done          chan struct{}
}

// New returns a Checkpointer for cfg. It loads the latest stored
// checkpoint, checks its signature with cfg.Key and checks that the stored
// tree still has its root. When either check fails the Checkpointer is
// created in the refusing state (Err, Ready): it will never sign. An error
// is returned only for a bad Config or when the store cannot be read.
func New(ctx context.Context, cfg Config) (*Checkpointer, error) {
	if cfg.Tree == nil || cfg.Checkpoints == nil || cfg.Key == nil {
		return nil, auditerr.Errorf(auditerr.ErrInvalidConfig, "tlog: Config needs Tree, Checkpoints and Key")
	}
	if cfg.Interval <= 0 {
		cfg.Interval = DefaultInterval
	}
	if cfg.Poll <= 0 {
		cfg.Poll = DefaultPoll
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	m, err := newCPMetrics(cfg.Registerer)
	if err != nil {
		return nil, err
	}
	c := &Checkpointer{cfg: cfg, m: m, stop: make(chan struct{}), done: make(chan struct{}), created: time.Now()}
	type known struct {
		s     Signed
		where string
	}
	var have []known
	last, ok, err := cfg.Checkpoints.Latest(ctx)
	if err != nil {
		return nil, err
	}
	if ok {
		have = append(have, known{last, "stored in the database"})
	}
	if cfg.Pin != nil {
		pinned, ok, err := cfg.Pin.Load()
		if err != nil {
			return nil, err
		}
		if ok {
			have = append(have, known{pinned, "pinned in " + PinFile})
		}
	}
	if len(have) == 0 {
		return c, nil
	}
	size, err := cfg.Tree.Size(ctx)
	if err != nil {
		return nil, fmt.Errorf("tlog: read the log size: %w", err)
	}
	for _, k := range have {
		if err := c.openStored(&k.s); err != nil {
			c.refuse(err)
			return c, nil
		}
		if uint64(size) < k.s.Size {
			c.refuse(forkf("the log holds %d events but the checkpoint %s was signed at size %d with root %x: events were lost, or the database was deleted or restored from an older copy", size, k.where, k.s.Size, k.s.Root))
			return c, nil
		}
		if err := c.checkConsistent(ctx, k.s, uint64(size), nil); err != nil {
			if isFork(err) {
				c.refuse(fmt.Errorf("checkpoint %s: %w", k.where, err))
				return c, nil
			}
			return nil, err
		}
		if cur, ok := c.Latest(); !ok || k.s.Size > cur.Size {
			c.setLatest(k.s)
		}
	}
	return c, nil
}

// openStored checks a stored checkpoint's signature and that its columns
// say what its note says.
func (c *Checkpointer) openStored(s *Signed) error {
	k := c.cfg.Key
	opened, err := c.keys().Open(s.Note, k.Origin)
	if err != nil {
		return forkf("the stored checkpoint of size %d does not open with the key in the data directory (%s+%08x): %v; was %s replaced?", s.Size, k.Verifier.Name(), k.Verifier.KeyHash(), err, KeyFile)
	}
	if opened.Size != s.Size || opened.Root != s.Root {
		return forkf("the stored checkpoint row of size %d says root %x, but its signed note says size %d, root %x", s.Size, s.Root, opened.Size, opened.Root)
	}
	s.Origin = opened.Origin
	return nil
}

// keys are the keys stored checkpoints are opened with.
func (c *Checkpointer) keys() checkpoint.Keys {
	if c.cfg.Ring != nil {
		return c.cfg.Ring.Keys()
	}
	return checkpoint.SingleKey(c.cfg.Key.Verifier)
}

// sign signs cp with Key, or with every key of Ring (re-read first, so a
// rotation takes effect at the next signature).
func (c *Checkpointer) sign(cp checkpoint.Checkpoint) ([]byte, error) {
	if c.cfg.Ring == nil {
		return checkpoint.Sign(cp, c.cfg.Key.Signer)
	}
	if err := c.cfg.Ring.Refresh(); err != nil {
		c.cfg.Logger.Warn("checkpoint keys not re-read; signing with the ones loaded before", slog.String("error", err.Error()))
	}
	return c.cfg.Ring.Sign(cp)
}

// Latest returns the latest signed checkpoint; ok is false before the first.
func (c *Checkpointer) Latest() (Signed, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if c.latest == nil {
		return Signed{}, false
	}
	return *c.latest, true
}

// Err returns why the Checkpointer refuses to sign, or nil. A refusal is
// permanent for this process: it means the stored log is not a continuation
// of what was signed (a fork, a rollback, a replaced key), which an operator
// must investigate.
func (c *Checkpointer) Err() error {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.fault
}

// Ready reports whether the Checkpointer keeps the log signed, for
// readiness probes: nil, or an error wrapping auditerr.ErrStoreUnavailable
// (HTTP 503) that says why — it refuses to sign (Err), or the log has grown
// past the latest checkpoint and nothing was signed for StaleAfter.
func (c *Checkpointer) Ready(ctx context.Context) error {
	if err := c.Err(); err != nil {
		return auditerr.Errorf(auditerr.ErrStoreUnavailable, "the checkpointer refuses to sign: %v", err)
	}
	c.mu.RLock()
	since := c.lastSigned
	if since.IsZero() {
		since = c.created
	}
	var covered uint64
	if c.latest != nil {
		covered = c.latest.Size
	}
	c.mu.RUnlock()
	if time.Since(since) < c.staleAfter() {
		return nil
	}
	size, err := c.cfg.Tree.Size(ctx)
	if err != nil || uint64(size) <= covered {
		return nil // an unreadable store is the store check's to report
	}
	return auditerr.Errorf(auditerr.ErrStoreUnavailable, "the log holds %d events but the latest checkpoint covers %d and none was signed for %s",
		size, covered, time.Since(since).Round(time.Second))
}

// staleAfter is Config.StaleAfter or its default.
func (c *Checkpointer) staleAfter() time.Duration {
	if c.cfg.StaleAfter > 0 {
		return c.cfg.StaleAfter
	}
	return max(10*c.cfg.Interval, 10*time.Second)
}

// Start signs at once if the log is not covered (for instance after a
// crash) and then keeps signing in the background: every Poll it reads the
// log's size and, if it grew and the last signature is at least Interval
// old, signs a checkpoint of the new size.
func (c *Checkpointer) Start() {
	c.startOnce.Do(func() { go c.run() })
}

// Stop ends the background signing and signs a last checkpoint covering
// every committed event, so that a cleanly stopped server leaves its whole
// log signed. Call it before closing the store.
func (c *Checkpointer) Stop(ctx context.Context) error {
	c.stopOnce.Do(func() { close(c.stop) })
	c.startOnce.Do(func() { close(c.done) }) // never started: nothing to wait for
	select {
	case <-c.done:
	case <-ctx.Done():
		return ctx.Err()
	}
	if c.Err() != nil {
		return nil // refusing: the fault was reported already
	}
	_, err := c.Sync(ctx)
	return err
}

func (c *Checkpointer) run() {
	defer close(c.done)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-c.stop:
			cancel()
		case <-ctx.Done():
		}
	}()
	t := time.NewTicker(c.cfg.Poll)
	defer t.Stop()
	var warned time.Time
	for {
		if c.Err() == nil && c.due() {
			if _, err := c.Sync(ctx); err != nil && ctx.Err() == nil && !isFork(err) {
				c.m.errors.Inc()
				if time.Since(warned) >= 10*time.Second { // the store is down: say so, not 10 times a second
					warned = time.Now()
					c.cfg.Logger.Warn("checkpoint not signed; retrying", slog.String("error", err.Error()))
				}
			}
		}
		select {
		case <-c.stop:
			return
		case <-t.C:
		}
	}
}

// due reports whether Interval has passed since the last signature.
func (c *Checkpointer) due() bool {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.lastSigned.IsZero() || time.Since(c.lastSigned) >= c.cfg.Interval
}

// Sync signs and stores a checkpoint of the log's current size now,
// whatever the Interval, unless the latest checkpoint covers it already,
// and returns the latest checkpoint. Before signing it proves, from the
// stored tree nodes, that the new tree extends the last signed one; if not,
// it refuses for good (Err) and returns an error wrapping
// auditerr.ErrVerifyFailed. Other errors (the store unavailable) leave the
// Checkpointer working.
func (c *Checkpointer) Sync(ctx context.Context) (Signed, error) {
	c.syncMu.Lock()
	defer c.syncMu.Unlock()
	if err := c.Err(); err != nil {
		return Signed{}, err
	}
	prev, havePrev := c.Latest()
	// The cadence runs from the start of one signing to the start of the
	// next, so a slow insert (waiting for SQLite's write lock under load)
	// does not stretch the interval.
	began := time.Now()
	n, err := c.cfg.Tree.Size(ctx)
	if err != nil {
		return Signed{}, fmt.Errorf("tlog: read the log size: %w", err)
	}
	size := uint64(n)
	if havePrev && size == prev.Size {
		return prev, nil
	}
	if havePrev && size < prev.Size {
		return Signed{}, c.refuse(forkf("the log holds %d events but checkpoint %d was signed: events were removed or the database was restored from an older copy", size, prev.Size))
	}
	root, err := c.rootAt(ctx, size)
	if err != nil {
		return Signed{}, err
	}
	if havePrev {
		if err := c.checkConsistent(ctx, prev, size, &root); err != nil {
			if isFork(err) {
				return Signed{}, c.refuse(err)
			}
			return Signed{}, err
		}
	}
	cp := checkpoint.Checkpoint{Origin: c.cfg.Key.Origin, Size: size, Root: root}
	signedNote, err := c.sign(cp)
	if err != nil {
		return Signed{}, fmt.Errorf("tlog: %w", err)
	}
	mine := Signed{Checkpoint: cp, Note: signedNote, Time: c.cfg.Now()}
	stored, err := c.cfg.Checkpoints.Add(ctx, mine, func(last *Signed) error {
		if last == nil || havePrev && last.Size == prev.Size && last.Root == prev.Root {
			return nil
		}
		// Another signer (`stigaudit export`, a second server on the same
		// file) stored a checkpoint since: it must agree with ours too.
		other := *last
		if err := c.openStored(&other); err != nil {
			return err
		}
		if other.Size <= size {
			return c.checkConsistent(ctx, other, size, &root)
		}
		return c.checkConsistent(ctx, mine, other.Size, &other.Root)
	})
	if err != nil {
		if isFork(err) {
			return Signed{}, c.refuse(err)
		}
		return Signed{}, err
	}
	if stored.Size == mine.Size {
		stored = mine
	} else if err := c.openStored(&stored); err != nil {
		return Signed{}, c.refuse(err)
	}
	if havePrev && stored.Size < prev.Size {
		return Signed{}, c.refuse(forkf("the database's latest checkpoint is of size %d (root %x) but size %d (root %x) was published: the database was restored from an older copy", stored.Size, stored.Root, prev.Size, prev.Root))
	}
	if c.cfg.Pin != nil {
		// Before publishing: what a client may have seen is never
		// forgotten, whatever becomes of the database.
		if err := c.cfg.Pin.Save(stored); err != nil {
			if isFork(err) {
				return Signed{}, c.refuse(err)
			}
			return Signed{}, err
		}
	}
	c.mu.Lock()
	advanced := c.latest == nil || stored.Size > c.latest.Size
	c.latest = &stored
	c.lastSigned = began
	c.mu.Unlock()
	c.m.observe(stored)
	if advanced && c.cfg.OnPublish != nil {
		c.cfg.OnPublish(stored)
	}
	if stored.Size == mine.Size {
		c.m.signed.Inc()
		if c.cfg.OnSign != nil {
			c.cfg.OnSign(stored)
		}
	}
	return stored, nil
}

func (c *Checkpointer) setLatest(s Signed) {
	c.mu.Lock()
	c.latest = &s
	c.mu.Unlock()
	c.m.observe(s)
	if c.cfg.OnPublish != nil {
		c.cfg.OnPublish(s)
	}
}

// refuse enters the refusing state for good and says so loudly.
func (c *Checkpointer) refuse(err error) error {
	c.mu.Lock()
	first := c.fault == nil
	if first {
		c.fault = err
	}
	c.mu.Unlock()
	if first {
		c.m.fork.Set(1)
		c.cfg.Logger.Error("CHECKPOINTER REFUSES TO SIGN: the stored log does not extend the last signed checkpoint; no checkpoint will be signed until an operator investigates (stigaudit verify)",
			slog.String("error", err.Error()))
	}
	return err
}

// rootAt computes the root of the first size events from the stored tree
// nodes: O(log size) reads.
func (c *Checkpointer) rootAt(ctx context.Context, size uint64) ([merkle.HashSize]byte, error) {
	return RootAt(ctx, c.cfg.Tree, size)
}

// RootAt computes the root of the first size leaves of the stored tree from
// the O(log size) perfect subtrees that cover them.
func RootAt(ctx context.Context, t Tree, size uint64) ([merkle.HashSize]byte, error) {
	if size == 0 {
		return merkle.EmptyRoot(), nil
	}
	ids := merkle.RangeNodes(size)
	hashes, err := t.ReadNodes(ctx, ids)
	if err != nil {
		return [merkle.HashSize]byte{}, fmt.Errorf("tlog: read the %d tree nodes of size %d: %w", len(ids), size, err)
	}
	tr, err := merkle.ResumeTree(size, hashes)
	if err != nil {
		return [merkle.HashSize]byte{}, fmt.Errorf("tlog: tree of size %d: %w", size, err)
	}
	return tr.Root(), nil
}

// checkConsistent proves from the stored tree that the tree of size (with
// root, when known; else computed) extends the signed checkpoint old. A
// disagreement is a fork error; a failed read is returned as it is.
func (c *Checkpointer) checkConsistent(ctx context.Context, old Signed, size uint64, root *[merkle.HashSize]byte) error {
	var r [merkle.HashSize]byte
	if root != nil {
		r = *root
	} else {
		var err error
		if r, err = c.rootAt(ctx, size); err != nil {
			return err
		}
	}
	proof, err := merkle.ProveConsistency(old.Size, size, readerOf(ctx, c.cfg.Tree))
	if err != nil {
		return fmt.Errorf("tlog: consistency proof from %d to %d: %w", old.Size, size, err)
	}
	if err := merkle.VerifyConsistency(old.Size, size, proof, old.Root, r); err != nil {
		return forkf("the stored tree of size %d is not consistent with the signed checkpoint of size %d (root %x): %v", size, old.Size, old.Root, err)
	}
	return nil
}

// readerOf adapts a Tree to merkle.NodeReader.
func readerOf(ctx context.Context, t Tree) merkle.NodeReader {
	return func(ids []merkle.NodeID) ([][]byte, error) { return t.ReadNodes(ctx, ids) }
}

// forkError marks a disagreement between the stored log and a signed
// checkpoint: the Checkpointer must never sign again.
type forkError struct{ err error }

func (e *forkError) Error() string { return e.err.Error() }
func (e *forkError) Unwrap() error { return e.err }

func forkf(format string, args ...any) error {
	return &forkError{auditerr.Errorf(auditerr.ErrVerifyFailed, format, args...)}
}

func isFork(err error) bool {
	var f *forkError
	return errors.As(err, &f)
}
