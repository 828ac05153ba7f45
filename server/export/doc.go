// Package export streams the audit log out in a form a third party can
// verify offline: every exported event with its leaf hash, and a signed
// checkpoint that covers them (docs/tamper-evidence.md#checkpoints, docs/api.md, docs/operations.md#commands-and-configuration).
//
// Write reads the selected events oldest first, one page at a time (memory
// does not grow with the log), and hands each to a Format: NDJSON (below),
// CSV, or OCSF (one server/ocsf record per line, then the NDJSON
// checkpoint line; docs/operations.md#ocsf).
//
// # NDJSON
//
// One line per event: the RFC 8785 canonical form of the event object
// extended with "seq" and "leaf_hash" — that is, the canonical JSON of the
// extended object, members still sorted, so "leaf_hash" sits between "id"
// and "oidc_sub" and "seq" between "scope" and "source":
//
//	{"entity_uri":"urn:alice","event_type":"fact_read","id":"…","leaf_hash":"<hex>","outcome":"success","seq":0,"source":"","tenant_id":"acme","ts":"2026-05-03T12:00:00.123456Z"}
//
// Removing "seq" and "leaf_hash" gives back exactly the canonical bytes
// whose SHA-256 (after a 0x00 byte) is the leaf hash, so any JCS
// implementation can check a line. The last line is the checkpoint:
//
//	{"checkpoint":"stigaudit/local\n1234\n<base64 root>\n\n— stigaudit/local <base64 sig>\n"}
//
// A complete export holds every event with seq below the checkpoint's size,
// so a verifier rebuilds the whole tree and compares its root with the
// signed one. A filtered export (any filter, or a resumed export that starts
// after seq 0) holds a selection: each line then also carries "proof", the
// event's inclusion proof in the checkpoint's tree, in canonical form
//
//	"proof":{"hashes":["<hex>",...],"leaf_hash":"<hex>","seq":5,"tree_size":1234}
//
// and the checkpoint line says {"checkpoint":"…","filtered":true}. A
// filtered export proves that each event it holds is in the signed log; it
// cannot prove that it holds every event matching the filter.
//
// Reader reads the format back for `stigaudit verify --ndjson`: it parses
// each line with event.ParseEvent (after cutting out "proof"), keeps one
// line in memory, and names the line of any malformed input.
//
// # Which checkpoint
//
// The caller chooses the checkpoint (Options.Checkpoint and Size); the
// export holds only events below its size. `stigaudit export` first signs a
// checkpoint of the current log with the data directory's key (a
// tlog.Checkpointer Sync, which never signs a fork), so the export covers
// every event committed when it starts; events committed during the export
// are left for the next one. Without the key it uses the latest stored
// checkpoint.
package export
