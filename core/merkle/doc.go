// Package merkle is the RFC 6962 / RFC 9162 Merkle tree of the audit log.
//
// The leaves of the tree are the events of one node's log in seq order: leaf
// i is the event with seq i, and its hash is SHA-256(0x00 ‖ canonical event)
// (see package event). An interior node is SHA-256(0x01 ‖ left ‖ right). The
// root of the first n leaves commits to those n events, and a signed
// checkpoint (package checkpoint) publishes such a root.
//
// Two kinds of proof make the tree useful to someone who does not hold the
// whole log:
//
//   - an inclusion proof shows that the event at a seq is leaf seq of the
//     tree of a given size, i.e. it is covered by a checkpoint of that size;
//   - a consistency proof shows that the tree of size n is a prefix of the
//     tree of size m, i.e. nothing signed at size n was changed later.
//
// Which nodes a proof is built from comes from
// github.com/transparency-dev/merkle; roots (Tree) and proof verification
// are this package's own code on [32]byte values, held to that library and
// to RFC 6962 by the tests, so that the WebAssembly module links neither
// the library's fmt-built errors nor fmt. The package fixes the hash to
// SHA-256 and shapes the API around how a host stores the tree. A host keeps every perfect subtree hash
// ("tree node", identified by NodeID level and index; level 0 holds the leaf
// hashes) — Tree.AppendVisit reports each new one. To build a proof the host
// asks which nodes are needed (InclusionNodes, ConsistencyNodes), fetches
// them in one query, and turns them into the RFC 6962 proof (Inclusion,
// Consistency), or passes a fetch function to ProveInclusion and
// ProveConsistency which do both steps. The package itself does no I/O, so
// the same code runs natively and in WebAssembly.
//
// Verification (VerifyInclusion, VerifyConsistency) needs only the proof and
// the roots; its errors wrap auditerr.ErrInvalidProof. InclusionProof and
// ConsistencyProof are the JSON forms of the HTTP API and the WASM ABI,
// encoded and decoded by hand (no reflection):
//
//	{"seq":5,"tree_size":8,"leaf_hash":"<hex>","hashes":["<hex>",...]}
//	{"from":6,"to":8,"hashes":["<hex>",...]}
package merkle
