#!/usr/bin/env node
// record.mjs — a Node program that keeps its own audit log with the
// stigaudit WebAssembly core.
//
//   node wasm/js/examples/record.mjs OUT.ndjson [COUNT=10000]
//
// The module builds every event (validation, tenant normalisation, UUIDv7,
// canonical form) exactly as the Go server would; this program is the host:
// its storeAppend assigns contiguous seqs from 0 and writes one NDJSON line
// per event in the export form of `stigaudit export --format ndjson`: the
// canonical event extended with "leaf_hash" and "seq", still canonical
// (members sorted), so removing the two gives back the hashed bytes.
// Re-sending an id with the same content answers the stored seq; with other
// content, id_conflict. It prints a JSON summary on standard output, with
// the log's Merkle root computed by the module (merkle_root).
import { openSync, writeSync, fsyncSync, closeSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { load, STORE } from '../stigaudit.mjs';

const [out, countArg] = process.argv.slice(2);
if (!out) {
  console.error('usage: record.mjs OUT.ndjson [COUNT]');
  process.exit(2);
}
const count = Number(countArg ?? 10000);

const fd = openSync(out, 'w');
const decoder = new TextDecoder();
let pending = [];
let nextSeq = 0;
const byId = new Map(); // id → { seq, content } for idempotent re-sends
const leaves = []; // every stored event's leaf hash, in seq order

// content is the canonical event without ts: what must match on a re-send.
function content(ev) {
  const { ts, ...rest } = ev;
  return JSON.stringify(rest);
}

// skipValue returns the index just after the JSON value starting at i.
function skipValue(text, i) {
  let depth = 0;
  for (; i < text.length; i++) {
    const c = text[i];
    if (c === '"') {
      for (i++; text[i] !== '"'; i++) if (text[i] === '\\') i++;
      if (depth === 0) return i + 1;
    } else if (c === '{' || c === '[') depth++;
    else if (c === '}' || c === ']') {
      if (--depth === 0) return i + 1;
    } else if (depth === 0 && (c === ',' || c === '}')) return i;
  }
  return i;
}

// exportLine inserts "leaf_hash" and "seq" into the canonical event at their
// sorted places: leaf_hash after id (before oidc_sub or outcome), seq after
// scope (before source). Every top-level value after detail is a string, and
// a raw '"' never occurs inside a JSON string, so once past detail the
// member names can be searched for directly.
function exportLine(text, seq, leafHash) {
  const d = text.indexOf('"detail":');
  const from = d < 0 ? 0 : skipValue(text, d + '"detail":'.length);
  let at = text.indexOf(',"oidc_sub":', from);
  if (at < 0) at = text.indexOf(',"outcome":', from);
  const withHash = `${text.slice(0, at)},"leaf_hash":"${leafHash}"${text.slice(at)}`;
  const src = withHash.indexOf(',"source":', from);
  return `${withHash.slice(0, src)},"seq":${seq}${withHash.slice(src)}\n`;
}

function storeAppend(canonical) {
  const text = decoder.decode(canonical);
  let ev;
  try {
    ev = JSON.parse(text);
  } catch {
    return STORE.INVALID;
  }
  const known = byId.get(ev.id);
  if (known) return known.content === content(ev) ? known.seq : STORE.ID_CONFLICT;
  const leafHash = createHash('sha256').update(Buffer.from([0])).update(canonical).digest('hex');
  const seq = nextSeq++;
  pending.push(exportLine(text, seq, leafHash));
  leaves.push(leafHash);
  if (pending.length >= 1000) flush();
  byId.set(ev.id, { seq, content: content(ev) });
  return seq;
}

function flush() {
  if (pending.length) writeSync(fd, pending.join(''));
  pending = [];
}

const sa = await load(undefined, { storeAppend });

const types = ['fact_write', 'fact_read', 'admin_action', 'quota_breach', 'instruction_quarantined'];
const start = performance.now();
let skipped = 0;
for (let i = 0; i < count - 1; i++) {
  const type = types[i % types.length];
  const draft = {
    event_type: type,
    tenant_id: i % 7 === 0 ? ' ACME ' : 'acme', // normalised by the core
    entity_uri: `agent:worker-${i % 13}`,
    fact_id: `fact-${i}`,
    source: 'record.mjs',
    outcome: i % 11 === 0 ? 'denied' : 'success',
    detail: { n: i, ratio: i / 7, note: 'naïve café ☕ 𝄞', big: 1e21, list: [1.5, -0, 'x'],
      // Member names of the event inside detail must not confuse exportLine.
      echo: { source: 'a","source":"b', outcome: '}' } },
  };
  if (type === 'admin_action') draft.detail.action = 'rotate';
  if (type === 'quota_breach') draft.detail.dimension = 'writes';
  if (type === 'instruction_quarantined') {
    draft.fact = { entity: 'instruction:run', relation: 'says', interpret_as: null };
  }
  const ev = sa.emit(draft);
  if (ev.skipped) skipped++;
  else if (ev.seq !== nextSeq - 1) throw new Error(`event ${i}: answered seq ${ev.seq}, stored ${nextSeq - 1}`);
}
// The last event is sent twice: the re-send stores nothing and answers the
// stored seq.
const first = sa.buildEvent({ id: '0196a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b', event_type: 'fact_read', entity_uri: 'agent:r' });
const again = sa.emit({ id: first.id, event_type: 'fact_read', entity_uri: 'agent:r' });
const resent = sa.emit({ id: first.id, event_type: 'fact_read', entity_uri: 'agent:r' });
if (resent.seq !== again.seq) throw new Error('re-send stored twice');
flush();
fsyncSync(fd);
closeSync(fd);
const seconds = (performance.now() - start) / 1000;
// The log's RFC 6962 root, by the module: what a checkpoint of this log signs.
const { tree_size: size, root } = sa.merkleRoot({ leaf_hashes: leaves });
if (size !== nextSeq) throw new Error(`merkle_root counted ${size} leaves, stored ${nextSeq}`);
console.log(JSON.stringify({ file: out, events: nextSeq, root, skipped, seconds, events_per_s: Math.round(nextSeq / seconds) }));
