import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { load, STORE } from '../stigaudit.mjs';

const NOW = 1777809600123456789n; // 2026-05-03T12:00:00.123456789Z
const ID = '0196a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b';

function memoryStore() {
  const rows = [];
  const byId = new Map();
  return {
    rows,
    storeAppend(canonical) {
      const ev = JSON.parse(new TextDecoder().decode(canonical));
      if (byId.has(ev.id)) return byId.get(ev.id);
      rows.push(canonical);
      byId.set(ev.id, rows.length - 1);
      return rows.length - 1;
    },
  };
}

test('buildEvent: the host clock, the API form, a generated UUIDv7', async () => {
  const sa = await load(undefined, { clockNow: () => NOW });
  const ev = sa.buildEvent({ event_type: 'fact_read', tenant_id: ' ACME ', entity_uri: 'agent:a', detail: { b: 1, a: 'é' } });
  assert.equal(ev.seq, null);
  assert.equal(ev.ts, '2026-05-03T12:00:00.123456Z');
  assert.equal(ev.tenant_id, 'acme');
  assert.match(ev.id, /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  assert.deepEqual(ev.detail, { a: 'é', b: 1 });
  assert.equal(sa.leafHash(ev), ev.leaf_hash, 'leaf_hash recomputed from the API form');
  // The raw answer keeps the core's exact bytes: §2 order, nulls.
  const raw = sa.callRaw('build_event', JSON.stringify({ id: ID, event_type: 'fact_read', entity_uri: 'agent:a' }));
  assert.ok(raw.startsWith(`{"seq":null,"id":"${ID}","event_type":"fact_read","ts":"2026-05-03T12:00:00.123456Z","hlc":null,"tenant_id":"default"`), raw);
});

test('emit: storeAppend gets the canonical bytes and assigns the seq', async () => {
  const store = memoryStore();
  const sa = await load(undefined, { clockNow: () => NOW, storeAppend: store.storeAppend });
  const a = sa.emit({ id: ID, event_type: 'fact_write', entity_uri: 'agent:a', detail: { n: 1e21 } });
  const b = sa.emit({ event_type: 'fact_read', entity_uri: 'agent:b' });
  assert.equal(a.seq, 0);
  assert.equal(b.seq, 1);
  const canonical = store.rows[0];
  assert.equal(new TextDecoder().decode(canonical),
    `{"detail":{"n":1e+21},"entity_uri":"agent:a","event_type":"fact_write","id":"${ID}","outcome":"success","source":"","tenant_id":"default","ts":"2026-05-03T12:00:00.123456Z"}`);
  const hash = createHash('sha256').update(Buffer.from([0])).update(canonical).digest('hex');
  assert.equal(a.leaf_hash, hash, 'leaf_hash is SHA-256(0x00 ‖ canonical)');
  const text = new TextDecoder().decode(canonical);
  assert.equal(sa.leafHash(text), hash, 'leafHash of the canonical event object');
  assert.equal(sa.leafHash(JSON.stringify(text)), hash, 'leafHash of the canonical text as a JSON string');
  assert.equal(sa.emit({ id: ID, event_type: 'fact_write', entity_uri: 'agent:a', detail: { n: 1e21 } }).seq, 0, 'idempotent re-send');
});

test('emit: store failures carry their codes', async () => {
  const cases = [
    [() => STORE.ID_CONFLICT, 'id_conflict'],
    [() => STORE.UNAVAILABLE, 'store_unavailable'],
    [() => STORE.FORBIDDEN, 'forbidden'],
    [() => STORE.INVALID, 'invalid_input'],
    [() => { throw new Error('disk full'); }, 'store_unavailable'],
    [() => 'nonsense', 'store_unavailable'],
  ];
  for (const [storeAppend, code] of cases) {
    const sa = await load(undefined, { storeAppend });
    assert.throws(() => sa.emit({ event_type: 'fact_read', entity_uri: 'agent:a' }), (e) => e.code === code, code);
  }
  const none = await load();
  assert.throws(() => none.emit({ event_type: 'fact_read', entity_uri: 'agent:a' }), (e) => e.code === 'store_unavailable');
});

test('classify, mergeDetail and instruction events (docs/event-format.md#instruction-events)', async () => {
  const stored = [];
  const sa = await load(undefined, { storeAppend: (c) => stored.push(c) - 1 });
  assert.equal(sa.classify({ entity: 'instruction:x' }), true);
  assert.equal(sa.classify({ entity: 'user:1', relation: 'likes', interpret_as: 'content' }), false);
  assert.equal(sa.classify({ entity: 'Instruction:x', relation: null, interpret_as: null }), false);
  assert.equal(sa.classify({ interpret_as: 'code' }), false, 'code is reserved: valid, never an instruction by itself');
  assert.throws(() => sa.classify({ interpret_as: 'script' }), (e) => e.code === 'invalid_interpret_as');
  assert.deepEqual(sa.mergeDetail({ fact: { entity: 'instruction:x', relation: 'r' }, detail: { fact_relation: 'mine', z: 1 } }),
    { fact_entity: 'instruction:x', fact_interpret_as: null, fact_relation: 'mine', z: 1 });
  const skipped = sa.emit({ event_type: 'instruction_promoted', entity_uri: 'agent:a', fact: { entity: 'user:1', interpret_as: 'content' } });
  assert.deepEqual(skipped, { skipped: 'not_instruction' });
  assert.equal(stored.length, 0, 'nothing recorded for a non-instruction fact');
  for (const type of ['instruction_quarantined', 'instruction_promoted']) {
    assert.deepEqual(sa.emit({ event_type: type, entity_uri: 'agent:a', fact: { entity: 'doc:1', interpret_as: 'code' } }),
      { skipped: 'not_instruction' }, `${type} with interpret_as code`);
  }
  assert.equal(stored.length, 0, 'nothing recorded for interpret_as code');
  const ev = sa.emit({ event_type: 'instruction_promoted', entity_uri: 'agent:a', fact: { entity: 'instruction:run' } });
  assert.equal(ev.source, 'agent:a');
  assert.equal(ev.detail.fact_entity, 'instruction:run');
});

// Detail numbers are evidence (docs/event-format.md#numbers): sent as JSON text, a number whose
// RFC 8785 form has another value is refused in the loader as in Go; a JS
// object cannot even hold such a number, so the texts are what matter.
test('inexact detail numbers are refused, exact ones kept (docs/event-format.md#numbers)', async () => {
  const sa = await load();
  const req = (lit) => `{"id":"0196a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b","event_type":"fact_write","entity_uri":"a","detail":{"n":${lit}}}`;
  for (const lit of ['9007199254740993', '18446744073709551616', '1e-400', '123456789012345678901234567890', '1e400']) {
    assert.throws(() => sa.buildEvent(req(lit)), (e) => e.code === 'inexact_number', lit);
  }
  for (const [lit, stored] of [['0.10', 0.1], ['1.0', 1], ['-0', 0], ['1e2', 100], ['0.1', 0.1], ['9007199254740992', 9007199254740992]]) {
    const ev = sa.buildEvent(req(lit));
    assert.ok(Object.is(ev.detail.n, stored), `${lit} stored as ${ev.detail.n}`);
  }
  // What the message says, so a client knows what to do.
  assert.throws(() => sa.buildEvent(req('9007199254740993')), (e) => /9007199254740992/.test(e.message) && /string/.test(e.message));
  // Required keys are typed: admin_action's action is a string.
  assert.throws(() => sa.buildEvent({ event_type: 'admin_action', entity_uri: 'a', detail: { action: 5 } }), (e) => e.code === 'missing_detail_key');
  assert.equal(sa.buildEvent({ event_type: 'admin_action', entity_uri: 'a', detail: { action: 'rotate' } }).detail.action, 'rotate');
});

test('verifyCheckpoint, verifyInclusion with an event and a checkpoint', async () => {
  const sa = await load();
  assert.throws(() => sa.verifyCheckpoint({ checkpoint: 'x', key: 'bad' }), (e) => e.code === 'invalid_checkpoint');
  const leaf = sa.leafHash(JSON.stringify('hello')); // a JSON string: the leaf hash of its bytes
  const { root } = sa.merkleRoot({ leaf_hashes: [leaf] });
  assert.equal(root, leaf);
  const proof = { seq: 0, tree_size: 1, leaf_hash: leaf, hashes: [] };
  assert.deepEqual(sa.verifyInclusion({ proof, root }), { seq: 0, tree_size: 1, leaf_hash: leaf, root });
  assert.throws(() => sa.verifyInclusion({ proof, root: leaf.replace(/^./, leaf[0] === '0' ? '1' : '0') }), (e) => e.code === 'invalid_proof');
});
