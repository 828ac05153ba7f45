// Package monitor is the automatic "someone who kept the old checkpoint"
// (docs/tamper-evidence.md#monitor): it keeps, on disk, the last checkpoint of a stigaudit log it
// verified and the compact Merkle range of the events up to it, and on each
// round fetches the newest checkpoint, checks its signature (and the
// witness quorum, with a policy), proves it consistent with the kept one,
// reads the new events, recomputes each one's leaf hash from its content
// and the new root from the kept range, and only then moves its state on.
//
// Anything else raises an Alert with a stable Kind: a rollback (a smaller
// tree), a fork (the same size with another root, or a consistency proof
// that does not verify), a bad signature, a missing quorum, or a changed
// event (content that does not hash to its leaf, or leaves that do not
// make the signed root). The state is not moved past a bad checkpoint, so
// every later round raises the alert again until an operator acts.
package monitor
