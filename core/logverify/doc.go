// Package logverify checks a whole audit log offline: every event, in seq
// order, against its own leaf hash, against the Merkle tree it builds, and
// against signed checkpoints. It is the pure heart of `stigaudit verify`
// (on a database or an NDJSON export) and of verification in the browser.
//
// A Verifier is fed events one at a time, oldest first, and keeps O(log n)
// state plus one small buffer, so it verifies logs of any length at the
// speed of SHA-256. It stops at the first problem and names it: the first
// bad seq and a reason code.
//
//	v, err := logverify.New(logverify.Config{
//		LeafHash:   func(e *event.Event) [32]byte { return event.LeafHash(event.AppendCanonical(nil, e)) },
//		Key:        verifier,     // from checkpoint.NewVerifier
//		Checkpoint: signedNote,   // the checkpoint to verify against
//		Older:      [][]byte{old}, // optional: checkpoints seen earlier
//	})
//	for each event e { if v.Add(&e) != nil { break } }
//	report := v.Finish()
//
// # What is detected, and where
//
// Each check names the seq at which the log first stops being the log that
// was signed (FirstBadSeq), with a Reason:
//
//   - leaf_mismatch: the stored leaf_hash is not the hash of the event's
//     content (a field was edited, e.g. one byte of detail);
//   - seq_gap: a seq is missing (an event was deleted, or events were
//     reordered); FirstBadSeq is the missing seq;
//   - seq_repeated: a seq that was already seen appears again (a duplicate,
//     or reordering); FirstBadSeq is the seq that was expected instead;
//   - beyond_checkpoint: there are more events than the checkpoint covers
//     (events appended without a signature; a verifier of a growing
//     database should read only the seqs below the checkpoint's size);
//   - truncated: fewer events than a checkpoint covers;
//   - root_mismatch: every event matches its own leaf hash and the seqs are
//     contiguous, but the tree root is not the one the checkpoint signed
//     (events swapped together with their seqs, or rewritten together with
//     their leaf hashes);
//   - inconsistent_history: the first Size events do not have the root of an
//     older checkpoint, so history signed earlier was rewritten;
//   - tree_node_mismatch: a stored tree node (see below) disagrees with the
//     tree rebuilt from the events;
//   - bad_checkpoint: a checkpoint's signature, origin or format is wrong;
//     nothing was verified against it;
//   - nodes_unavailable: stored tree nodes could not be read.
//
// The first four name the exact seq from the events alone. A root mismatch
// cannot: the root commits to all leaves at once, and an export carries
// nothing else to compare with. From an export alone the Verifier narrows it
// to a range, [size of the largest older checkpoint that verified, size of
// the failing checkpoint), reported as FirstBadSeq..BadUntil; several older
// checkpoints narrow it further.
//
// # Locating with stored tree nodes
//
// A database also keeps every perfect subtree hash as it was computed at
// append time (tree_nodes). Given Config.Nodes, the Verifier compares the
// tree it rebuilds with the stored one: every stored node at level 10
// (1024 leaves) and above as soon as it is complete — about two reads per
// 1024 events — and, inside a 1024-leaf chunk that disagrees and in the
// last partial chunk, every node down to the leaves in one read. Of the
// nodes that disagree, it reports the one that ends first (the lowest on a
// tie), so FirstBadSeq is exact (BadUntil = FirstBadSeq+1) when the
// attacker left the stored leaf hashes alone, and a range as narrow as the
// lowest level they did not rewrite otherwise. What cannot be located:
// tampering that rewrote the events and every stored node up to the top
// consistently — then only the checkpoint root (and older checkpoints)
// disagree, and the range above is all that can be said. The comparison is
// not a full audit of tree_nodes: stored nodes below level 10 are read only
// where a chunk disagrees.
package logverify
