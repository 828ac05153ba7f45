// drawer.mjs — one event: its fields, outcome, detail, canonical JSON, and
// its inclusion in the latest signed checkpoint, verified here by the core.

import { $, el, setResult, short } from './dom.mjs';
import { checkHistory } from './trust.mjs';
import { canonicalObject, isRedacted, keyName, openCheckpoint, verifyEvent, VerifyError, witnessed } from './verify.mjs';

const FIELDS = ['id', 'ts', 'tenant_id', 'entity_uri', 'emitter', 'oidc_sub', 'fact_id', 'source',
  'attested_key_id', 'scope', 'hlc', 'outcome', 'leaf_hash'];

/** How long to wait for an event to be covered by a checkpoint (they are signed every second). */
const COVER_TRIES = 15;

export class Drawer {
  constructor(app) {
    this.app = app;
    this.node = $('drawer');
    this.token = 0;
    this.returnTo = null;
    $('d-close').addEventListener('click', () => this.close());
    this.node.addEventListener('keydown', (e) => {
      if (e.key === 'Escape') {
        e.preventDefault();
        this.close();
      }
    });
  }

  get isOpen() { return !this.node.hidden; }

  open(ev, row) {
    const token = ++this.token;
    this.returnTo = row || null;
    for (const r of document.querySelectorAll('#events tr[aria-selected="true"]')) r.removeAttribute('aria-selected');
    if (row) row.setAttribute('aria-selected', 'true');
    $('d-title').textContent = `seq ${ev.seq} · ${ev.event_type}`;
    const dl = $('d-fields');
    dl.replaceChildren();
    for (const f of FIELDS) {
      const v = ev[f];
      dl.append(el('dt', { text: f }),
        f === 'outcome'
          ? el('dd', {}, el('span', { class: `outcome outcome-${v}`, text: v }))
          : el('dd', { text: v === null || v === undefined ? '—' : String(v) }));
    }
    $('d-detail').textContent = ev.detail === null ? 'null (no detail)' : JSON.stringify(ev.detail, null, 2);
    $('d-canonical').textContent = 'computing in the core…';
    $('d-canon-check').textContent = '';
    $('d-proof-text').textContent = '';
    this.node.hidden = false;
    this.node.focus();
    this.verify(ev, token, 0);
  }

  close() {
    this.token++;
    this.node.hidden = true;
    if (this.returnTo && this.returnTo.isConnected) this.returnTo.focus();
  }

  stale(token) { return token !== this.token; }

  async verify(ev, token, tries) {
    const box = $('d-proof');
    const app = this.app;
    if (tries === 0) setResult(box, 'wait', 'Verifying inclusion in this browser…');
    let core;
    try {
      core = await app.core.ready;
    } catch (e) {
      setResult(box, 'bad', 'The WebAssembly core failed to load', e.message);
      return;
    }
    if (this.stale(token)) return;
    const sa = core.sa;
    // The canonical form, and its hash, recomputed here.
    if (tries === 0 && isRedacted(ev)) {
      $('d-canonical').textContent = 'Some fields are redacted (hmac-sha256:…) for this key: the canonical form that was hashed cannot be shown.';
      $('d-canon-check').textContent = '— redacted';
      $('d-canon-check').className = 'muted small';
    } else if (tries === 0) {
      try {
        const canonical = sa.canonicalize(canonicalObject(ev));
        $('d-canonical').textContent = canonical;
        const leaf = sa.leafHash(JSON.stringify(canonical));
        const check = $('d-canon-check');
        check.textContent = leaf === ev.leaf_hash
          ? `— its leaf hash, computed here, equals the stored leaf_hash ✓`
          : `— its leaf hash computed here is ${leaf}, NOT the stored ${ev.leaf_hash} ✗`;
        check.className = leaf === ev.leaf_hash ? 'mark-ok small' : 'mark-bad small';
      } catch (e) {
        $('d-canonical').textContent = `the core refused this event: ${e.message}`;
      }
    }
    const key = app.trust.active();
    if (!key) {
      setResult(box, 'wait', 'Not verified: no checkpoint verifier key',
        'Pin the node\'s verifier key (stigaudit keys checkpoint-key) in the Verifier key tab.');
      return;
    }
    let cpText;
    let proof;
    try {
      cpText = await app.client.getText('/v1/audit/checkpoint');
      if (this.stale(token)) return;
      const cp = openCheckpoint(sa, cpText, key, app.trust.policy);
      await checkHistory(app.client, sa, key, cp);
      if (this.stale(token)) return;
      if (ev.seq >= cp.tree_size) {
        if (tries < COVER_TRIES) {
          setResult(box, 'wait', `Waiting for a checkpoint that covers seq ${ev.seq}…`,
            `The latest checkpoint has tree size ${cp.tree_size}; the node signs a new one within about a second.`);
          setTimeout(() => { if (!this.stale(token)) this.verify(ev, token, tries + 1); }, 1000);
          return;
        }
        throw new VerifyError('size', `no checkpoint covers seq ${ev.seq} yet (latest tree size ${cp.tree_size})`);
      }
      proof = await app.client.getJSON('/v1/audit/proof/inclusion', { seq: String(ev.seq), size: String(cp.tree_size) });
      if (this.stale(token)) return;
      $('d-proof-text').textContent = `${cpText.trimEnd()}\n\n${JSON.stringify(proof, null, 2)}`;
      const r = verifyEvent(sa, ev, proof, cp);
      setResult(box, 'ok', `✓ Verified at tree size ${r.tree_size}${r.redacted ? ' (leaf only: the content is redacted)' : ''}`,
        r.redacted ? 'The content shown is redacted for this key, so only the stored leaf hash is proven, not the fields above. ' : '',
        `Leaf ${short(r.leaf_hash, 16)} is at seq ${r.seq} of the tree with root ${short(r.root, 16)}, ` +
        `in a checkpoint of ${cp.origin} signed by ${keyName(key)} (${app.trust.source()})${cp.witnesses ? `, ${witnessed(cp)}` : ''}; ` +
        `${proof.hashes.length} proof hashes, checked by the WebAssembly core in this browser.`);
      box.dataset.treeSize = String(r.tree_size);
      app.log.mark(ev.seq, 'ok');
    } catch (e) {
      if (this.stale(token)) return;
      if (cpText && !$('d-proof-text').textContent) $('d-proof-text').textContent = cpText;
      const what = e instanceof VerifyError ? {
        key: 'No verifier key',
        checkpoint: 'Checkpoint signature invalid',
        event: 'Event content does not match the log',
        size: 'Proof does not fit the checkpoint',
        proof: 'Inclusion proof does not match the checkpoint root',
        history: 'The log does not extend the one verified before',
        witnesses: 'Witness quorum not met',
      }[e.step] : `Could not fetch the ${cpText ? 'inclusion proof' : 'checkpoint'}`;
      setResult(box, 'bad', `✗ Not verified: ${what}`, e.message);
      box.dataset.step = e instanceof VerifyError ? e.step : 'fetch';
      app.log.mark(ev.seq, 'bad', e.message);
    }
  }
}
