package wazerohost

import (
	"bytes"
	"context"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"

	"github.com/stigaudit/stigaudit/core/auditerr"
	"github.com/stigaudit/stigaudit/core/event"
	"github.com/stigaudit/stigaudit/hostfns"
	"github.com/stigaudit/stigaudit/wasm/abi"
)

// Services are what the host functions use during one call into the guest.
// Every field is optional.
type Services struct {
	// Store receives store_append. Without one, store_append returns -3
	// (store_unavailable).
	Store hostfns.Store
	// Clock answers clock_now; nil means the system clock.
	Clock hostfns.Clock
	// Entropy, when not nil, is what WASI random_get reads during the call
	// (the source of generated ids), for hosts that run the module with
	// a per-call random source such as package wasm's Runtime; nil means
	// the instance's own source (crypto/rand). Tests use it to replay
	// vectors with fixed entropy.
	Entropy hostfns.Entropy
	// Scope is what the caller's credential decides, as over HTTP: an event
	// outside it (event.Scope.Check: another tenant than Scope.Tenant, when
	// set and not AnyTenant; another emitter than Scope.Emitter, when set)
	// gets -4, forbidden. The zero Scope accepts every event.
	Scope event.Scope
	// Appended, when not nil, is called with the event as the store
	// answered each successful store_append — for an idempotent re-send the
	// event stored first, with its original ts and leaf hash.
	Appended func(event.Event)
}

type servicesKey struct{}

// WithServices returns a context carrying s for the host functions of the
// calls made with it.
func WithServices(ctx context.Context, s Services) context.Context {
	return context.WithValue(ctx, servicesKey{}, &s)
}

// ServicesFrom returns the services carried by ctx, if any.
func ServicesFrom(ctx context.Context) (Services, bool) {
	s, ok := ctx.Value(servicesKey{}).(*Services)
	if !ok {
		return Services{}, false
	}
	return *s, true
}

func servicesFrom(ctx context.Context) *Services {
	s, _ := ctx.Value(servicesKey{}).(*Services)
	return s
}

// NewBuilder returns a builder of the host module abi.ImportModule with
// both imports defined, for a caller that wants to add to it or compile it
// separately. Most callers use Instantiate.
func NewBuilder(r wazero.Runtime) wazero.HostModuleBuilder {
	i64 := []api.ValueType{api.ValueTypeI64}
	return r.NewHostModuleBuilder(abi.ImportModule).
		NewFunctionBuilder().
		WithGoModuleFunction(api.GoModuleFunc(clockNow), nil, i64).
		WithParameterNames().
		WithResultNames("unix_nano").
		Export(abi.ImportClockNow).
		NewFunctionBuilder().
		WithGoModuleFunction(api.GoModuleFunc(storeAppend), []api.ValueType{api.ValueTypeI32, api.ValueTypeI32}, i64).
		WithParameterNames("ptr", "len").
		WithResultNames("seq_or_code").
		Export(abi.ImportStoreAppend)
}

// Instantiate defines the host module abi.ImportModule ("stigaudit") in r,
// with clock_now and store_append. Call it once per runtime, before
// instantiating the guest. Closing the result (or r) removes it.
func Instantiate(ctx context.Context, r wazero.Runtime) (api.Closer, error) {
	return NewBuilder(r).Instantiate(ctx)
}

// clockNow implements clock_now() i64.
func clockNow(ctx context.Context, _ api.Module, stack []uint64) {
	var ns int64
	if s := servicesFrom(ctx); s != nil && s.Clock != nil {
		ns = s.Clock.Now().UnixNano()
	} else {
		ns = hostfns.SystemClock{}.Now().UnixNano()
	}
	stack[0] = api.EncodeI64(ns)
}

// storeAppend implements store_append(ptr i32, len i32) i64.
func storeAppend(ctx context.Context, mod api.Module, stack []uint64) {
	ptr, n := api.DecodeU32(stack[0]), api.DecodeU32(stack[1])
	stack[0] = api.EncodeI64(appendEvent(ctx, mod, ptr, n))
}

func appendEvent(ctx context.Context, mod api.Module, ptr, n uint32) int64 {
	s := servicesFrom(ctx)
	if s == nil || s.Store == nil {
		return abi.StoreUnavailable
	}
	if n == 0 || n > abi.MaxInput {
		return abi.StoreInvalid
	}
	view, ok := mod.Memory().Read(ptr, n)
	if !ok {
		return abi.StoreInvalid
	}
	// A memory read is only a view: copy before the guest can change it.
	canonical := bytes.Clone(view)
	ev, err := ParseCanonical(canonical)
	if err != nil {
		return abi.StoreInvalid
	}
	if s.Scope.Check(&ev) != nil {
		return abi.StoreForbidden
	}
	out, err := s.Store.Append(ctx, []event.Event{ev})
	if err != nil {
		return abi.StoreResult(auditerr.CodeOf(err))
	}
	if len(out) != 1 || out[0].Seq < 0 {
		return abi.StoreUnavailable
	}
	if s.Appended != nil {
		s.Appended(out[0])
	}
	return out[0].Seq
}
