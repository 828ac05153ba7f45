// log.mjs — the log view: §7 filters, cursor paging ("load more" appends),
// live mode on GET /v1/audit/stream, keyboard navigation, and the bulk
// verification of the loaded events by the worker.

import { $, el, setError } from './dom.mjs';
import { Tail } from './sse.mjs';
import { checkHistory } from './trust.mjs';

const TEXT_FILTERS = ['entity_uri', 'oidc_sub', 'source', 'fact_id', 'scope', 'since', 'until'];

export class LogView {
  constructor(app) {
    this.app = app;
    this.events = []; // newest first, as shown
    this.bySeq = new Map();
    this.marks = new Map(); // seq → {state, reason}
    this.params = new URLSearchParams();
    this.cursor = null;
    this.tail = null;
    this.loading = false;
    this.job = 0;
    this.tbody = $('events').tBodies[0];

    $('filters').addEventListener('submit', (e) => {
      e.preventDefault();
      this.apply();
    });
    $('f-reset').addEventListener('click', () => {
      $('filters').reset();
      this.apply();
    });
    $('more').addEventListener('click', () => this.more());
    $('live').addEventListener('change', () => this.setLive($('live').checked));
    $('verify-all').addEventListener('click', () => this.verifyAll());
    this.tbody.addEventListener('click', (e) => {
      const tr = e.target.closest('tr');
      if (tr) this.open(tr);
    });
    this.tbody.addEventListener('keydown', (e) => this.onKey(e));
  }

  /** Read the filter form into query parameters. */
  readFilters() {
    const p = new URLSearchParams();
    for (const t of $('f-event_type').value.split(/[\s,]+/)) if (t) p.append('event_type', t);
    for (const name of TEXT_FILTERS) {
      const v = $(`f-${name}`).value.trim();
      if (v) p.set(name, v);
    }
    for (const name of ['outcome', 'attested']) {
      const v = $(`f-${name}`).value;
      if (v) p.set(name, v);
    }
    const limit = $('f-limit').value.trim();
    if (limit && limit !== '100') p.set('limit', limit);
    if (this.app.session.can.admin) {
      const t = $('f-tenant_id').value.trim();
      if (t) p.set('tenant_id', t);
    }
    return p;
  }

  /** Apply the filters: reload from the newest event. */
  async apply() {
    this.params = this.readFilters();
    const active = [...new Set(this.params.keys())].filter((k) => k !== 'limit');
    $('filters-active').textContent = active.length ? `(${active.join(', ')})` : '';
    this.cursor = null;
    this.events = [];
    this.bySeq.clear();
    this.tbody.replaceChildren();
    const wasLive = !!this.tail;
    this.setLive(false);
    await this.fetchPage();
    if (wasLive) this.setLive(true);
  }

  async more() {
    if (this.cursor) await this.fetchPage();
  }

  async fetchPage() {
    if (this.loading) return;
    this.loading = true;
    $('more').disabled = true;
    setError($('list-error'), '');
    try {
      const q = new URLSearchParams(this.params);
      if (this.cursor) q.set('cursor', this.cursor);
      const page = await this.app.client.getJSON('/v1/audit', q);
      const first = this.events.length === 0;
      this.append(page.events);
      this.cursor = page.has_more ? page.next_cursor : null;
      if (first && !this.tbody.querySelector('tr[tabindex="0"]') && this.tbody.rows.length) this.tbody.rows[0].tabIndex = 0;
    } catch (e) {
      setError($('list-error'), `The server refused the query: ${e.message}${e.code ? ` (${e.code})` : ''}`);
    } finally {
      this.loading = false;
      $('more').disabled = false;
      $('more').hidden = !this.cursor;
      this.updateCount();
    }
  }

  append(evs) {
    const frag = document.createDocumentFragment();
    for (const ev of evs) {
      if (this.bySeq.has(ev.seq)) continue;
      this.bySeq.set(ev.seq, ev);
      this.events.push(ev);
      frag.append(this.row(ev));
    }
    this.tbody.append(frag);
  }

  /** A live event: newest first, so it goes on top. */
  prepend(ev) {
    if (this.bySeq.has(ev.seq)) return;
    this.bySeq.set(ev.seq, ev);
    this.events.unshift(ev);
    const tr = this.row(ev);
    tr.classList.add('fresh');
    this.tbody.prepend(tr);
    if (!this.tbody.querySelector('tr[tabindex="0"]')) tr.tabIndex = 0;
    this.updateCount();
  }

  row(ev) {
    const mark = this.marks.get(ev.seq);
    const tr = el('tr', { 'data-seq': String(ev.seq), tabindex: '-1' },
      el('td', { text: String(ev.seq) }),
      el('td', { text: ev.ts.replace('T', ' ') }),
      el('td', { text: ev.event_type }),
      el('td', {}, el('span', { class: `outcome outcome-${ev.outcome}`, text: ev.outcome })),
      el('td', { class: 'mid', text: ev.entity_uri, title: ev.entity_uri }),
      el('td', { class: 'wide', text: ev.fact_id ?? '', title: ev.fact_id ?? '' }),
      el('td', { class: 'wide', text: ev.source, title: ev.source }),
      el('td', { class: 'proof' }));
    tr.setAttribute('aria-label', `seq ${ev.seq}, ${ev.event_type}, ${ev.outcome}, ${ev.entity_uri}`);
    if (mark) this.paintMark(tr, mark);
    return tr;
  }

  /** Record and show a verification result for seq. */
  mark(seq, state, reason) {
    const m = { state, reason };
    this.marks.set(seq, m);
    const tr = this.tbody.querySelector(`tr[data-seq="${seq}"]`);
    if (tr) this.paintMark(tr, m);
  }

  paintMark(tr, m) {
    const td = tr.cells[7];
    td.className = `proof mark-${m.state}`;
    td.textContent = m.state === 'ok' ? '✓' : m.state === 'bad' ? '✗' : '…';
    td.title = m.state === 'ok' ? 'inclusion verified in this browser' : (m.reason || '');
    tr.dataset.proof = m.state;
  }

  updateCount() {
    const n = this.events.length;
    $('count').textContent = `${n} event${n === 1 ? '' : 's'} shown${this.cursor ? ', more available' : ''}`;
  }

  /** Keyboard: a roving tabindex over the rows. */
  onKey(e) {
    const tr = e.target.closest('tr');
    if (!tr) return;
    const rows = this.tbody.rows;
    let i = tr.sectionRowIndex;
    switch (e.key) {
      case 'ArrowDown': i = Math.min(rows.length - 1, i + 1); break;
      case 'ArrowUp': i = Math.max(0, i - 1); break;
      case 'Home': i = 0; break;
      case 'End': i = rows.length - 1; break;
      case 'PageDown': i = Math.min(rows.length - 1, i + 10); break;
      case 'PageUp': i = Math.max(0, i - 10); break;
      case 'Enter':
      case ' ':
        e.preventDefault();
        this.open(tr);
        return;
      default: return;
    }
    e.preventDefault();
    this.focusRow(rows[i]);
  }

  focusRow(tr) {
    if (!tr) return;
    for (const r of this.tbody.querySelectorAll('tr[tabindex="0"]')) r.tabIndex = -1;
    tr.tabIndex = 0;
    tr.focus();
  }

  open(tr) {
    this.focusRow(tr);
    const ev = this.bySeq.get(Number(tr.dataset.seq));
    if (ev) this.app.drawer.open(ev, tr);
  }

  /** Live mode: follow the stream from just after the newest event shown. */
  setLive(on) {
    $('live').checked = on;
    if (this.tail) {
      this.tail.stop();
      this.tail = null;
    }
    const status = $('live-status');
    if (!on) {
      status.textContent = '';
      return;
    }
    const p = new URLSearchParams(this.params);
    p.delete('limit');
    p.delete('cursor');
    let max = -1;
    for (const ev of this.events) max = Math.max(max, ev.seq);
    this.tail = new Tail({
      client: this.app.client,
      path: '/v1/audit/stream',
      params: p,
      from: max >= 0 ? max + 1 : undefined,
      onEvent: (ev) => this.prepend(ev),
      onStatus: (text, kind) => {
        status.textContent = text;
        status.dataset.state = kind;
        if (kind === 'bad') $('live').checked = false;
      },
    });
    status.textContent = 'connecting…';
    this.tail.start();
  }

  /** Verify every loaded event's inclusion proof in the worker. */
  async verifyAll() {
    const status = $('verify-status');
    const btn = $('verify-all');
    const app = this.app;
    const key = app.trust.active();
    if (!key) {
      status.textContent = 'no verifier key: pin one in the Verifier key tab';
      return;
    }
    if (!this.events.length) {
      status.textContent = 'no events to verify';
      return;
    }
    btn.disabled = true;
    const job = ++this.job;
    const t0 = performance.now();
    try {
      status.textContent = 'waiting for the core…';
      const worker = await app.worker();
      const events = this.events.slice();
      // The export gives every proof in one answer, but needs audit.read.
      const canExport = !!app.session.can['audit.read'];
      const params = this.params.toString();
      status.textContent = `verifying 0 of ${events.length}…`;
      const result = await new Promise((resolve, reject) => {
        const onMsg = (e) => {
          const m = e.data;
          if (m.job !== job) return;
          if (m.type === 'progress') {
            for (const r of m.results) this.mark(r.seq, r.state, r.reason);
            status.textContent = `verifying ${m.done} of ${m.total}…`;
          } else if (m.type === 'done') {
            worker.removeEventListener('message', onMsg);
            resolve(m);
          } else if (m.type === 'error') {
            worker.removeEventListener('message', onMsg);
            reject(new Error(m.message));
          }
        };
        worker.addEventListener('message', onMsg);
        worker.postMessage({ type: 'verify', job, apiKey: app.client.key, key, policy: app.trust.policy, events, params, canExport });
      });
      const ms = performance.now() - t0;
      performance.measure('verify-all', { start: t0, duration: ms });
      const core = await app.core.ready;
      await checkHistory(app.client, core.sa, key, { tree_size: result.tree_size, root: result.root });
      const parts = [`${result.verified} verified at tree size ${result.tree_size}`];
      if (result.failed) parts.push(`${result.failed} FAILED`);
      if (result.pending) parts.push(`${result.pending} not yet in a checkpoint`);
      const how = {
        export: 'proofs from one export', list: 'proofs with the list', proofs: 'one proof request per event',
      }[result.via] || `proofs by ${result.via.replaceAll('+', ', then ')}`;
      status.textContent = `${result.failed ? '✗' : '✓'} ${parts.join(', ')} — ${Math.round(ms)} ms (${how}; core ${Math.round(result.verify_ms)} ms)`;
      status.title = result.fallback ? `the export was not used: ${result.fallback}` : '';
      status.dataset.state = result.failed ? 'bad' : 'ok';
      Object.assign(status.dataset, {
        ms: ms.toFixed(1), verifyMs: result.verify_ms.toFixed(1), verified: String(result.verified),
        failed: String(result.failed), pending: String(result.pending), treeSize: String(result.tree_size), via: result.via,
      });
    } catch (e) {
      status.textContent = `✗ ${e.message}`;
      status.dataset.state = 'bad';
    } finally {
      btn.disabled = false;
    }
  }
}
