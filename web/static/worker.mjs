// worker.mjs — verifies many events' inclusion proofs off the main thread.
// It instantiates the module the page already compiled (posted to it as a
// WebAssembly.Module), fetches each proof for the size of one checkpoint,
// and checks them with the core, reporting progress as it goes.
//
// Messages in:  {type:'init', module}
//               {type:'verify', job, apiKey, checkpoint, key, events, concurrency}
// Messages out: {type:'ready', ms} | {type:'error', job?, message}
//               {type:'progress', job, results:[{seq, state, reason?}], done, total}
//               {type:'done', job, tree_size, verified, failed, pending, ms, fetch_ms, verify_ms}

import { load } from './stigaudit.mjs';
import { Client } from './api.mjs';
import { openCheckpoint, verifyEvent, VerifyError } from './verify.mjs';

let sa = null;

self.onmessage = async (e) => {
  const m = e.data;
  try {
    if (m.type === 'init') {
      const t0 = performance.now();
      sa = await load(m.module, { stdout: () => {}, stderr: () => {} });
      self.postMessage({ type: 'ready', ms: performance.now() - t0 });
    } else if (m.type === 'verify') {
      await verifyAll(m);
    }
  } catch (err) {
    self.postMessage({ type: 'error', job: m.job, message: String(err && err.message || err) });
  }
};

async function verifyAll({ job, apiKey, checkpoint, key, events, concurrency = 8 }) {
  const t0 = performance.now();
  const cp = openCheckpoint(sa, checkpoint, key); // throws: the whole job fails, with the reason
  const client = new Client(apiKey);
  const total = events.length;
  let done = 0;
  let verified = 0;
  let failed = 0;
  let pending = 0;
  let verifyMs = 0;
  let batch = [];
  let lastFlush = performance.now();
  const flush = (force) => {
    const now = performance.now();
    if (batch.length && (force || batch.length >= 100 || now - lastFlush > 100)) {
      self.postMessage({ type: 'progress', job, results: batch, done, total });
      batch = [];
      lastFlush = now;
    }
  };
  const one = async (ev) => {
    let r;
    if (ev.seq >= cp.tree_size) {
      pending++;
      r = { seq: ev.seq, state: 'wait', reason: `not yet covered by the latest checkpoint (tree size ${cp.tree_size})` };
    } else {
      try {
        const proof = await client.getJSON('/v1/audit/proof/inclusion', { seq: String(ev.seq), size: String(cp.tree_size) });
        const v0 = performance.now();
        try {
          verifyEvent(sa, ev, proof, cp);
          verified++;
          r = { seq: ev.seq, state: 'ok' };
        } finally {
          verifyMs += performance.now() - v0;
        }
      } catch (err) {
        failed++;
        const step = err instanceof VerifyError ? err.step : 'fetch';
        r = { seq: ev.seq, state: 'bad', reason: `${step}: ${err.message}` };
      }
    }
    done++;
    batch.push(r);
    flush(false);
  };
  let next = 0;
  const runners = [];
  for (let i = 0; i < Math.min(concurrency, total); i++) {
    runners.push((async () => {
      while (next < total) await one(events[next++]);
    })());
  }
  await Promise.all(runners);
  flush(true);
  const ms = performance.now() - t0;
  self.postMessage({ type: 'done', job, tree_size: cp.tree_size, root: cp.root, verified, failed, pending, ms, verify_ms: verifyMs, fetch_ms: ms - verifyMs });
}
