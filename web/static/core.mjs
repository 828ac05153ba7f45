// core.mjs — the stigaudit WebAssembly core in the page. The module is
// fetched and compiled in the background (compileStreaming: it compiles
// while it downloads) as soon as the page starts; nothing else waits for it.
// The compiled WebAssembly.Module is also what the verification worker
// instantiates, so it is compiled once.

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
 * Start loading the core from url. Returns {module, sa, ms} through the
 * promise `ready`; `pin(ns)` makes the next builds read that clock value
 * (null: the browser's clock), so a draft can be rebuilt at the server's ts.
 */
export function startCore(url) {
  let pinned = null;
  const core = {
    module: null,
    sa: null,
    ms: 0,
    pin(ns) { pinned = ns; },
  };
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
    const sa = await load(module, {
      clockNow: () => (pinned !== null ? pinned : BigInt(Math.round((performance.timeOrigin + performance.now()) * 1000)) * 1000n),
      stdout: (l) => console.debug('[core]', l),
      stderr: (l) => console.debug('[core]', l),
    });
    performance.mark('core-ready');
    const m = performance.measure('core-load', 'core-start', 'core-ready');
    core.module = module;
    core.sa = sa;
    core.ms = m.duration;
    return core;
  })();
  return core;
}
