// compose.mjs — the composer. As the operator types, the core builds the
// event exactly as the server will (the same Go code, compiled to
// WebAssembly): canonical JSON, leaf hash, instruction classification and
// merged detail, before anything is sent. "Record" sends the very request
// body shown; the page then rebuilds the draft at the server's timestamp
// and shows that the stored event's leaf hash equals the preview's.

import { $, setError, setResult } from './dom.mjs';
import { canonicalObject } from './verify.mjs';
import { tsToNanos } from './core.mjs';

const INSTRUCTION_TYPES = new Set(['instruction_quarantined', 'instruction_promoted']);
const OPTIONAL = ['fact_id', 'source', 'scope', 'attested_key_id', 'hlc'];

export class Composer {
  constructor(app) {
    this.app = app;
    this.timer = 0;
    this.last = null; // {text, built, skipped}
    const form = $('composer');
    const edited = () => {
      $('p-result').hidden = true; // the last result was about another draft
      this.schedule();
    };
    form.addEventListener('input', edited);
    form.addEventListener('change', edited);
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      this.record();
    });
    $('c-new-id').addEventListener('click', () => {
      $('c-id').value = '';
      this.schedule();
    });
  }

  /** Called once the session is known and when the catalogue arrives. */
  init() {
    this.showRequired();
    this.schedule();
  }

  schedule() {
    clearTimeout(this.timer);
    $('preview').dataset.pending = 'true';
    this.timer = setTimeout(async () => {
      await this.preview();
      delete $('preview').dataset.pending;
    }, 80);
  }

  showRequired() {
    const name = $('c-event_type').value.trim();
    const t = (this.app.config.event_types || []).find((x) => x.name === name);
    $('c-required').textContent = t
      ? `${t.critical ? 'critical (fails closed)' : 'best-effort'}; required detail keys: ${t.required.length ? t.required.join(', ') : 'none'}`
      : (name ? 'not in this node\'s catalogue' : '');
    $('c-fact').disabled = !INSTRUCTION_TYPES.has(name);
  }

  /**
   * The request body: a JSON text assembled from the form, with what the
   * server would fill in from the key (tenant, emitter, entity_uri,
   * oidc_sub) written out, and the detail as the operator typed it — its
   * numbers are never round-tripped through JavaScript.
   */
  draftText() {
    const s = this.app.session;
    const parts = [];
    const put = (k, v) => parts.push(`${JSON.stringify(k)}:${v}`);
    const str = (k, v) => put(k, JSON.stringify(v));
    const val = (id) => $(id).value.trim();
    const type = val('c-event_type');
    str('event_type', type);
    if (val('c-id')) str('id', val('c-id'));
    const tenant = s.can.admin && val('c-tenant_id') ? val('c-tenant_id') : s.tenant_id;
    str('tenant_id', tenant);
    str('entity_uri', val('c-entity_uri') || s.entity_uri);
    str('emitter', s.entity_uri);
    const sub = val('c-oidc_sub') || s.oidc_sub;
    if (sub) str('oidc_sub', sub);
    for (const f of OPTIONAL) if (val(`c-${f}`)) str(f, val(`c-${f}`));
    str('outcome', $('c-outcome').value);
    const detail = $('c-detail').value.trim();
    if (detail) put('detail', detail);
    if (INSTRUCTION_TYPES.has(type)) put('fact', JSON.stringify(this.fact()));
    return `{${parts.join(',')}}`;
  }

  fact() {
    const v = (id) => $(id).value.trim() || null;
    return { entity: v('c-fact-entity'), relation: v('c-fact-relation'), interpret_as: $('c-fact-interpret_as').value || null };
  }

  async preview() {
    this.showRequired();
    const err = $('p-error');
    const btn = $('record');
    btn.disabled = true;
    const app = this.app;
    if (!app.core.sa) {
      $('p-class').textContent = 'waiting for the WebAssembly core…';
      try {
        await app.core.ready;
      } catch {
        setError(err, 'The WebAssembly core failed to load: nothing can be previewed.');
        return;
      }
    }
    const sa = app.core.sa;
    setError(err, '');
    this.last = null;
    const type = $('c-event_type').value.trim();
    const detailText = $('c-detail').value.trim();
    try {
      if (detailText) {
        try {
          sa.canonicalize(detailText);
        } catch (e) {
          throw new Error(`detail: ${e.message} (${e.code})`);
        }
      }
      if (!$('c-id').value.trim()) {
        // Let the core generate the id (UUID v7) once, and keep it, so the
        // preview and the request carry the same one.
        const probe = sa.buildEvent(this.draftText());
        if (probe.id) $('c-id').value = probe.id;
      }
      const text = this.draftText();
      const built = sa.buildEvent(text);
      // Classification (docs/event-format.md#instruction-events).
      if (INSTRUCTION_TYPES.has(type)) {
        const f = this.fact();
        const yes = sa.classify(f);
        $('p-class').textContent = yes
          ? 'instruction fact ✓ — the event is recorded, with the fact merged into its detail'
          : 'not an instruction fact — the server records nothing and answers {"skipped":"not_instruction"}';
        $('p-class').dataset.instruction = String(yes);
      } else {
        $('p-class').textContent = 'not an instruction event: no fact to classify (only instruction_quarantined and instruction_promoted carry one)';
        delete $('p-class').dataset.instruction;
      }
      $('p-body').textContent = text;
      if (built.skipped) {
        $('p-detail').textContent = '—';
        $('p-canonical').textContent = 'nothing is stored';
        $('p-leaf').textContent = '—';
        this.last = { text, built: null, skipped: true };
      } else {
        const merged = INSTRUCTION_TYPES.has(type)
          ? sa.mergeDetail({ fact: this.fact(), detail: detailText || null })
          : built.detail;
        $('p-detail').textContent = merged === null ? 'null (no detail)' : sa.canonicalize(merged);
        const canonical = sa.canonicalize(canonicalObject(built));
        const check = sa.leafHash(JSON.stringify(canonical));
        if (check !== built.leaf_hash) throw new Error(`internal: the canonical text hashes to ${check}, the event to ${built.leaf_hash}`);
        $('p-canonical').textContent = canonical;
        $('p-leaf').textContent = built.leaf_hash;
        this.last = { text, built, skipped: false };
      }
      btn.disabled = !app.session.can['audit.write'];
      $('record-status').textContent = app.session.can['audit.write'] ? '' : 'this key may not write (needs audit.write)';
    } catch (e) {
      setError(err, `${e.message}${e.code && !e.message.includes(e.code) ? ` (${e.code})` : ''}`);
      $('p-canonical').textContent = '—';
      $('p-leaf').textContent = '—';
      $('p-detail').textContent = '—';
      $('p-body').textContent = '—';
    }
  }

  async record() {
    const last = this.last;
    if (!last) return;
    const app = this.app;
    const sa = app.core.sa;
    const box = $('p-result');
    const btn = $('record');
    btn.disabled = true;
    $('record-status').textContent = 'sending…';
    try {
      const { status, body } = await app.client.postJSON('/v1/audit/events', last.text);
      if (body.skipped) {
        setResult(box, last.skipped ? 'ok' : 'bad',
          last.skipped ? '✓ Nothing recorded, as the preview said' : '✗ The server skipped an event the preview would store',
          `HTTP ${status}: ${JSON.stringify(body)}`);
        return;
      }
      if (status === 202) {
        setResult(box, 'wait', 'Not stored: the store was unavailable and this type is best-effort', JSON.stringify(body));
        return;
      }
      // Rebuild the same draft with the core, at the server's timestamp.
      app.core.pin(tsToNanos(body.ts));
      let rebuilt;
      try {
        rebuilt = sa.buildEvent(last.text);
      } finally {
        app.core.pin(null);
      }
      const mine = sa.canonicalize(canonicalObject(rebuilt));
      const theirs = sa.canonicalize(canonicalObject(body));
      const recomputed = sa.leafHash(canonicalObject(body));
      const same = rebuilt.leaf_hash === body.leaf_hash && mine === theirs && recomputed === body.leaf_hash;
      if (same) {
        setResult(box, 'ok', `✓ Recorded at seq ${body.seq}: the stored leaf hash equals the preview`,
          `stored leaf_hash  ${body.leaf_hash}`,
          `preview leaf hash ${rebuilt.leaf_hash}  (this draft, built in the browser at the server's ts ${body.ts})`,
          'The canonical bytes are identical; only ts came from the server.');
      } else {
        setResult(box, 'bad', `✗ Recorded at seq ${body.seq}, but it differs from the preview`,
          `stored leaf_hash  ${body.leaf_hash}`, `preview leaf hash ${rebuilt.leaf_hash}`,
          `stored canonical:  ${theirs}`, `preview canonical: ${mine}`);
      }
      Object.assign(box.dataset, { storedLeaf: body.leaf_hash, previewLeaf: rebuilt.leaf_hash, seq: String(body.seq) });
      $('c-id').value = ''; // the next event gets a new id
      this.schedule();
    } catch (e) {
      setResult(box, 'bad', `✗ The server refused the event: ${e.code || 'error'}`, e.message);
    } finally {
      $('record-status').textContent = '';
      btn.disabled = !this.last;
    }
  }
}
