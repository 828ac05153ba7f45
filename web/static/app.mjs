// app.mjs — the audit preview page (docs/operations.md#browser-preview). It starts compiling the
// WebAssembly core at once, in the background, and is usable before that
// finishes: logging in, reading and filtering the log need no core; the
// drawer's proof check and the composer wait for it.

import { $, setError, setResult } from './dom.mjs';
import { ApiError, Client } from './api.mjs';
import { startCore } from './core.mjs';
import { checkHistory, Trust } from './trust.mjs';
import { LogView } from './log.mjs';
import { Drawer } from './drawer.mjs';
import { Composer } from './compose.mjs';
import { keyName, openCheckpoint, witnessed } from './verify.mjs';

performance.mark('app-start');

const SESSION_KEY = 'stigaudit.apiKey';

// The page's public configuration; its "configure" member configures the
// core as the server is configured (operator-added types, detail limits).
const configFetched = fetch('/web/config.json', { cache: 'no-store' })
  .then((r) => (r.ok ? r.json() : Promise.reject(new Error(`HTTP ${r.status}`))));

const app = {
  core: startCore(document.querySelector('meta[name="stigaudit-wasm"]').content, configFetched.then((c) => c.configure)),
  config: { event_types: [], verifier_key: '' },
  client: null,
  session: null,
  trust: new Trust(''),
  workerPromise: null,
};

/** The verification worker, created once, with the module the page compiled. */
app.worker = () => {
  if (!app.workerPromise) {
    app.workerPromise = app.core.ready.then((core) => new Promise((resolve, reject) => {
      const w = new Worker(new URL('./worker.mjs', import.meta.url), { type: 'module', name: 'stigaudit-verify' });
      const onMsg = (e) => {
        if (e.data.type === 'ready') {
          w.removeEventListener('message', onMsg);
          resolve(w);
        } else if (e.data.type === 'error') {
          w.removeEventListener('message', onMsg);
          reject(new Error(e.data.message));
        }
      };
      w.addEventListener('message', onMsg);
      w.addEventListener('error', (e) => reject(new Error(`the verification worker failed: ${e.message}`)));
      w.postMessage({ type: 'init', module: core.module, configure: core.configure });
    }));
    app.workerPromise.catch(() => { app.workerPromise = null; });
  }
  return app.workerPromise;
};

app.log = new LogView(app);
app.drawer = new Drawer(app);
app.composer = new Composer(app);

// --- the core's status in the header ---------------------------------------
app.core.ready.then((core) => {
  const s = $('core-status');
  s.textContent = `core ready · ${Math.round(core.ms)} ms${core.configure === undefined ? ' · built-in catalogue' : ''}`;
  s.dataset.state = 'ready';
  s.title = core.configure === undefined
    ? 'the stigaudit WebAssembly core runs in this page, but without the server\'s configuration: operator-added event types and the server\'s detail limits are unknown to the composer'
    : 'the stigaudit WebAssembly core is compiled and instantiated in this page, configured as the server is (its event types and detail limits)';
  document.documentElement.dataset.core = 'ready';
}, (e) => {
  const s = $('core-status');
  s.textContent = 'core failed to load';
  s.title = e.message;
  s.dataset.state = 'failed';
  document.documentElement.dataset.core = 'failed';
});

// --- configuration (public) -------------------------------------------------
const configLoaded = configFetched
  .then((c) => {
    app.config = c;
    app.trust = new Trust(c.verifier_key);
    const dl = $('event-types');
    dl.replaceChildren(...c.event_types.map((t) => new Option('', t.name)));
    renderTrust();
  })
  .catch((e) => console.warn('stigaudit: no page configuration:', e.message));

// --- tabs -------------------------------------------------------------------
const tabs = ['log', 'compose', 'trust'];
function selectTab(name, focus) {
  for (const t of tabs) {
    const tab = $(`tab-${t}`);
    const on = t === name;
    tab.setAttribute('aria-selected', String(on));
    tab.tabIndex = on ? 0 : -1;
    $(`view-${t}`).hidden = !on;
    if (on && focus) tab.focus();
  }
  if (name === 'compose') app.composer.init();
  if (name === 'trust') renderTrust();
}
for (const t of tabs) $(`tab-${t}`).addEventListener('click', () => selectTab(t));
$('tabs').addEventListener('keydown', (e) => {
  const i = tabs.findIndex((t) => $(`tab-${t}`).getAttribute('aria-selected') === 'true');
  let j = i;
  if (e.key === 'ArrowRight') j = (i + 1) % tabs.length;
  else if (e.key === 'ArrowLeft') j = (i + tabs.length - 1) % tabs.length;
  else if (e.key === 'Home') j = 0;
  else if (e.key === 'End') j = tabs.length - 1;
  else return;
  e.preventDefault();
  selectTab(tabs[j], true);
});

// --- global keys --------------------------------------------------------------
document.addEventListener('keydown', (e) => {
  const typing = /^(INPUT|TEXTAREA|SELECT)$/.test(e.target.tagName);
  if (e.key === 'Escape' && app.drawer.isOpen) {
    e.preventDefault();
    app.drawer.close();
  } else if (e.key === '/' && !typing && app.session) {
    e.preventDefault();
    selectTab('log');
    $('f-event_type').focus();
  }
});

// --- login --------------------------------------------------------------------
async function openSession(key) {
  const client = new Client(key);
  const res = await fetch('/web/session', { headers: client.headers(), cache: 'no-store' });
  if (!res.ok) {
    let msg = `HTTP ${res.status}`;
    let code = '';
    try {
      const b = await res.json();
      msg = b.error.message;
      code = b.error.code;
    } catch { /* keep the status */ }
    throw new ApiError(res.status, code, msg);
  }
  app.client = client;
  app.session = await res.json();
  sessionStorage.setItem(SESSION_KEY, key);
  showMain();
  await app.log.apply();
  performance.mark('log-rendered');
  // Warm the worker up while the operator reads.
  app.core.ready.then(() => app.worker()).catch(() => {});
}

function showMain() {
  const s = app.session;
  $('login').hidden = true;
  $('tabs').hidden = false;
  $('logout').hidden = false;
  $('who').textContent = `${s.entity_uri} · ${s.tenant_id} · ${s.perms.join(',')}`;
  for (const n of document.querySelectorAll('.admin-only')) n.hidden = !s.can.admin;
  selectTab('log');
  // On a small screen the table matters more than the filter form.
  if (window.matchMedia('(max-width: 560px)').matches) $('filters-box').open = false;
  document.documentElement.dataset.session = 'open';
}

$('login-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  performance.mark('login-submit');
  const input = $('api-key');
  const key = input.value.trim();
  setError($('login-error'), '');
  if (!key) {
    setError($('login-error'), 'Paste an API key first.');
    return;
  }
  try {
    await openSession(key);
    input.value = '';
  } catch (err) {
    const why = err.status === 401
      ? 'The server refused this key: it is unknown, revoked or mistyped.'
      : `Could not open the log: ${err.message}`;
    setError($('login-error'), why);
    input.select();
  }
});

$('logout').addEventListener('click', () => {
  sessionStorage.removeItem(SESSION_KEY);
  location.reload();
});

// --- the verifier key tab ---------------------------------------------------------
function renderTrust() {
  const t = app.trust;
  $('t-active').textContent = t.active() || 'none';
  $('t-source').textContent = t.source() ? `(${t.source()})` : '';
  $('t-advertised').textContent = t.advertised || 'none (the operator must paste it)';
  $('t-pinned').textContent = t.pinned || 'none';
  $('t-pin-advertised').disabled = !t.advertised || t.pinned === t.advertised;
  $('t-unpin').disabled = !t.pinned;
  $('t-policy-quorum').textContent = t.policy ? policySummary(t.policy) : 'none: checkpoints are checked against the log\'s key only';
  $('t-unpin-policy').disabled = !t.policy;
  setError($('t-warning'), t.mismatch()
    ? 'This server advertises a different verifier key than the one pinned in this browser. Proofs are checked with the pinned key; ask the node\'s operator which key is right before unpinning.'
    : '');
}

let keyCheck = 0; // the newest checkKey: an older one still running must not overwrite its answer

/** "witnesses w1, w2, w3 · group two: 2 of w1 w2 w3 · quorum two" for a pinned policy. */
function policySummary(text) {
  const witnesses = [];
  const parts = [];
  for (const raw of text.split('\n')) {
    const f = raw.replace(/#.*/, '').trim().split(/\s+/).filter(Boolean);
    if (f[0] === 'witness') witnesses.push(f[1]);
    else if (f[0] === 'group') parts.push(`group ${f[1]}: ${f[2]} of ${f.slice(3).join(' ')}`);
    else if (f[0] === 'quorum') parts.push(`quorum ${f[1]}`);
  }
  return [`witnesses ${witnesses.join(', ') || 'none'}`, ...parts].join(' · ');
}

async function checkKey() {
  const box = $('t-check');
  const gen = ++keyCheck;
  const key = app.trust.active();
  if (!key || !app.client) {
    box.hidden = true;
    return;
  }
  setResult(box, 'wait', 'Checking the latest checkpoint with this key…');
  try {
    const core = await app.core.ready;
    const text = await app.client.getText('/v1/audit/checkpoint');
    const cp = openCheckpoint(core.sa, text, key, app.trust.policy);
    const last = await checkHistory(app.client, core.sa, key, cp);
    if (gen !== keyCheck) return;
    setResult(box, 'ok', `✓ The latest checkpoint (tree size ${cp.tree_size}) is signed by this key${cp.witnesses ? ' and ' + witnessed(cp) : ''}`, `root ${cp.root}`,
      last ? `It extends the checkpoint of tree size ${last.tree_size} this browser verified before (consistency proof checked).` : '');
  } catch (e) {
    if (gen !== keyCheck) return;
    setResult(box, 'bad', '✗ The latest checkpoint does not verify with this key', e.message);
  }
}

$('trust-form').addEventListener('submit', (e) => {
  e.preventDefault();
  setError($('t-error'), '');
  try {
    app.trust.pin($('t-key').value);
    $('t-key').value = '';
  } catch (err) {
    setError($('t-error'), `Refused: ${err.message}.`);
    return;
  }
  renderTrust();
  checkKey();
});
$('t-pin-advertised').addEventListener('click', () => {
  setError($('t-error'), '');
  try {
    app.trust.pin(app.trust.advertised);
  } catch (err) {
    setError($('t-error'), `Refused: ${err.message}.`);
    return;
  }
  renderTrust();
  checkKey();
});
$('t-unpin').addEventListener('click', () => {
  app.trust.unpin();
  renderTrust();
  checkKey();
});
$('policy-form').addEventListener('submit', (e) => {
  e.preventDefault();
  setError($('t-policy-error'), '');
  try {
    app.trust.pinPolicy($('t-policy').value);
    $('t-policy').value = '';
  } catch (err) {
    setError($('t-policy-error'), `Refused: ${err.message}.`);
    return;
  }
  renderTrust();
  checkKey();
});
$('t-unpin-policy').addEventListener('click', () => {
  app.trust.unpinPolicy();
  renderTrust();
  checkKey();
});
// --- a dropped or pasted receipt, checked by the core -------------------------------
async function checkReceipt(text) {
  const box = $('r-result');
  const key = app.trust.active();
  if (!key) {
    setResult(box, 'bad', '✗ No verifier key', 'Pin the node\'s verifier key above first.');
    return;
  }
  try {
    const core = await app.core.ready;
    if (typeof core.sa.verifyReceipt !== 'function') throw new Error('this module has no verify_receipt');
    const input = { receipt: text, key };
    if (app.trust.policy) input.policy = app.trust.policy;
    const r = core.sa.verifyReceipt(input);
    if (r.witnesses && !r.witnesses.met) {
      const by = r.witnesses.cosigned_by.length ? `only ${r.witnesses.cosigned_by.join(', ')}` : 'no witness of the policy';
      setResult(box, 'bad', '✗ Witness quorum not met', `The checkpoint is cosigned by ${by}: the quorum ${r.witnesses.quorum} is not met.`);
      return;
    }
    setResult(box, 'ok', `✓ Event ${r.id} (${r.event_type}) is entry ${r.seq} of the log`,
      `in a checkpoint of ${r.origin}, tree size ${r.tree_size}, root ${r.root}, signed by ${keyName(key)}` +
      `${r.witnesses ? `, ${witnessed({ witnesses: r.witnesses })}` : ''}; checked here by the WebAssembly core.`);
  } catch (e) {
    setResult(box, 'bad', '✗ The receipt does not verify', e.message);
  }
}

$('receipt-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  const file = $('r-file').files && $('r-file').files[0];
  const text = file ? await file.text() : $('r-text').value;
  checkReceipt(text);
});
$('r-file').addEventListener('change', async () => {
  const file = $('r-file').files && $('r-file').files[0];
  if (file) checkReceipt(await file.text());
});
const trustView = $('view-trust');
trustView.addEventListener('dragover', (e) => e.preventDefault());
trustView.addEventListener('drop', async (e) => {
  e.preventDefault();
  const file = e.dataTransfer && e.dataTransfer.files && e.dataTransfer.files[0];
  if (file) checkReceipt(await file.text());
});

$('tab-trust').addEventListener('click', () => checkKey());

// --- start ------------------------------------------------------------------------
(async () => {
  const saved = sessionStorage.getItem(SESSION_KEY);
  if (saved) {
    $('login').hidden = true;
    try {
      await configLoaded;
      await openSession(saved);
    } catch (err) {
      sessionStorage.removeItem(SESSION_KEY);
      $('login').hidden = false;
      setError($('login-error'), err.status === 401 ? 'The saved key is no longer accepted; paste a key.' : `Could not open the log: ${err.message}`);
    }
  } else {
    $('api-key').focus();
  }
  performance.mark('ui-ready');
  document.documentElement.dataset.ui = 'ready';
})();
