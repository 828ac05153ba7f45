// trust.mjs — which checkpoint verifier key the page trusts. The server
// advertises its key (GET /web/config.json), but a page that believed only
// the server would prove nothing against a lying server: the operator pins
// a key obtained out of band, kept in localStorage (it is public), and a
// server advertising another key is flagged.

const PIN = 'stigaudit.verifierKey';

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
