// verify.mjs — the checks behind "verified at tree size N", shared by the
// page and the verification worker. Every cryptographic step is done by
// the WebAssembly core (sa, from stigaudit.mjs); this file only decides
// the order of the steps and names the one that failed.

/** A failed check: step names what did not match. */
export class VerifyError extends Error {
  constructor(step, message) {
    super(message);
    this.name = 'VerifyError';
    this.step = step;
  }
}

/** The event's canonical object: API form without seq and leaf_hash, nulls omitted (docs/event-format.md). */
export function canonicalObject(ev) {
  const o = {};
  for (const [k, v] of Object.entries(ev)) {
    if (k === 'seq' || k === 'leaf_hash' || k === 'stored' || v === null || v === undefined) continue;
    o[k] = v;
  }
  return o;
}

const REDACTED = /^hmac-sha256:[0-9a-f]{64}$/;

/**
 * True when the server redacted some of ev's content for this key (server
 * redaction profiles replace values with "hmac-sha256:<hex>"): such content
 * no longer hashes to the stored leaf, though the leaf itself can still be
 * proven.
 */
export function isRedacted(ev) {
  const walk = (v) => {
    if (typeof v === 'string') return REDACTED.test(v);
    if (v && typeof v === 'object') return Object.values(v).some(walk);
    return false;
  };
  return Object.entries(ev).some(([k, v]) => k !== 'leaf_hash' && walk(v));
}

/**
 * Open a signed checkpoint with the verifier key. Returns
 * {origin, tree_size, root}; throws VerifyError('checkpoint').
 */
export function openCheckpoint(sa, text, key, policy) {
  if (!key) throw new VerifyError('key', 'no verifier key: pin the node\'s key (Verifier key tab)');
  let cp;
  try {
    cp = sa.verifyCheckpoint(policy ? { checkpoint: text, key, policy } : { checkpoint: text, key });
  } catch (e) {
    if (policy && e.code === 'invalid_config') throw new VerifyError('witnesses', `the pinned witness policy is not valid: ${e.message}`);
    throw new VerifyError('checkpoint', `the checkpoint's signature does not verify with the key ${keyName(key)}: ${e.message}`);
  }
  if (cp.witnesses && !cp.witnesses.met) {
    const by = cp.witnesses.cosigned_by.length ? `only ${cp.witnesses.cosigned_by.join(', ')}` : 'no witness of the policy';
    throw new VerifyError('witnesses', `the checkpoint is cosigned by ${by}: the quorum ${cp.witnesses.quorum} is not met`);
  }
  return cp;
}

/** "cosigned by w1, w2 (quorum 2 of …)" for an opened checkpoint, or "". */
export function witnessed(cp) {
  if (!cp.witnesses) return '';
  const n = cp.witnesses.cosigned_by.length;
  return `cosigned by ${n} witness${n === 1 ? '' : 'es'} (${cp.witnesses.cosigned_by.join(', ')}; quorum ${cp.witnesses.quorum})`;
}

/** The "<name>+<hash>" part of a verifier key, for messages. */
export function keyName(key) {
  const parts = String(key).split('+');
  return parts.length >= 2 ? `${parts[0]}+${parts[1]}` : String(key).slice(0, 40);
}

/**
 * Check that event ev is the leaf at ev.seq of the tree the opened
 * checkpoint cp commits to, with the inclusion proof. Returns
 * {seq, tree_size, leaf_hash, root, redacted}; throws VerifyError naming
 * the step:
 *   'event'  the event's content does not hash to the log's leaf (for a
 *            redacted event: its stored leaf_hash is not the log's leaf);
 *   'size'   the proof is for another tree or another position;
 *   'proof'  the audit path does not lead to the checkpoint's root.
 */
export function verifyEvent(sa, ev, proof, cp) {
  if (proof.seq !== ev.seq) {
    throw new VerifyError('size', `the proof is for seq ${proof.seq}, not ${ev.seq}`);
  }
  if (proof.tree_size !== cp.tree_size) {
    throw new VerifyError('size', `the proof is for a tree of size ${proof.tree_size}, the checkpoint has size ${cp.tree_size}`);
  }
  const redacted = isRedacted(ev);
  let fast = null;
  if (!redacted) {
    // One call does it all when everything matches: the core recomputes
    // the leaf from the event and walks the path to the root.
    try {
      return { ...sa.verifyInclusion({ proof, root: cp.root, event: canonicalObject(ev) }), redacted };
    } catch (e) {
      fast = e;
    }
    // Something failed: find out what, step by step.
    let leaf;
    try {
      leaf = sa.leafHash(canonicalObject(ev));
    } catch (e) {
      throw new VerifyError('event', `the event cannot be hashed: ${e.message}`);
    }
    if (leaf !== proof.leaf_hash) {
      throw new VerifyError('event', `the event's content hashes to ${leaf}, but the log's leaf at seq ${ev.seq} is ${proof.leaf_hash}: the event shown is not the one in the log`);
    }
  } else if (ev.leaf_hash !== proof.leaf_hash) {
    throw new VerifyError('event', `the event's leaf_hash ${ev.leaf_hash} is not the log's leaf at seq ${ev.seq}, ${proof.leaf_hash}`);
  }
  try {
    const r = sa.verifyInclusion({ proof, root: cp.root });
    if (fast) throw fast; // cannot happen: the same checks passed one by one
    return { ...r, redacted };
  } catch (e) {
    throw new VerifyError('proof', `the audit path of seq ${ev.seq} does not lead to the checkpoint's root at tree size ${cp.tree_size}: ${e.message}`);
  }
}
