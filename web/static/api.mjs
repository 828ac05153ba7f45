// api.mjs — the HTTP API of docs/api.md, as the page uses it. The key travels
// only in the Authorization header; nothing here ever puts it in a URL.

/** An error answer of the API: {"error":{"code","message"}} and its status. */
export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
  }
}

async function errorOf(res) {
  let code = `http_${res.status}`;
  let message = `${res.status} ${res.statusText}`;
  try {
    const body = await res.json();
    if (body && body.error) {
      code = body.error.code || code;
      message = body.error.message || message;
    }
  } catch { /* not JSON */ }
  return new ApiError(res.status, code, message);
}

/** A client holding one API key. */
export class Client {
  constructor(key) {
    this.key = key;
  }

  headers(extra = {}) {
    return { Authorization: `Bearer ${this.key}`, ...extra };
  }

  /** GET path?params → parsed JSON; throws ApiError. */
  async getJSON(path, params, signal) {
    const res = await fetch(withQuery(path, params), { headers: this.headers({ Accept: 'application/json' }), signal, cache: 'no-store' });
    if (!res.ok) throw await errorOf(res);
    return res.json();
  }

  /** GET path → text; throws ApiError. */
  async getText(path, params, signal) {
    const res = await fetch(withQuery(path, params), { headers: this.headers(), signal, cache: 'no-store' });
    if (!res.ok) throw await errorOf(res);
    return res.text();
  }

  /** POST a JSON text → {status, body (parsed)}; throws ApiError on >= 400. */
  async postJSON(path, text) {
    const res = await fetch(path, {
      method: 'POST',
      headers: this.headers({ 'Content-Type': 'application/json', Accept: 'application/json' }),
      body: text,
      cache: 'no-store',
    });
    if (!res.ok) throw await errorOf(res);
    return { status: res.status, body: await res.json() };
  }

  /** GET with a streaming body (for Server-Sent Events). */
  async stream(path, params, headers, signal) {
    const res = await fetch(withQuery(path, params), {
      headers: this.headers({ Accept: 'text/event-stream', ...headers }),
      signal,
      cache: 'no-store',
    });
    if (!res.ok) throw await errorOf(res);
    return res;
  }
}

/** path with the URLSearchParams (or entries) params appended. */
export function withQuery(path, params) {
  if (!params) return path;
  const q = params instanceof URLSearchParams ? params : new URLSearchParams(params);
  const s = q.toString();
  return s ? `${path}?${s}` : path;
}
