// Package ocsf renders audit events as Open Cybersecurity Schema Framework
// (OCSF) records, for SIEMs that ingest OCSF (docs/operations.md#siem-formats).
//
// Every catalogue type maps to one OCSF class and activity through Table, a
// committed data table; an operator's catalogue type maps to the class and
// activity it declares (Encoder.WithCatalogue), or to Default, API
// Activity / Other. An Encoder appends one record as a JSON object, without
// reflection:
//
//	enc := ocsf.NewEncoder("stigaudit/local")
//	line := enc.AppendRecord(nil, &e, nil)
//
// A record keeps what is needed to trace it back to the log and verify it:
// metadata.uid is the event's id, metadata.log_name the log's origin, and
// unmapped holds the seq, the leaf hash, the tenant and every event field
// OCSF has no attribute for (source, scope, hlc, attested_key_id, detail),
// plus the inclusion proof of a filtered export.
//
// The package is pure data and formatting; it reads nothing but the build
// information of the binary (for metadata.product.version).
package ocsf
