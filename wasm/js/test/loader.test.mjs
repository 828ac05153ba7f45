import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { load, StigauditError, OPERATIONS, STORE, MAX_INPUT } from '../stigaudit.mjs';

const wasmURL = new URL('../../stigaudit.wasm', import.meta.url);
const quiet = { stderr: () => {}, stdout: () => {} };

test('loads from bytes, a URL, a path and a compiled module', async () => {
  const bytes = await readFile(wasmURL);
  for (const src of [bytes, bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length), wasmURL,
    wasmURL.pathname, await WebAssembly.compile(bytes), undefined]) {
    const sa = await load(src, quiet);
    assert.equal(sa.canonicalize('{"b":2,"a":1}'), '{"a":1,"b":2}');
  }
});

test('every operation of ABI v1 is a function', async () => {
  const sa = await load(wasmURL, quiet);
  for (const name of Object.values(OPERATIONS)) assert.equal(typeof sa[name], 'function', name);
});

test('inputs: strings and bytes are JSON text, other values are serialised', async () => {
  const sa = await load(wasmURL, quiet);
  // Text keeps what JSON.parse would lose: big integers round as in JS.
  assert.equal(sa.canonicalize('{"n":9007199254740993,"x":1.0E2}'), '{"n":9007199254740992,"x":100}');
  assert.equal(sa.canonicalize(new TextEncoder().encode('"\\u00e9\\u2028"')), '"é\u2028"');
  assert.equal(sa.canonicalize({ z: [1.5, -0], a: 'é' }), '{"a":"é","z":[1.5,0]}');
});

test('error envelopes throw StigauditError with the stable code', async () => {
  const sa = await load(wasmURL, quiet);
  const cases = [
    ['canonicalize', '{"a":', 'invalid_json'],
    ['canonicalize', '{"a":1,"a":2}', 'invalid_json'],
    ['canonicalize', '', 'invalid_json'],
    ['merkleRoot', { leaf_hashes: 'x' }, 'invalid_field'],
    ['merkleRoot', { leaf_hashes: [], extra: 1 }, 'unknown_field'],
    ['verifyInclusion', {}, 'missing_field'],
  ];
  for (const [fn, input, code] of cases) {
    assert.throws(() => sa[fn](input), (e) => e instanceof StigauditError && e.code === code, `${fn}(${JSON.stringify(input)})`);
  }
  assert.throws(() => sa.canonicalize('x'.repeat(MAX_INPUT + 1)), (e) => e.code === 'too_large');
  assert.throws(() => sa.call('no_such_op', '{}'), (e) => e.code === 'invalid_input');
});

test('a guest panic is an envelope; a trap replaces the instance', async () => {
  const lines = [];
  const sa = await load(wasmURL, { stderr: (l) => lines.push(l) });
  assert.throws(() => sa.testFault('panic'), (e) => e.code === 'panic');
  assert.equal(sa.canonicalize('[1]'), '[1]');
  assert.throws(() => sa.testFault('oom'), (e) => e.code === 'panic' && /replaced/.test(e.message));
  await sa.ready();
  assert.equal(sa.canonicalize('{"b":[],"a":{}}'), '{"a":{},"b":[]}');
  assert.ok(lines.some((l) => /out of memory/.test(l)), 'the Go runtime reports the OOM on stderr');
});

test('garbage input never breaks the instance', async () => {
  const sa = await load(wasmURL, quiet);
  const garbage = [new Uint8Array([0xff, 0xfe, 0]), '[[[[[[[[[[', '{"a":"\\ud800"}', '\u0000', '{"a":nul}', '1e999'];
  for (const op of Object.keys(OPERATIONS)) {
    for (const g of garbage) {
      assert.throws(() => sa.call(op, g), (e) => e instanceof StigauditError && e.code !== 'panic', `${op}(${g})`);
    }
  }
  assert.equal(sa.canonicalize('1'), '1');
});

test('store codes are the ABI constants', () => {
  assert.deepEqual({ ...STORE }, { INVALID: -1, ID_CONFLICT: -2, UNAVAILABLE: -3, FORBIDDEN: -4 });
});

test('inputs of every size: the kept input buffer grows, large ones pass alone', async () => {
  const sa = await load(wasmURL, quiet);
  for (const n of [1, 10, 4000, 5000, 70000, 10, 200000, 3, 60000]) {
    const s = 'x'.repeat(n);
    assert.equal(sa.canonicalize(JSON.stringify({ s, a: n })), `{"a":${n},"s":"${s}"}`, `size ${n}`);
  }
  assert.equal(sa.canonicalize('[]'), '[]');
});

test('configure: the operator catalogue and detail limits, kept across a trap', async () => {
  const configure = {
    catalogue: { event_types: [{ name: 'billing.invoice_sent', required_detail: ['invoice_id'] }] },
    max_detail_bytes: 64,
  };
  const clockNow = () => 1777809600123456789n;
  const id = '0196a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b';
  const invoice = { id, event_type: 'billing.invoice_sent', entity_uri: 'a', detail: { invoice_id: 'i-1' } };
  const big = { id, event_type: 'fact_write', entity_uri: 'a', detail: { x: 'y'.repeat(60) } };

  const plain = await load(wasmURL, { ...quiet, clockNow });
  assert.throws(() => plain.buildEvent(invoice), { code: 'unknown_event_type' });
  assert.equal(plain.buildEvent(big).event_type, 'fact_write');

  const sa = await load(wasmURL, { ...quiet, clockNow, configure });
  const ev = sa.buildEvent(invoice);
  assert.equal(ev.event_type, 'billing.invoice_sent');
  assert.deepEqual(ev.detail, { invoice_id: 'i-1' });
  assert.throws(() => sa.buildEvent({ ...invoice, detail: { x: 1 } }), { code: 'missing_detail_key' });
  assert.throws(() => sa.buildEvent(big), { code: 'detail_too_large' });
  // The instance that replaces a trapped one is configured alike.
  assert.throws(() => sa.testFault('oom'), { code: 'panic' });
  await sa.ready();
  assert.deepEqual(sa.buildEvent(invoice), ev);
  assert.throws(() => sa.buildEvent(big), { code: 'detail_too_large' });

  await assert.rejects(load(wasmURL, { ...quiet, configure: { max_detail_depth: 0 } }), { code: 'invalid_config' });
  await assert.rejects(load(wasmURL, { ...quiet, configure: '{"catalogue":{"event_types":[{"name":"fact_write"}]}}' }), { code: 'invalid_config' });
});
