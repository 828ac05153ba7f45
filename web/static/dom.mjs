// dom.mjs — small DOM helpers. Every value from the server or the operator
// is inserted as text (textContent), never as HTML.

/** The element with this id. */
export const $ = (id) => document.getElementById(id);

/** Create an element: el('td', {class: 'x'}, 'text', child...). */
export function el(tag, attrs = {}, ...children) {
  const n = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') n.className = v;
    else if (k === 'text') n.textContent = v;
    else if (k.startsWith('data-')) n.setAttribute(k, v);
    else if (k in n && typeof v !== 'string') n[k] = v;
    else n.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children) {
    if (c === null || c === undefined) continue;
    n.append(c instanceof Node ? c : String(c));
  }
  return n;
}

/**
 * Show a result box: state 'ok' (green), 'bad' (red), 'wait' (amber) or ''
 * (neutral); title in bold, then lines of text.
 */
export function setResult(box, state, title, ...lines) {
  box.hidden = false;
  for (const k of Object.keys(box.dataset)) delete box.dataset[k];
  box.dataset.state = state;
  box.replaceChildren(el('strong', { text: title }), ...lines.filter(Boolean).map((l) => (l instanceof Node ? l : el('div', { text: l }))));
}

/** Show or hide an error paragraph. */
export function setError(p, message) {
  p.hidden = !message;
  p.textContent = message || '';
}

/** A short form of a long hex string. */
export function short(hex, n = 12) {
  return hex && hex.length > n + 3 ? `${hex.slice(0, n)}…` : hex;
}
