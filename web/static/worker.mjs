// worker.mjs — verifies many events' inclusion off the main thread, with
// the module the page already compiled (posted here as a WebAssembly.Module).
//
// Three ways to get the proofs, the first that works:
//
//  1. One export request (GET /v1/audit/export?format=ndjson with the list's
//     filters, from the oldest loaded seq): the server signs or reuses a
//     checkpoint covering everything, sends it in a header, then streams
//     every matching event with its inclusion proof. Each line is checked
//     as it arrives. A complete export (from seq 0, unfiltered) carries no
//     proofs: the page then rebuilds the whole tree from its leaves and
//     compares the root. Needs audit.read; the server records the export
//     (audit_export events).
//  2. The list itself with ?proof=1 (any read key): a page of up to 1,000
//     events, each with its proof against one signed tree size, fetched
//     again with the table's filters from the newest event down.
//  3. One GET /v1/audit/proof/inclusion per event, against the latest
//     checkpoint (a server with neither, or events the others missed).
//
// Either way the events checked are the ones the page shows: their leaf is
// recomputed from their content and must be the leaf the proof is about.
//
// Messages in:  {type:'init', module, configure (as the page's core, see core.mjs)}
//               {type:'verify', job, apiKey, key, events, params (the list's filters), canExport, concurrency}
// Messages out: {type:'ready', ms} | {type:'error', job?, message}
//               {type:'progress', job, results:[{seq, state, reason?}], done, total}
//               {type:'done', job, via, tree_size, root, verified, failed, pending, ms, verify_ms, fallback?}

import { load } from './stigaudit.mjs';
import { ApiError, Client, withQuery } from './api.mjs';
import { canonicalObject, isRedacted, openCheckpoint, verifyEvent, VerifyError } from './verify.mjs';

let sa = null;

self.onmessage = async (e) => {
  const m = e.data;
  try {
    if (m.type === 'init') {
      const t0 = performance.now();
      sa = await load(m.module, { configure: m.configure, stdout: () => {}, stderr: () => {} });
      self.postMessage({ type: 'ready', ms: performance.now() - t0 });
    } else if (m.type === 'verify') {
      await verifyAll(m);
    }
  } catch (err) {
    self.postMessage({ type: 'error', job: m.job, message: String(err && err.message || err) });
  }
};

/** Counts results and posts them in batches. */
class Tally {
  constructor(job, total) {
    Object.assign(this, { job, total, done: 0, verified: 0, failed: 0, pending: 0, verifyMs: 0, batch: [], last: performance.now() });
  }

  add(seq, state, reason) {
    this.done++;
    if (state === 'ok') this.verified++;
    else if (state === 'bad') this.failed++;
    else this.pending++;
    this.batch.push({ seq, state, reason });
    if (this.batch.length >= 200 || performance.now() - this.last > 100) this.flush();
  }

  /** Check one event against its proof, timing the core's work. */
  check(ev, proof, cp) {
    const t0 = performance.now();
    try {
      verifyEvent(sa, ev, proof, cp);
      this.add(ev.seq, 'ok');
    } catch (err) {
      this.add(ev.seq, 'bad', err instanceof VerifyError ? `${err.step}: ${err.message}` : String(err.message));
    } finally {
      this.verifyMs += performance.now() - t0;
    }
  }

  flush() {
    if (this.batch.length) self.postMessage({ type: 'progress', job: this.job, results: this.batch, done: this.done, total: this.total });
    this.batch = [];
    this.last = performance.now();
  }
}

async function verifyAll(m) {
  const t0 = performance.now();
  const client = new Client(m.apiKey);
  const tally = new Tally(m.job, m.events.length);
  let todo = new Map(m.events.map((ev) => [ev.seq, ev]));
  let cp = null;
  const ways = [];
  const fallbacks = [];
  const tryWay = async (name, way) => {
    try {
      const r = await way(client, m, todo, tally);
      cp = cp || r;
      ways.push(name);
    } catch (err) {
      if (err instanceof VerifyError) throw err; // a bad checkpoint is a failure, not a reason to try another way
      fallbacks.push(`${name}: ${err.message}`);
    }
  };
  if (m.canExport) await tryWay('export', viaExport);
  if (todo.size) await tryWay('list', viaList);
  if (todo.size) await tryWay('proofs', viaProofs);
  const via = ways.join('+') || 'none';
  const fallback = fallbacks.join('; ');
  tally.flush();
  const ms = performance.now() - t0;
  self.postMessage({
    type: 'done', job: m.job, via, fallback, tree_size: cp.tree_size, root: cp.root, verified: tally.verified,
    failed: tally.failed, pending: tally.pending, ms, verify_ms: tally.verifyMs,
  });
}

function decodeBase64(b64) {
  const bin = atob(b64);
  const bytes = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
  return new TextDecoder().decode(bytes);
}

/** The lines of a streamed body. */
async function* lines(body) {
  const reader = body.getReader();
  const dec = new TextDecoder();
  let buf = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buf += dec.decode(value, { stream: true });
    let i;
    while ((i = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 1);
      if (line) yield line;
    }
  }
  if (buf) yield buf;
}

/**
 * Way 1: the export. Checks what it can and removes it from todo; returns
 * the opened checkpoint. Throws a plain Error to fall back to way 2, a
 * VerifyError when the checkpoint does not verify.
 */
async function viaExport(client, m, todo, tally) {
  const q = new URLSearchParams(m.params);
  q.delete('limit');
  q.delete('cursor');
  q.set('format', 'ndjson');
  let min = Infinity;
  for (const seq of todo.keys()) min = Math.min(min, seq);
  if (min > 0) q.set('after_seq', String(min - 1));
  const res = await fetch(withQuery('/v1/audit/export', q), { headers: client.headers({ Accept: 'application/x-ndjson' }), cache: 'no-store' });
  if (!res.ok) {
    let msg = `HTTP ${res.status}`;
    try { msg = (await res.json()).error.message; } catch { /* keep the status */ }
    throw new ApiError(res.status, '', `the export was refused: ${msg}`);
  }
  const header = res.headers.get('Stigaudit-Checkpoint');
  if (!header) throw new Error('the export carries no checkpoint header');
  const cpText = decodeBase64(header);
  const cp = openCheckpoint(sa, cpText, m.key, m.policy);
  const leaves = []; // a complete export: every leaf, in seq order
  const unproven = []; // loaded events met on proof-less lines
  let ended = false;
  for await (const line of lines(res.body)) {
    const o = JSON.parse(line);
    if ('checkpoint' in o) {
      if (o.checkpoint !== cpText) throw new VerifyError('checkpoint', 'the export ends with another checkpoint than it started with');
      ended = true;
      continue;
    }
    if (!o.proof) {
      if (o.seq !== leaves.length) throw new Error(`the export skips from seq ${leaves.length - 1} to ${o.seq} without proofs`);
      leaves.push(o.leaf_hash);
    }
    const ev = todo.get(o.seq);
    if (!ev) continue;
    todo.delete(o.seq);
    if (o.proof) tally.check(ev, o.proof, cp);
    else unproven.push([ev, o.leaf_hash]);
  }
  if (!ended) throw new Error('the export ended early (no checkpoint line)');
  if (unproven.length) {
    // No proofs: rebuild the tree of the whole log and compare its root.
    const t0 = performance.now();
    let rootOK = leaves.length === cp.tree_size;
    let why = `the export holds ${leaves.length} leaves, the checkpoint ${cp.tree_size}`;
    if (rootOK) {
      const r = sa.merkleRoot({ leaf_hashes: leaves });
      rootOK = r.root === cp.root;
      why = `the ${leaves.length} leaves of the export give root ${r.root}, the checkpoint says ${cp.root}`;
    }
    for (const [ev, leaf] of unproven) {
      if (!rootOK) {
        tally.add(ev.seq, 'bad', `proof: ${why}`);
        continue;
      }
      const mine = isRedacted(ev) ? ev.leaf_hash : sa.leafHash(canonicalObject(ev));
      if (mine === leaf) tally.add(ev.seq, 'ok');
      else tally.add(ev.seq, 'bad', `event: the event's content hashes to ${mine}, but the log's leaf at seq ${ev.seq} is ${leaf}`);
    }
    tally.verifyMs += performance.now() - t0;
  }
  for (const [seq] of [...todo]) {
    if (seq >= cp.tree_size) {
      tally.add(seq, 'wait', `not yet covered by the checkpoint (tree size ${cp.tree_size})`);
      todo.delete(seq);
    }
  }
  return cp; // what is left in todo was not in the export: way 2 tries it
}

/**
 * Way 2: the list with ?proof=1, newest first, 1,000 events a page, until
 * every loaded event is met. A page's proofs share one tree size: the
 * latest checkpoint when the page was made. When that is not the
 * checkpoint in hand (one was signed in between), the checkpoint is fetched
 * again; events whose proof still does not fit are left to way 3.
 */
async function viaList(client, m, todo, tally) {
  let cp = openCheckpoint(sa, await client.getText('/v1/audit/checkpoint'), m.key, m.policy);
  let min = Infinity;
  for (const seq of todo.keys()) min = Math.min(min, seq);
  const q = new URLSearchParams(m.params);
  q.set('proof', '1');
  q.set('limit', '1000');
  q.delete('cursor');
  for (;;) {
    const page = await client.getJSON('/v1/audit', q);
    for (const item of page.events) {
      const ev = todo.get(item.seq);
      if (!ev) continue;
      const proof = item.proof;
      if (proof === undefined) throw new Error('the server ignored proof=1');
      if (proof === null) {
        todo.delete(ev.seq);
        tally.add(ev.seq, 'wait', `not yet covered by the latest checkpoint (tree size ${cp.tree_size})`);
        continue;
      }
      if (proof.tree_size !== cp.tree_size) {
        const again = openCheckpoint(sa, await client.getText('/v1/audit/checkpoint'), m.key, m.policy);
        if (again.tree_size !== proof.tree_size) continue; // way 3 proves it against the latest
        cp = again;
      }
      todo.delete(ev.seq);
      tally.check(ev, proof, cp);
    }
    const last = page.events.length ? page.events[page.events.length - 1].seq : -1;
    if (!todo.size || !page.has_more || last <= min) break;
    q.set('cursor', page.next_cursor);
  }
  return cp;
}

/** Way 3: one proof request per event, against the latest checkpoint. */
async function viaProofs(client, m, todo, tally) {
  const cp = openCheckpoint(sa, await client.getText('/v1/audit/checkpoint'), m.key, m.policy);
  const events = [...todo.values()];
  todo.clear();
  let next = 0;
  const one = async (ev) => {
    if (ev.seq >= cp.tree_size) {
      tally.add(ev.seq, 'wait', `not yet covered by the latest checkpoint (tree size ${cp.tree_size})`);
      return;
    }
    let proof;
    try {
      proof = await client.getJSON('/v1/audit/proof/inclusion', { seq: String(ev.seq), size: String(cp.tree_size) });
    } catch (err) {
      tally.add(ev.seq, 'bad', `fetch: ${err.message}`);
      return;
    }
    tally.check(ev, proof, cp);
  };
  const runners = [];
  for (let i = 0; i < Math.min(m.concurrency || 8, events.length); i++) {
    runners.push((async () => {
      while (next < events.length) await one(events[next++]);
    })());
  }
  await Promise.all(runners);
  return cp;
}
