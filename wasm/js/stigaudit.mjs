// stigaudit.mjs — load stigaudit.wasm (the stigaudit core, WASM ABI v1) in
// Node 20+ or a browser, with no bundler and no dependency.
//
//   import { load } from './stigaudit.mjs';
//   const sa = await load(new URL('../stigaudit.wasm', import.meta.url), {
//     storeAppend: (canonical) => seq,   // optional: for emit()
//     clockNow: () => BigInt(Date.now()) * 1000000n,  // optional
//   });
//   const ev = sa.buildEvent({ event_type: 'fact_read', entity_uri: 'agent:a' });
//
// Every operation is a synchronous function. Its input is JSON: a string or a
// Uint8Array is taken as JSON text verbatim (use this when exact numbers or
// member order matter), any other value is serialised with JSON.stringify.
// It returns the parsed "value" of the module's envelope, or throws a
// StigauditError whose .code is the envelope's stable error code.
//
// The module is a WASI preview1 reactor. The loader provides WASI itself with
// a small shim (random_get from crypto.getRandomValues, clock_time_get,
// fd_write to console, no args, GOGC=50 as the environment, proc_exit throws), the same
// code in Node and in browsers. In Node, {wasi: 'node'} uses node:wasi instead.

/** ABI version this loader speaks; abi_version() must return it. */
export const ABI_VERSION = 1;

/** Largest input an operation accepts, in bytes (abi.MaxInput). */
export const MAX_INPUT = 4 << 20;

// Inputs go to one guest buffer from alloc kept per instance (at least
// IN_MIN bytes, regrown up to IN_KEEP); a larger input gets a buffer of its
// own for the one call. ABI v1 allows it: a buffer from alloc is valid until
// freed. It saves two guest calls (alloc, free) per operation.
const IN_MIN = 4 << 10;
const IN_KEEP = 64 << 10;

/** Results of storeAppend below zero (abi.Store*). */
export const STORE = Object.freeze({
  INVALID: -1,
  ID_CONFLICT: -2,
  UNAVAILABLE: -3,
  FORBIDDEN: -4,
});

/** Public operations: export name → loader method name. */
export const OPERATIONS = Object.freeze({
  build_event: 'buildEvent',
  emit: 'emit',
  classify: 'classify',
  merge_detail: 'mergeDetail',
  canonicalize: 'canonicalize',
  leaf_hash: 'leafHash',
  merkle_root: 'merkleRoot',
  verify_inclusion: 'verifyInclusion',
  verify_consistency: 'verifyConsistency',
  verify_checkpoint: 'verifyCheckpoint',
});

/** An error envelope from the module, or a failure of the loader. */
export class StigauditError extends Error {
  constructor(code, message) {
    super(message);
    this.name = 'StigauditError';
    /** Stable error code, e.g. "invalid_json", "id_conflict", "panic". */
    this.code = code;
  }
}

/** Thrown by the shim's proc_exit: the instance is finished. */
export class WasiExit extends Error {
  constructor(code) {
    super(`wasi proc_exit(${code})`);
    this.name = 'WasiExit';
    this.exitCode = code;
  }
}

const isNode = typeof process !== 'undefined' && !!(process.versions && process.versions.node);
const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: false });

// WASI errno values used by the shim.
const ESUCCESS = 0;
const EBADF = 8;
const EINVAL = 28;
const ENOSYS = 52;

function nowNanos() {
  const ms = (typeof performance !== 'undefined' && performance.timeOrigin)
    ? performance.timeOrigin + performance.now()
    : Date.now();
  return BigInt(Math.round(ms * 1000)) * 1000n; // microsecond precision
}

function monoNanos() {
  const ms = typeof performance !== 'undefined' ? performance.now() : Date.now();
  return BigInt(Math.round(ms * 1e6));
}

/**
 * A minimal WASI preview1 implementation, enough for a Go wasip1 reactor
 * that does no I/O. getMemory returns the instance's memory once known.
 */
export function wasiShim(getMemory, { stdout, stderr, getRandomValues } = {}) {
  const fill = getRandomValues || ((b) => globalThis.crypto.getRandomValues(b));
  const view = () => new DataView(getMemory().buffer);
  const bytes = () => new Uint8Array(getMemory().buffer);
  const lines = { 1: '', 2: '' };
  const sinks = {
    1: stdout || ((line) => console.log(line)),
    2: stderr || ((line) => console.error(line)),
  };
  // The guest's Go runtime reads GOGC from its environment: a smaller heap
  // goal keeps an instance near 6 MiB (see wasm/runtime.go).
  const environ = encoder.encode('GOGC=50\0');
  const fns = {
    args_sizes_get(argc, bufSize) {
      view().setUint32(argc, 0, true);
      view().setUint32(bufSize, 0, true);
      return ESUCCESS;
    },
    args_get() { return ESUCCESS; },
    environ_sizes_get(count, bufSize) {
      view().setUint32(count, 1, true);
      view().setUint32(bufSize, environ.length, true);
      return ESUCCESS;
    },
    environ_get(ptrs, buf) {
      view().setUint32(ptrs, buf, true);
      bytes().set(environ, buf);
      return ESUCCESS;
    },
    clock_res_get(id, resPtr) {
      view().setBigUint64(resPtr, 1000n, true);
      return ESUCCESS;
    },
    clock_time_get(id, _precision, resPtr) {
      const t = id === 0 ? nowNanos() : monoNanos();
      view().setBigUint64(resPtr, t, true);
      return ESUCCESS;
    },
    random_get(ptr, len) {
      const buf = bytes().subarray(ptr, ptr + len);
      for (let i = 0; i < buf.length; i += 65536) {
        fill(buf.subarray(i, Math.min(i + 65536, buf.length)));
      }
      return ESUCCESS;
    },
    fd_write(fd, iovs, iovsLen, nwritten) {
      if (fd !== 1 && fd !== 2) return EBADF;
      const dv = view();
      const mem = bytes();
      let n = 0;
      let text = '';
      for (let i = 0; i < iovsLen; i++) {
        const p = dv.getUint32(iovs + i * 8, true);
        const l = dv.getUint32(iovs + i * 8 + 4, true);
        text += decoder.decode(mem.subarray(p, p + l));
        n += l;
      }
      const parts = (lines[fd] + text).split('\n');
      lines[fd] = parts.pop();
      for (const line of parts) sinks[fd](line);
      dv.setUint32(nwritten, n, true);
      return ESUCCESS;
    },
    fd_fdstat_get(fd, ptr) {
      if (fd > 2) return EBADF;
      const dv = view();
      dv.setUint8(ptr, 2); // character device
      dv.setUint16(ptr + 2, 0, true);
      dv.setBigUint64(ptr + 8, 0xffffffffn, true);
      dv.setBigUint64(ptr + 16, 0xffffffffn, true);
      return ESUCCESS;
    },
    fd_fdstat_set_flags(fd) { return fd <= 2 ? ESUCCESS : EBADF; },
    fd_prestat_get() { return EBADF; }, // no preopened directories
    fd_prestat_dir_name() { return EBADF; },
    fd_close(fd) { return fd <= 2 ? ESUCCESS : EBADF; },
    // Sleeping is never needed by the core: every subscription fires at once.
    poll_oneoff(inPtr, outPtr, nsubs, neventsPtr) {
      const dv = view();
      for (let i = 0; i < nsubs; i++) {
        const sub = inPtr + i * 48;
        const ev = outPtr + i * 32;
        dv.setBigUint64(ev, dv.getBigUint64(sub, true), true); // userdata
        dv.setUint16(ev + 8, 0, true); // error
        dv.setUint8(ev + 10, dv.getUint8(sub + 8)); // type
      }
      dv.setUint32(neventsPtr, nsubs, true);
      return ESUCCESS;
    },
    sched_yield() { return ESUCCESS; },
    proc_exit(code) { throw new WasiExit(code); },
  };
  // Anything else the module might import answers ENOSYS.
  return new Proxy(fns, {
    get(target, name) {
      return name in target ? target[name] : () => ENOSYS;
    },
  });
}

async function toModule(source) {
  if (source instanceof WebAssembly.Module) return source;
  if (source === undefined) source = new URL('../stigaudit.wasm', import.meta.url);
  if (typeof source === 'string' || source instanceof URL) {
    const url = typeof source === 'string' && !/^[a-z][a-z0-9+.-]*:/i.test(source)
      ? (isNode ? new URL(source, `file://${process.cwd()}/`) : new URL(source, globalThis.location?.href))
      : new URL(source);
    if (url.protocol === 'file:') {
      const { readFile } = await import('node:fs/promises');
      return WebAssembly.compile(await readFile(url));
    }
    const res = await fetch(url);
    if (!res.ok) throw new StigauditError('not_found', `stigaudit: fetching ${url}: HTTP ${res.status}`);
    if (WebAssembly.compileStreaming && (res.headers.get('content-type') || '').startsWith('application/wasm')) {
      return WebAssembly.compileStreaming(res);
    }
    return WebAssembly.compile(await res.arrayBuffer());
  }
  if (source instanceof ArrayBuffer || ArrayBuffer.isView(source)) return WebAssembly.compile(source);
  throw new StigauditError('invalid_input', 'stigaudit: load() takes wasm bytes, a URL, a path or a WebAssembly.Module');
}

function toClockNanos(v) {
  if (typeof v === 'bigint') return v;
  if (typeof v === 'number' && Number.isFinite(v)) return BigInt(Math.round(v * 1000)) * 1000n; // ms → ns
  if (v instanceof Date) return BigInt(v.getTime()) * 1000000n;
  throw new StigauditError('invalid_input', 'stigaudit: clockNow must return a bigint (ns), a number (ms) or a Date');
}

function encodeInput(input) {
  if (input instanceof Uint8Array) return input;
  if (typeof input === 'string') return encoder.encode(input);
  const text = JSON.stringify(input);
  if (text === undefined) throw new StigauditError('invalid_input', 'stigaudit: input has no JSON form');
  return encoder.encode(text);
}

/**
 * Load and instantiate the module.
 *
 * @param source wasm bytes (ArrayBuffer/Uint8Array), a WebAssembly.Module, a
 *   URL, or a path/URL string; default: ../stigaudit.wasm next to this file.
 * @param options.clockNow () => bigint ns | number ms | Date; default: the
 *   system clock. Read once per built event.
 * @param options.storeAppend (canonical: Uint8Array) => seq (number|bigint
 *   ≥ 0) or a negative STORE code. Called by emit(); synchronous. A throw is
 *   reported as store_unavailable. Without it, emit fails with
 *   store_unavailable.
 * @param options.stdout, options.stderr (line: string) => void; default
 *   console.log / console.error.
 * @param options.wasi 'shim' (default, Node and browsers) or 'node'
 *   (node:wasi, Node only).
 * @param options.getRandomValues (buf: Uint8Array) => void, the source of
 *   WASI random_get in the shim (generated ids); default
 *   crypto.getRandomValues. For tests that replay fixed entropy.
 * @param options.configure the operator's configuration, passed to the
 *   module's configure export (an object or its JSON text):
 *   {catalogue: {event_types: [...]}, max_detail_bytes, max_detail_depth},
 *   every member optional. buildEvent and emit then accept the operator's
 *   types within those limits; the instance that replaces one after a trap
 *   is configured alike. load() throws (code invalid_config) when the
 *   module refuses it. Default: the built-in catalogue and limits.
 */
export async function load(source, options = {}) {
  const module = await toModule(source);
  const host = new Host(module, options);
  await host.instantiate();
  return host.api();
}

class Host {
  constructor(module, options) {
    this.module = module;
    this.options = options;
    this.instance = null;
    this.pending = null;
  }

  imports() {
    const self = this;
    const opts = this.options;
    const stigaudit = {
      clock_now() {
        return opts.clockNow ? toClockNanos(opts.clockNow()) : nowNanos();
      },
      store_append(ptr, len) {
        if (!opts.storeAppend) return BigInt(STORE.UNAVAILABLE);
        // Copy out of guest memory before handing the bytes over.
        const canonical = new Uint8Array(self.exports.memory.buffer, ptr, len).slice();
        let seq;
        try {
          seq = opts.storeAppend(canonical);
        } catch (e) {
          return BigInt(STORE.UNAVAILABLE);
        }
        if (typeof seq === 'number' && Number.isInteger(seq)) return BigInt(seq);
        if (typeof seq === 'bigint') return seq;
        return BigInt(STORE.UNAVAILABLE);
      },
    };
    return stigaudit;
  }

  async instantiate() {
    const stigaudit = this.imports();
    let wasiImport;
    let nodeWasi = null;
    if (this.options.wasi === 'node') {
      if (!isNode) throw new StigauditError('invalid_config', "stigaudit: wasi: 'node' needs Node");
      const { WASI } = await import('node:wasi');
      nodeWasi = new WASI({ version: 'preview1', args: [], env: { GOGC: '50' }, returnOnExit: false });
      wasiImport = nodeWasi.wasiImport;
    } else {
      wasiImport = wasiShim(() => this.exports.memory, this.options);
    }
    const imports = { wasi_snapshot_preview1: wasiImport, stigaudit };
    let instance;
    try {
      instance = new WebAssembly.Instance(this.module, imports);
    } catch (e) {
      if (!(e instanceof RangeError)) throw e;
      // Browsers may refuse synchronous instantiation on the main thread.
      instance = await WebAssembly.instantiate(this.module, imports);
    }
    this.exports = instance.exports;
    this.inPtr = 0; // the kept input buffer (see envelope)
    this.inCap = 0;
    if (nodeWasi) nodeWasi.initialize(instance);
    else this.exports._initialize();
    const v = this.exports.abi_version();
    if (v !== ABI_VERSION) {
      throw new StigauditError('invalid_config', `stigaudit: the module speaks ABI version ${v}, this loader ${ABI_VERSION}`);
    }
    this.instance = instance;
    if (this.options.configure !== undefined) {
      if (typeof this.exports.configure !== 'function') {
        this.instance = null;
        throw new StigauditError('invalid_config', 'stigaudit: the module has no configure export');
      }
      try {
        this.value('configure', this.options.configure);
      } catch (e) {
        this.instance = null;
        throw e;
      }
    }
  }

  // After a trap the instance's state is unknown: replace it. Synchronously
  // when the platform allows, else in the background (calls meanwhile fail
  // with code "closed").
  discard() {
    this.instance = null;
    this.exports = null;
    this.pending = this.instantiate().catch(() => {}).finally(() => { this.pending = null; });
  }

  envelope(op, input) {
    if (!this.instance) throw new StigauditError('closed', 'stigaudit: the instance is being replaced after a failure; retry');
    const bytes = encodeInput(input);
    if (bytes.length > MAX_INPUT) {
      throw new StigauditError('too_large', `stigaudit: ${op}: input is ${bytes.length} bytes, more than the limit of ${MAX_INPUT}`);
    }
    const x = this.exports;
    const fn = x[op];
    if (typeof fn !== 'function' || op === 'memory' || op === 'alloc' || op === 'free') {
      throw new StigauditError('invalid_input', `stigaudit: unknown operation ${JSON.stringify(op)}`);
    }
    let ptr = 0;
    let once = 0;
    try {
      const n = bytes.length;
      if (n > 0) {
        if (n > this.inCap) {
          if (n <= IN_KEEP) {
            const size = Math.min(IN_KEEP, Math.max(IN_MIN, n + (n >> 1)));
            if (this.inPtr) {
              const old = this.inPtr;
              this.inPtr = 0;
              this.inCap = 0;
              x.free(old);
            }
            const p = x.alloc(size);
            if (p === 0) throw new StigauditError('too_large', `stigaudit: ${op}: the module refused ${size} bytes`);
            this.inPtr = p;
            this.inCap = size;
          } else {
            once = x.alloc(n);
            if (once === 0) throw new StigauditError('too_large', `stigaudit: ${op}: the module refused ${n} bytes`);
          }
        }
        ptr = once || this.inPtr;
        new Uint8Array(x.memory.buffer, ptr, n).set(bytes);
      }
      const r = BigInt.asUintN(64, fn(ptr, n));
      const rp = Number(r >> 32n);
      const rn = Number(r & 0xffffffffn);
      const text = decoder.decode(new Uint8Array(x.memory.buffer, rp, rn));
      x.free(rp);
      if (once) x.free(once);
      return text;
    } catch (e) {
      if (e instanceof StigauditError) {
        if (once) x.free(once);
        throw e;
      }
      // A trap (RuntimeError), proc_exit or a host failure: the instance is lost.
      this.discard();
      throw new StigauditError('panic', `stigaudit: ${op}: the instance failed and was replaced: ${e && e.message}`);
    }
  }

  value(op, input) {
    return valueOf(this.envelope(op, input));
  }

  api() {
    const self = this;
    const api = {
      /** The module's raw envelope for op(input), as a string. */
      envelope: (op, input) => self.envelope(op, input),
      /** The raw JSON text of the envelope's value; throws on an error envelope. */
      callRaw: (op, input) => rawValue(self.envelope(op, input)),
      /** The parsed value of op(input); throws on an error envelope. */
      call: (op, input) => self.value(op, input),
      /** Resolves once a replacement instance (after a trap) is ready. */
      ready: async () => { if (self.pending) await self.pending; },
      /** Hidden fault injection for tests ("panic" | "oom"). */
      testFault: (kind) => self.value('test_fault', JSON.stringify(kind)),
    };
    for (const [op, name] of Object.entries(OPERATIONS)) {
      api[name] = (input) => self.value(op, input);
    }
    // Optional exports (ABI v1 unchanged): present in modules that have them.
    if (typeof self.exports.verify_receipt === 'function') {
      /** Verify an event's receipt (C2SP tlog-proof) offline. */
      api.verifyReceipt = (input) => self.value('verify_receipt', input);
    }
    /** canonicalize returns the canonical JSON text (a string). */
    return Object.freeze(api);
  }
}

const OK_PREFIX = '{"ok":true,"value":';

function rawValue(env) {
  if (env.startsWith(OK_PREFIX) && env.endsWith('}')) return env.slice(OK_PREFIX.length, -1);
  let parsed;
  try {
    parsed = JSON.parse(env);
  } catch {
    throw new StigauditError('panic', `stigaudit: malformed envelope ${env.slice(0, 64)}`);
  }
  const err = parsed && parsed.error;
  throw new StigauditError(err && err.code || 'panic', err && err.message || 'malformed envelope');
}

function valueOf(env) {
  return JSON.parse(rawValue(env));
}
