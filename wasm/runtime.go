package wasm

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"io"
	"runtime"
	"sync"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"

	"github.com/stigaudit/stigaudit/core/auditerr"
	"github.com/stigaudit/stigaudit/core/jcs"
	"github.com/stigaudit/stigaudit/hostfns/wazerohost"
	"github.com/stigaudit/stigaudit/wasm/abi"
)

// Config configures New. The zero Config is usable.
type Config struct {
	// CacheDir is the directory of wazero's compilation cache. When set, the
	// first New compiles the module to machine code and stores it there;
	// later processes load it instead of compiling. "" keeps no cache.
	CacheDir string
	// PoolSize is the largest number of module instances, i.e. of calls
	// running at once. 0 means runtime.GOMAXPROCS(0).
	PoolSize int
	// MaxMemoryBytes caps the linear memory of each instance; an operation
	// that needs more traps, and its instance is discarded. 0 means
	// DefaultMaxMemoryBytes. It is rounded up to whole 64 KiB pages.
	MaxMemoryBytes uint64
	// RecycleBytes: an instance whose linear memory has grown beyond this
	// after a call is closed and replaced by a fresh one, so that one large
	// input does not pin memory for the life of the pool. 0 means
	// DefaultRecycleBytes.
	RecycleBytes uint64
	// Module is the WebAssembly module to run; nil means the embedded
	// stigaudit.wasm (Module()).
	Module []byte
	// Stderr receives what the guest writes to its standard error (the Go
	// runtime's fatal errors); nil discards it.
	Stderr io.Writer
	// Configure, when set, is the input of the module's configure export
	// (abi.OpConfigure): the operator's catalogue and detail limits, e.g.
	// {"catalogue":{"event_types":[...]},"max_detail_bytes":32768}. Every
	// instance is configured with it before its first call; New fails with
	// the export's error (invalid_config) when the module refuses it. Nil
	// keeps the defaults.
	Configure []byte
}

// Defaults of Config.
const (
	DefaultMaxMemoryBytes = 256 << 20
	DefaultRecycleBytes   = 32 << 20
)

const pageSize = 65536

// guestGOGC is the GOGC the guest's Go runtime runs with (every host sets
// it through the WASI environment; the JS loader does too).
const guestGOGC = "50"

// Runtime runs operations of the stigaudit module on a pool of instances.
// It is safe for concurrent use.
type Runtime struct {
	rt       wazero.Runtime
	cache    wazero.CompilationCache
	compiled wazero.CompiledModule
	modCfg   wazero.ModuleConfig
	recycle  uint64
	// configure is Config.Configure, applied to every new instance.
	configure []byte

	// slots holds one token per instance that may exist; a call takes a
	// token for its whole duration.
	slots chan struct{}
	mu    sync.Mutex
	idle  []*instance
	// closed is set by Close; later calls fail with ErrClosed.
	closed bool
}

// instance is one module instance with its exports resolved.
type instance struct {
	// rand is the instance's WASI random source: crypto/rand, or the
	// call's wazerohost.Services.Entropy while a call that carries one runs.
	rand  *switchReader
	mod   api.Module
	mem   api.Memory
	alloc api.Function
	free  api.Function
	ops   map[string]api.Function
	stack [2]uint64
	// in is a guest input buffer from alloc kept across calls (0: none
	// yet) and inCap its size; see call.
	in    uint32
	inCap uint32
}

// Input buffers: an instance keeps one guest buffer from alloc for its
// inputs, at least inMin bytes and grown (by a new alloc) when an input
// does not fit, as long as it stays within inKeep; a larger input gets a
// buffer of its own for the one call. This is a host-side convention that
// ABI v1 allows (a buffer from alloc is valid until freed, and an operation
// reads at most len bytes of it); other hosts may alloc and free per call.
const (
	inMin  = 4 << 10
	inKeep = 64 << 10
)

// New compiles the module (or loads it from the compilation cache) and
// prepares the pool. Instances are created on first use; New creates one to
// check that the module instantiates and speaks ABI version abi.Version.
func New(ctx context.Context, cfg Config) (*Runtime, error) {
	bin := cfg.Module
	if bin == nil {
		bin = module
	}
	size := cfg.PoolSize
	if size <= 0 {
		size = runtime.GOMAXPROCS(0)
	}
	maxMem := cfg.MaxMemoryBytes
	if maxMem == 0 {
		maxMem = DefaultMaxMemoryBytes
	}
	pages := (maxMem + pageSize - 1) / pageSize
	if pages > 65536 {
		pages = 65536
	}
	recycle := cfg.RecycleBytes
	if recycle == 0 {
		recycle = DefaultRecycleBytes
	}
	rc := wazero.NewRuntimeConfigCompiler().
		WithMemoryLimitPages(uint32(pages)).
		WithCloseOnContextDone(false)
	var cache wazero.CompilationCache
	if cfg.CacheDir != "" {
		c, err := wazero.NewCompilationCacheWithDir(cfg.CacheDir)
		if err != nil {
			return nil, auditerr.Errorf(auditerr.ErrInvalidConfig, "wasm: compilation cache in %s: %v", cfg.CacheDir, err)
		}
		cache = c
		rc = rc.WithCompilationCache(c)
	}
	r := &Runtime{
		rt:        wazero.NewRuntimeWithConfig(ctx, rc),
		cache:     cache,
		recycle:   recycle,
		configure: bytes.Clone(cfg.Configure),
		slots:     make(chan struct{}, size),
	}
	for range size {
		r.slots <- struct{}{}
	}
	fail := func(err error) (*Runtime, error) {
		_ = r.rt.Close(ctx)
		if cache != nil {
			_ = cache.Close(ctx)
		}
		return nil, err
	}
	if _, err := wasi_snapshot_preview1.Instantiate(ctx, r.rt); err != nil {
		return fail(auditerr.Errorf(auditerr.ErrInvalidConfig, "wasm: WASI: %v", err))
	}
	if _, err := wazerohost.Instantiate(ctx, r.rt); err != nil {
		return fail(auditerr.Errorf(auditerr.ErrInvalidConfig, "wasm: host module: %v", err))
	}
	compiled, err := r.rt.CompileModule(ctx, bin)
	if err != nil {
		return fail(auditerr.Errorf(auditerr.ErrInvalidConfig, "wasm: compile: %v", err))
	}
	r.compiled = compiled
	stderr := cfg.Stderr
	if stderr == nil {
		stderr = io.Discard
	}
	r.modCfg = wazero.NewModuleConfig().
		WithName(""). // anonymous, so the module can be instantiated many times
		WithStartFunctions("_initialize").
		WithSysWalltime().
		WithSysNanotime().
		WithStderr(stderr).
		// A smaller heap goal keeps an instance near 6 MiB instead of 8
		// at no measurable cost: live data per call is a few KiB.
		WithEnv("GOGC", guestGOGC)
	inst, err := r.newInstance(ctx)
	if err != nil {
		return fail(err)
	}
	r.idle = append(r.idle, inst)
	return r, nil
}

// switchReader reads from src when set, else from crypto/rand. Only the
// goroutine running the instance's call touches it.
type switchReader struct{ src io.Reader }

func (s *switchReader) Read(p []byte) (int, error) {
	if s.src != nil {
		return s.src.Read(p)
	}
	return rand.Read(p)
}

func (r *Runtime) newInstance(ctx context.Context) (*instance, error) {
	sw := &switchReader{}
	mod, err := r.rt.InstantiateModule(ctx, r.compiled, r.modCfg.WithRandSource(sw))
	if err != nil {
		return nil, auditerr.Errorf(auditerr.ErrInvalidConfig, "wasm: instantiate: %v", err)
	}
	inst := &instance{rand: sw, mod: mod, mem: mod.Memory(), ops: make(map[string]api.Function, 11)}
	bad := func(format string, args ...any) (*instance, error) {
		_ = mod.Close(ctx)
		return nil, auditerr.Errorf(auditerr.ErrInvalidConfig, "wasm: "+format, args...)
	}
	ver := mod.ExportedFunction("abi_version")
	if ver == nil {
		return bad("the module exports no abi_version")
	}
	res, err := ver.Call(ctx)
	if err != nil || len(res) != 1 {
		return bad("abi_version: %v", err)
	}
	if v := api.DecodeI32(res[0]); v != abi.Version {
		return bad("the module speaks ABI version %d, this host speaks %d", v, abi.Version)
	}
	if inst.alloc = mod.ExportedFunction("alloc"); inst.alloc == nil {
		return bad("the module exports no alloc")
	}
	if inst.free = mod.ExportedFunction("free"); inst.free == nil {
		return bad("the module exports no free")
	}
	if inst.mem == nil {
		return bad("the module exports no memory")
	}
	for _, op := range append(abi.Ops(), abi.OpTestFault, abi.OpVerifyReceipt) {
		if f := mod.ExportedFunction(op); f != nil {
			inst.ops[op] = f
		} else if op != abi.OpTestFault && op != abi.OpVerifyReceipt { // optional exports
			return bad("the module exports no %s", op)
		}
	}
	if r.configure != nil {
		f := mod.ExportedFunction(abi.OpConfigure)
		if f == nil {
			return bad("the module exports no %s, and Config.Configure is set", abi.OpConfigure)
		}
		env, err := inst.call(ctx, f, r.configure)
		if err != nil {
			return bad("%s: %v", abi.OpConfigure, err)
		}
		if _, err := Value(env); err != nil {
			_ = mod.Close(ctx)
			return nil, err
		}
	}
	return inst, nil
}

// get takes a slot and an instance, creating one when none is idle.
func (r *Runtime) get(ctx context.Context) (*instance, error) {
	select {
	case <-r.slots:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		r.slots <- struct{}{}
		return nil, auditerr.Errorf(auditerr.ErrClosed, "wasm: the runtime is closed")
	}
	if n := len(r.idle); n > 0 {
		inst := r.idle[n-1]
		r.idle = r.idle[:n-1]
		r.mu.Unlock()
		return inst, nil
	}
	r.mu.Unlock()
	inst, err := r.newInstance(ctx)
	if err != nil {
		r.slots <- struct{}{}
		return nil, err
	}
	return inst, nil
}

// put returns inst to the pool, or closes it when it must not be reused.
func (r *Runtime) put(ctx context.Context, inst *instance, discard bool) {
	if !discard && uint64(inst.mem.Size()) > r.recycle {
		discard = true
	}
	r.mu.Lock()
	if discard || r.closed {
		r.mu.Unlock()
		_ = inst.mod.Close(ctx)
	} else {
		r.idle = append(r.idle, inst)
		r.mu.Unlock()
	}
	r.slots <- struct{}{}
}

// Envelope runs op on in and returns the guest's envelope verbatim, as the
// bytes {"ok":true,"value":...} or {"ok":false,"error":{...}}. The error is
// non-nil only when no envelope was produced: the input is larger than
// abi.MaxInput (too_large), op is not an operation of the module
// (invalid_input), the runtime is closed, ctx ended while waiting for an
// instance, or the instance trapped (code "panic"; the instance is
// discarded).
func (r *Runtime) Envelope(ctx context.Context, op string, in []byte) ([]byte, error) {
	if len(in) > abi.MaxInput {
		return nil, auditerr.Errorf(auditerr.ErrTooLarge, "wasm: %s: input is %d bytes, more than the limit of %d", op, len(in), abi.MaxInput)
	}
	inst, err := r.get(ctx)
	if err != nil {
		return nil, err
	}
	fn := inst.ops[op]
	if fn == nil {
		r.put(ctx, inst, false)
		return nil, auditerr.Errorf(auditerr.ErrInvalidInput, "wasm: unknown operation %q", op)
	}
	if svc, ok := wazerohost.ServicesFrom(ctx); ok && svc.Entropy != nil {
		inst.rand.src = svc.Entropy
	}
	env, err := inst.call(ctx, fn, in)
	inst.rand.src = nil
	r.put(ctx, inst, err != nil)
	if err != nil {
		return nil, auditerr.Errorf(auditerr.ErrPanic, "wasm: %s: the instance failed and was discarded: %v", op, err)
	}
	return env, nil
}

// call runs one operation on the instance. Any error means the instance
// must be discarded.
//
// A call is one or two guest calls when the input fits the instance's
// input buffer: op, then free of the result (which the module makes
// cheap when the result is in its reusable result buffer). Allocating and
// freeing a buffer per input, as the ABI's basic sequence does, costs two
// more guest calls.
func (inst *instance) call(ctx context.Context, fn api.Function, in []byte) ([]byte, error) {
	st := inst.stack[:]
	var ptr, once uint32
	if n := uint32(len(in)); n > 0 {
		if n > inst.inCap {
			size := n
			if n <= inKeep {
				size = max(inMin, n+n/2)
				size = min(size, inKeep)
				if inst.in != 0 {
					st[0] = api.EncodeU32(inst.in)
					inst.in, inst.inCap = 0, 0
					if err := inst.free.CallWithStack(ctx, st); err != nil {
						return nil, err
					}
				}
			}
			st[0] = api.EncodeU32(size)
			if err := inst.alloc.CallWithStack(ctx, st); err != nil {
				return nil, err
			}
			p := api.DecodeU32(st[0])
			if p == 0 {
				return nil, errors.New("alloc refused the input size")
			}
			if n <= inKeep {
				inst.in, inst.inCap = p, size
			} else {
				once = p
			}
		}
		ptr = inst.in
		if once != 0 {
			ptr = once
		}
		if !inst.mem.Write(ptr, in) {
			return nil, errors.New("alloc returned a buffer outside memory")
		}
	}
	st[0], st[1] = api.EncodeU32(ptr), api.EncodeU32(uint32(len(in)))
	if err := fn.CallWithStack(ctx, st); err != nil {
		return nil, err
	}
	rp, rn := abi.Unpack(st[0])
	view, ok := inst.mem.Read(rp, rn)
	if !ok || rn == 0 {
		return nil, errors.New("the operation returned a result outside memory")
	}
	env := make([]byte, len(view))
	copy(env, view)
	st[0] = api.EncodeU32(rp)
	if err := inst.free.CallWithStack(ctx, st); err != nil {
		return nil, err
	}
	if once != 0 {
		st[0] = api.EncodeU32(once)
		if err := inst.free.CallWithStack(ctx, st); err != nil {
			return nil, err
		}
	}
	return env, nil
}

const okPrefix = `{"ok":true,"value":`

// Call runs op on in and returns the value of its envelope, as raw JSON. An
// error envelope is returned as an *auditerr.Error carrying the envelope's
// code and message (so errors.Is(err, auditerr.ErrInvalidJSON) and friends
// hold); other failures are as for Envelope.
func (r *Runtime) Call(ctx context.Context, op string, in []byte) ([]byte, error) {
	env, err := r.Envelope(ctx, op, in)
	if err != nil {
		return nil, err
	}
	return Value(env)
}

// Value returns the value of an envelope, or its error as an
// *auditerr.Error.
func Value(env []byte) ([]byte, error) {
	if len(env) > len(okPrefix) && string(env[:len(okPrefix)]) == okPrefix && env[len(env)-1] == '}' {
		return env[len(okPrefix) : len(env)-1], nil
	}
	return nil, envelopeError(env)
}

// envelopeError decodes {"ok":false,"error":{"code":...,"message":...}}.
func envelopeError(env []byte) error {
	bad := auditerr.Errorf(auditerr.ErrPanic, "wasm: malformed envelope %.64q", env)
	var errObj []byte
	it := jcs.Members(env)
	for it.Next() {
		if m := it.Member(); m.NameIs("error") {
			errObj = m.Value
		}
	}
	if it.Err() != nil || errObj == nil {
		return bad
	}
	e := &auditerr.Error{Index: -1}
	it = jcs.Members(errObj)
	for it.Next() {
		m := it.Member()
		s, ok := jcs.Unquote(m.Value)
		if !ok {
			return bad
		}
		switch {
		case m.NameIs("code"):
			e.Code = auditerr.Code(s)
		case m.NameIs("message"):
			e.Message = s
		}
	}
	if it.Err() != nil || e.Code == "" {
		return bad
	}
	return e
}

// Close closes every instance, the compiled module and the compilation
// cache handle. Calls made after Close fail with code "closed".
func (r *Runtime) Close(ctx context.Context) error {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return nil
	}
	r.closed = true
	idle := r.idle
	r.idle = nil
	r.mu.Unlock()
	for _, inst := range idle {
		_ = inst.mod.Close(ctx)
	}
	err := r.rt.Close(ctx)
	if r.cache != nil {
		if cerr := r.cache.Close(ctx); err == nil {
			err = cerr
		}
	}
	return err
}

// Stats describes the pool.
type Stats struct {
	// Idle is the number of idle instances.
	Idle int
	// IdleMemoryBytes is the linear memory of each idle instance.
	IdleMemoryBytes []uint64
}

// Stats returns the current state of the pool.
func (r *Runtime) Stats() Stats {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := Stats{Idle: len(r.idle)}
	for _, inst := range r.idle {
		s.IdleMemoryBytes = append(s.IdleMemoryBytes, uint64(inst.mem.Size()))
	}
	return s
}
