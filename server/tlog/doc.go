// Package tlog makes the server's audit log a transparency log: it signs
// checkpoints of the stored Merkle tree, keeps every one of them, and serves
// the proofs that tie events and older checkpoints to them (docs/tamper-evidence.md#checkpoints, docs/api.md).
//
// The store (hostfns/sqlitestore) already keeps, in the transaction of
// every append, each perfect subtree hash of the RFC 6962 tree
// (tree_nodes). This package only reads that tree; it never writes it.
//
// # The key
//
// A log is named by its origin (docs/tamper-evidence.md#origin) and signs with an Ed25519 key of
// the same name, created on first start in the data directory as
// checkpoint.key (mode 0600; LoadOrCreateKeyFor). The origin is the
// operator's `--origin` or, by default, generated once for the log:
// "stigaudit/<node>/<8 random hex>", so that two deployments never share
// one (a witness keeps its state by origin). The node name comes from
// `--node` (STIGAUDIT_NODE, default "local": deliberately not the host
// name, so moving a data directory does not rename the log). The origin is
// kept with the log twice over: in the key's name and in every checkpoint
// stored in the database, which replicas share and which must open with the
// key. A key made for another node or origin, or readable by others, is
// refused; keys made before origins were generated keep "stigaudit/<node>".
// The public verifier key "<name>+<hash>+<base64>" is derived from the
// private key (ParseKey) and printed by `stigaudit keys checkpoint-key`; it
// is what clients and `stigaudit verify --key` hold.
//
// # The checkpointer
//
// A Checkpointer polls the log's size (every 100 ms) and, while it grows,
// signs a C2SP tlog-checkpoint at most once per Interval (1 s): the root at
// size N is computed from the O(log N) stored subtrees that cover the first
// N leaves (merkle.RangeNodes, merkle.ResumeTree), so signing costs the
// same at a thousand events as at a billion. An acknowledged event is
// therefore covered within about 1.1 s. Every checkpoint is stored in the
// append-only checkpoints table (migration 0002) and the latest is kept in
// memory for GET /v1/audit/checkpoint. On start the checkpointer signs at
// once if the log grew past the last checkpoint (after a crash), and Stop
// signs a last one, so a cleanly stopped server leaves its whole log
// signed.
//
// It never signs a fork. On start it opens the last stored checkpoint with
// its key and checks the stored tree still has that root; before every new
// signature it proves, from the stored nodes, that the new tree extends the
// last signed one (an RFC 6962 consistency proof, verified). If the stored
// log is shorter than what was signed, disagrees with it, or the stored
// checkpoint does not open with the key, the checkpointer refuses for good:
// it logs the reason at error level, sets stigaudit_checkpoint_refusing to
// 1, and GET /readyz answers 503 with the reason. Serving reads continues;
// an operator runs `stigaudit verify --db` to locate the damage. Several
// signers on one database (a server and `stigaudit export`) are safe: each
// insert runs in a write transaction that first checks the stored latest
// checkpoint is consistent with the new one, and the table only accepts
// growing sizes.
//
// # Proofs and routes
//
// A Prover answers inclusion and consistency proofs with one read of the
// O(log n) nodes they need (the leaf's own hash rides in the same read). It
// only answers for sizes up to the latest signed checkpoint, so every proof
// leads to a root a client can get signed. Routes registers, behind the
// API's authentication and the read permission:
//
//	GET /v1/audit/checkpoint                      the latest signed note, text/plain
//	GET /v1/audit/proof/inclusion?seq=S[&size=N]  {"seq","tree_size","leaf_hash","hashes":[hex...]}
//	GET /v1/audit/proof/consistency?from=M[&to=N] {"from","to","hashes":[hex...]}
//
// size and to default to the latest checkpoint's size. Answers:
//
//   - 400 invalid_parameter: a parameter missing, unknown, repeated, empty
//     or not a decimal integer; size 0; size or to beyond the latest signed
//     checkpoint (nothing was signed there); from > to.
//   - 404 not_found: seq >= size — the tree has no such leaf, typically an
//     event newer than the checkpoint, covered within about a second; and an
//     event the key may not read (a read key its own entity_uri, an
//     audit.read key its tenant, admin any), answered like a missing one.
//     Hashes of other tenants' leaves inside a proof are fine: they reveal
//     nothing about the events.
package tlog
