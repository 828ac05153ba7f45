// trust.mjs — which checkpoint verifier key the page trusts. The server
// advertises its key (GET /web/config.json), but a page that believed only
// the server would prove nothing against a lying server: the operator pins
// a key obtained out of band, kept in localStorage (it is public), and a
// server advertising another key is flagged.

import { VerifyError } from './verify.mjs';

const PIN = 'stigaudit.verifierKey';
const POLICY = 'stigaudit.witnessPolicy';

/**
 * Check the form of a C2SP tlog-policy (witness, group, quorum and log
 * lines); returns the trimmed text or throws an Error naming what is wrong.
 * The core parses it whole (keys, groups, thresholds) when it opens a
 * checkpoint with it.
 */
export function parsePolicy(text) {
  const p = String(text || '').trim();
  let quorum = false;
  for (const raw of p.split('\n')) {
    const f = raw.replace(/#.*/, '').trim().split(/\s+/).filter(Boolean);
    if (!f.length) continue;
    if (f[0] === 'quorum') quorum = f.length === 2;
    else if (f[0] === 'witness' && f.length !== 3 && f.length !== 4) throw new Error(`"${raw.trim()}": a witness line is witness NAME KEY [URL]`);
    else if (!['log', 'witness', 'group', 'quorum'].includes(f[0])) throw new Error(`unknown keyword "${f[0]}"`);
  }
  if (!quorum) throw new Error('a policy needs a quorum line');
  return p;
}

/**
 * Check the form of a verifier key "<name>+<8 hex>+<base64 of 0x01 ‖ 32
 * bytes>" (an Ed25519 note verifier key); returns the trimmed key or
 * throws an Error naming what is wrong. The core checks the rest (the key
 * hash and the signatures) when it opens a checkpoint.
 */
export function parseVerifierKey(text) {
  const k = String(text || '').trim();
  const m = /^([^+]*)\+([^+]*)\+(.*)$/.exec(k); // the name has no '+'; base64 may
  if (!m) throw new Error('a verifier key has three parts, <name>+<hash>+<key>');
  const [, name, hash, b64] = m;
  if (!name || /\s/.test(name)) throw new Error('the key name is empty or has spaces');
  if (!/^[0-9a-f]{8}$/.test(hash)) throw new Error('the key hash must be 8 lower-case hex digits');
  let raw;
  try {
    raw = atob(b64);
  } catch {
    throw new Error('the key is not base64');
  }
  if (raw.length !== 33 || raw.charCodeAt(0) !== 1) throw new Error('the key is not an Ed25519 verifier key (33 bytes starting with 0x01)');
  return k;
}

export class Trust {
  constructor(advertised) {
    this.advertised = advertised || '';
    this.pinned = localStorage.getItem(PIN) || '';
    this.policy = localStorage.getItem(POLICY) || '';
  }

  pinPolicy(text) {
    const p = parsePolicy(text);
    localStorage.setItem(POLICY, p);
    this.policy = p;
    return p;
  }

  unpinPolicy() {
    localStorage.removeItem(POLICY);
    this.policy = '';
  }

  /** The key used for verification: the pinned one, else the advertised one. */
  active() { return this.pinned || this.advertised; }

  /** Where the active key comes from. */
  source() {
    if (this.pinned) return 'pinned in this browser';
    if (this.advertised) return 'advertised by this server, not pinned';
    return '';
  }

  /** True when the pinned key and the server's differ. */
  mismatch() { return !!(this.pinned && this.advertised && this.pinned !== this.advertised); }

  pin(text) {
    const k = parseVerifierKey(text);
    localStorage.setItem(PIN, k);
    this.pinned = k;
    return k;
  }

  unpin() {
    localStorage.removeItem(PIN);
    this.pinned = '';
  }
}

const SEEN = 'stigaudit.checkpointsSeen';

/**
 * Check that checkpoint cp (opened with key) extends the largest one this
 * browser verified before with the same key, and remember cp. A log that
 * was rolled back, rewritten or shown differently (a fork, a split view)
 * is caught the next time the operator looks, with an RFC 6962
 * consistency proof (GET /v1/audit/proof/consistency) checked by the core.
 * Returns the previous checkpoint ({tree_size, root}) or null; throws
 * VerifyError('history') naming what does not match.
 */
export async function checkHistory(client, sa, key, cp) {
  let all = {};
  try {
    all = JSON.parse(localStorage.getItem(SEEN) || '{}') || {};
  } catch { /* start over */ }
  const last = all[key] || null;
  if (last) {
    if (cp.tree_size < last.tree_size) {
      throw new VerifyError('history', `the server's latest checkpoint (tree size ${cp.tree_size}) is older than one this browser verified before (tree size ${last.tree_size}): the log was rolled back, or this is another view of it`);
    }
    if (cp.tree_size === last.tree_size && cp.root !== last.root) {
      throw new VerifyError('history', `the checkpoint of tree size ${cp.tree_size} has root ${cp.root}, but this browser verified root ${last.root} at the same size: the log was forked`);
    }
    if (cp.tree_size > last.tree_size) {
      const proof = await client.getJSON('/v1/audit/proof/consistency', { from: String(last.tree_size), to: String(cp.tree_size) });
      try {
        sa.verifyConsistency({ proof, root1: last.root, root2: cp.root });
      } catch (e) {
        throw new VerifyError('history', `the log at tree size ${cp.tree_size} does not extend the one of tree size ${last.tree_size} this browser verified before: ${e.message}`);
      }
    }
  }
  if (!last || cp.tree_size > last.tree_size) {
    all[key] = { tree_size: cp.tree_size, root: cp.root };
    localStorage.setItem(SEEN, JSON.stringify(all));
  }
  return last;
}
