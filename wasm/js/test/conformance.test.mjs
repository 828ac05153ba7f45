// Replays every call of wasm/testdata/conformance.json — every vector of
// core/testdata, with the envelope the native Go core answers — through the
// JS loader, and requires the same bytes. Both WASI paths are covered: the
// shim the browsers use, and node:wasi.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { load } from '../stigaudit.mjs';

const golden = JSON.parse(await readFile(new URL('../../testdata/conformance.json', import.meta.url), 'utf8'));

// Input of merkle_root over the large test tree: leaf i is the RFC 6962
// leaf hash of the 8-byte big-endian i (see wasm/conformance_test.go).
function largeInput(n) {
  const hashes = [];
  const buf = Buffer.alloc(9);
  for (let i = 0; i < n; i++) {
    buf.writeBigUInt64BE(BigInt(i), 1);
    hashes.push(createHash('sha256').update(buf).digest('hex'));
  }
  return JSON.stringify({ leaf_hashes: hashes });
}

for (const wasi of ['shim', 'node']) {
  test(`every core vector answers the native bytes (wasi: ${wasi})`, async () => {
    let clock = 0n;
    const sa = await load(undefined, { wasi, clockNow: () => clock });
    assert.ok(golden.calls.length > 0);
    for (const c of golden.calls) {
      clock = c.clock_ns ? BigInt(c.clock_ns) : BigInt(Date.now()) * 1000000n;
      const input = c.large_leaves ? largeInput(c.large_leaves) : c.input;
      assert.equal(sa.envelope(c.op, input), c.envelope, c.vector);
    }
  });
}
