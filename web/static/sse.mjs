// sse.mjs — Server-Sent Events over fetch. EventSource cannot send an
// Authorization header, and the API key must never ride in a URL, so the
// page reads text/event-stream itself: this is the parser of the WHATWG
// "event stream interpretation", and a Tail that follows a stream and
// reconnects with Last-Event-ID.

/**
 * Parse an event stream. Calls onMessage({type, data, id}) for every
 * dispatched message; returns the last event id seen and the server's
 * retry hint. Comments and unknown fields are ignored, as the standard says.
 */
export async function readEvents(body, onMessage, state = {}) {
  const reader = body.getReader();
  const decoder = new TextDecoder('utf-8');
  let buf = '';
  let data = [];
  let type = '';
  let lastId = state.lastId ?? '';
  let retry = state.retry;
  const line = (l) => {
    if (l === '') {
      if (data.length) onMessage({ type: type || 'message', data: data.join('\n'), id: lastId });
      data = [];
      type = '';
      return;
    }
    if (l[0] === ':') return;
    const i = l.indexOf(':');
    const field = i < 0 ? l : l.slice(0, i);
    let value = i < 0 ? '' : l.slice(i + 1);
    if (value[0] === ' ') value = value.slice(1);
    switch (field) {
      case 'data': data.push(value); break;
      case 'event': type = value; break;
      case 'id': if (!value.includes('\0')) lastId = value; break;
      case 'retry': if (/^\d+$/.test(value)) retry = Number(value); break;
      default: break;
    }
  };
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buf += decoder.decode(value, { stream: true });
    let start = 0;
    for (let i = 0; i < buf.length; i++) {
      const c = buf[i];
      if (c === '\n' || c === '\r') {
        if (c === '\r' && i + 1 === buf.length) break; // maybe \r\n split across chunks
        line(buf.slice(start, i));
        if (c === '\r' && buf[i + 1] === '\n') i++;
        start = i + 1;
      }
    }
    buf = buf.slice(start);
  }
  state.lastId = lastId;
  state.retry = retry;
  return state;
}

/**
 * Tail follows GET path (an event stream of audit events) and reconnects
 * when it ends, resuming after the last event id. Events are handed to
 * onEvent(event) once each (deduplicated by seq); onStatus(text, kind)
 * reports the connection (kind: 'live' | 'wait' | 'bad').
 */
export class Tail {
  constructor({ client, path, params, from, onEvent, onStatus }) {
    this.client = client;
    this.path = path;
    this.params = params;
    this.from = from;
    this.onEvent = onEvent;
    this.onStatus = onStatus;
    this.state = { lastId: '', retry: 1000 };
    this.ctrl = null;
    this.stopped = false;
    this.lastSeq = from === undefined ? -1 : from - 1;
  }

  start() {
    this.stopped = false;
    this.loop();
  }

  stop() {
    this.stopped = true;
    if (this.ctrl) this.ctrl.abort();
  }

  async loop() {
    let failures = 0;
    while (!this.stopped) {
      this.ctrl = new AbortController();
      const params = new URLSearchParams(this.params);
      const headers = {};
      if (this.state.lastId) headers['Last-Event-ID'] = this.state.lastId;
      else if (this.from !== undefined) params.set('from', String(this.from));
      try {
        const res = await this.client.stream(this.path, params, headers, this.ctrl.signal);
        this.onStatus(`live — following from seq ${this.lastSeq + 1}`, 'live');
        const before = this.lastSeq;
        await readEvents(res.body, (m) => this.message(m), this.state);
        if (this.stopped) return;
        // A stream that delivered events and was cut (a slow reader)
        // resumes at once; one that ended with nothing backs off.
        failures = this.lastSeq > before ? 0 : failures + 1;
        if (!failures) {
          await new Promise((r) => setTimeout(r, 100));
          continue;
        }
      } catch (e) {
        if (this.stopped || (e && e.name === 'AbortError')) return;
        failures++;
        if (e && (e.status === 401 || e.status === 403 || e.status === 400 || e.status === 404)) {
          this.onStatus(`live mode refused: ${e.message} (${e.code})`, 'bad');
          this.stopped = true;
          return;
        }
        this.onStatus(`stream interrupted (${e && e.message}); reconnecting…`, 'wait');
      }
      const wait = Math.min(30000, (this.state.retry || 1000) * Math.max(1, failures));
      await new Promise((r) => setTimeout(r, wait));
    }
  }

  message(m) {
    let v;
    try {
      v = JSON.parse(m.data);
    } catch {
      return;
    }
    // The server ends a stream with one "error" event naming why and where
    // to resume: {"code","message","last_event_id"} (a slow reader, a
    // shutdown, a store failure). The loop then reconnects after it.
    if (m.type === 'error' || (v && v.error)) {
      const e = v.error || v;
      if (e.last_event_id) this.state.lastId = String(e.last_event_id);
      this.onStatus(`the server ended the stream (${e.code}: ${e.message}); resuming…`, 'wait');
      return;
    }
    const evs = Array.isArray(v && v.events) ? v.events : [v];
    for (const ev of evs) {
      if (!ev || typeof ev.seq !== 'number') continue;
      if (ev.seq <= this.lastSeq) continue;
      this.lastSeq = ev.seq;
      this.onEvent(ev);
    }
  }
}
