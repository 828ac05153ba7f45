#!/usr/bin/env node
// verify-receipts.mjs FILE — verifies every receipt of FILE
// ({"key":..., "items":[{"receipt":..., "code":""|"<error code>"}]}) with
// the module's verify_receipt through the JS loader, and prints
// {"checked":n,"mismatches":[...]}: an item whose outcome (accepted, or the
// error code) differs from the Go core's. wasm/receipts_random_test.go runs it.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { load } from '../stigaudit.mjs';

const [file] = process.argv.slice(2);
const { key, items } = JSON.parse(readFileSync(file, 'utf8'));
const wasm = readFileSync(fileURLToPath(new URL('../../stigaudit.wasm', import.meta.url)));
const core = await load(wasm);
const mismatches = [];
let checked = 0;
for (const [i, it] of items.entries()) {
  let got = '';
  try {
    core.verifyReceipt(JSON.stringify({ receipt: it.receipt, key }));
  } catch (e) {
    got = e.code ?? String(e);
  }
  if (got !== it.code) mismatches.push(`item ${i}: node ${JSON.stringify(got)}, go ${JSON.stringify(it.code)}`);
  checked++;
}
process.stdout.write(JSON.stringify({ checked, mismatches: mismatches.slice(0, 20) }));
