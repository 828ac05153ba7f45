// core.mjs — the stigaudit WebAssembly core in the page. The module is
// fetched and compiled in the background (compileStreaming: it compiles
// while it downloads) as soon as the page starts; nothing else waits for it.
// The compiled WebAssembly.Module is also what the verification worker
// instantiates, so it is compiled once.
//
// The instance is configured as the server is (the module's configure
// export, docs/wasm-abi.md#configure): the operator-added event types of its --catalogue and
// its --max-detail-bytes/--max-detail-depth, as GET /web/config.json gives
// them in "configure". So the composer's buildEvent accepts exactly what
// the server accepts, and refuses the rest with the server's code.

import { load } from './stigaudit.mjs';

/** Parse "2026-05-03T12:00:00.123456Z" into Unix nanoseconds (BigInt). */
export function tsToNanos(ts) {
  const m = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?Z$/.exec(ts);
  if (!m) throw new Error(`not a UTC RFC 3339 time: ${ts}`);
  const ms = Date.parse(`${m[1]}Z`);
  const frac = (m[2] || '').padEnd(9, '0');
  return BigInt(ms) * 1000000n + BigInt(frac);
}

/**
 * Start loading the core from url. Returns {module, sa, ms, configure}
 * through the promise `ready`; `pin(ns)` makes the next builds read that
 * clock value (null: the browser's clock), so a draft can be rebuilt at the
 * server's ts.
 *
 * `configure` is a promise of the configure input (the "configure" member
 * of /web/config.json). The module compiles meanwhile; it is instantiated
 * once the promise settles. When it resolves to undefined (a server that
 * sends none) or rejects, the core runs with the built-in catalogue and
 * limits and says so on the console: proofs check the same, but the
 * composer may then disagree with the server.
 */
export function startCore(url, configure = Promise.resolve(undefined)) {
  let pinned = null;
  const core = {
    module: null,
    sa: null,
    ms: 0,
    configure: undefined,
    pin(ns) { pinned = ns; },
  };
  const config = configure.then((c) => {
    if (c === undefined) console.warn('stigaudit: the server sends no core configuration; the core uses its built-in catalogue and limits');
    return c;
  }, (e) => {
    console.warn('stigaudit: no core configuration, the core uses its built-in catalogue and limits:', e.message);
    return undefined;
  });
  performance.mark('core-start');
  core.ready = (async () => {
    let module;
    const res = await fetch(url, { credentials: 'same-origin' });
    if (!res.ok) throw new Error(`fetching the core: HTTP ${res.status}`);
    if (WebAssembly.compileStreaming && (res.headers.get('content-type') || '').startsWith('application/wasm')) {
      module = await WebAssembly.compileStreaming(res);
    } else {
      module = await WebAssembly.compile(await res.arrayBuffer());
    }
    performance.mark('core-compiled');
    const conf = await config;
    let sa;
    try {
      sa = await load(module, {
        configure: conf,
        clockNow: () => (pinned !== null ? pinned : BigInt(Math.round((performance.timeOrigin + performance.now()) * 1000)) * 1000n),
        stdout: (l) => console.debug('[core]', l),
        stderr: (l) => console.debug('[core]', l),
      });
    } catch (e) {
      throw new Error(conf === undefined ? `loading the core: ${e.message}` : `configuring the core as the server is: ${e.message}`);
    }
    performance.mark('core-ready');
    const m = performance.measure('core-load', 'core-start', 'core-ready');
    core.module = module;
    core.sa = sa;
    core.configure = conf;
    core.ms = m.duration;
    return core;
  })();
  return core;
}
