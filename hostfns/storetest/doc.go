// Package storetest checks that a hostfns.Store keeps the Store contract.
//
// Run is one conformance suite that every store passes — the in-memory one,
// SQLite, and PostgreSQL later — so the stores cannot drift apart in the
// behaviour callers rely on: contiguous seqs from 0, atomic batches,
// idempotent re-sends and id conflicts, every Query filter, keyset paging
// that visits each matching event exactly once while appends continue, and
// concurrent appends. Stores that also serve Merkle tree nodes
// (hostfns.TreeReader) have those checked against a root recomputed from
// the leaves with the naive RFC 6962 definition.
//
//	func TestConformance(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) hostfns.Store {
//			s := memstore.New()
//			t.Cleanup(func() { s.Close() })
//			return s
//		})
//	}
//
// The package also gives callers of a Store what they need to test failure
// paths: Faulty wraps a store and fails chosen Appends, either without
// persisting anything or after persisting (the answer was lost), and
// NewEvent builds deterministic storable events without the core's builder.
package storetest
